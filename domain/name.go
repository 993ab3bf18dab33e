package domain

import (
	"fmt"
	"strings"
)

// Limits on lock names. Names are '/'-separated paths so that teams can give
// locks a hierarchy (db/primary, jobs/nightly/report) and list by prefix.
const (
	MaxNameBytes      = 256
	MaxComponentBytes = 64
)

// LockName is a validated lock name, unique within an org.
type LockName string

// ParseLockName validates s as a lock name: 1-256 bytes of '/'-separated
// components, each 1-64 bytes of [A-Za-z0-9._-], none empty, "." or "..".
// Returns a KindInvalid error with code "invalid_name" otherwise.
func ParseLockName(s string) (LockName, error) {
	if err := checkPath(s, "lock name"); err != nil {
		return "", err
	}
	return LockName(s), nil
}

// checkPath applies the shared path grammar of lock names and prefixes.
func checkPath(s, what string) error {
	if len(s) == 0 || len(s) > MaxNameBytes {
		return Invalid("invalid_name", fmt.Sprintf("%s must be 1-%d bytes, got %d", what, MaxNameBytes, len(s)))
	}
	for c := range strings.SplitSeq(s, "/") {
		if err := checkComponent(c); err != nil {
			return Invalid("invalid_name", fmt.Sprintf("%s %q: %s", what, s, err.Error()))
		}
	}
	return nil
}

// checkComponent validates one path component.
func checkComponent(c string) error {
	switch {
	case c == "":
		return fmt.Errorf("empty component")
	case c == "." || c == "..":
		return fmt.Errorf("component %q is not allowed", c)
	case len(c) > MaxComponentBytes:
		return fmt.Errorf("component longer than %d bytes", MaxComponentBytes)
	}
	for i := 0; i < len(c); i++ {
		if !componentByte(c[i]) {
			return fmt.Errorf("byte %q is not one of [A-Za-z0-9._-]", c[i])
		}
	}
	return nil
}

func componentByte(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' ||
		b == '.' || b == '_' || b == '-'
}

// Prefix selects lock names component by component: "db" selects "db" and
// "db/x" but not "dbx"; "db/" selects only names below "db". The zero Prefix
// selects every name.
type Prefix struct {
	base     string
	strictly bool
}

// ParsePrefix validates a listing prefix. An empty string selects everything;
// a trailing '/' restricts the selection to names strictly below the prefix.
func ParsePrefix(s string) (Prefix, error) {
	if s == "" {
		return Prefix{}, nil
	}
	p := Prefix{base: s}
	if strings.HasSuffix(s, "/") {
		p = Prefix{base: strings.TrimSuffix(s, "/"), strictly: true}
	}
	if err := checkPath(p.base, "prefix"); err != nil {
		return Prefix{}, err
	}
	return p, nil
}

// String returns the form ParsePrefix accepts for p: "" for the zero
// Prefix, and a trailing '/' when p selects only names strictly below it.
// Storage keeps a prefix as this string.
func (p Prefix) String() string {
	if p.strictly {
		return p.base + "/"
	}
	return p.base
}

// Start is the smallest name the prefix can select, for ordered scans.
func (p Prefix) Start() string { return p.base }

// Matches reports whether name is selected by p.
func (p Prefix) Matches(name LockName) bool {
	n := string(name)
	if p.base == "" {
		return true
	}
	if n == p.base {
		return !p.strictly
	}
	return strings.HasPrefix(n, p.base+"/")
}

// Exhausted reports whether no name at or after name (in byte order) can
// match p, which lets an ordered scan stop early.
func (p Prefix) Exhausted(name LockName) bool {
	return p.base != "" && !strings.HasPrefix(string(name), p.base)
}
