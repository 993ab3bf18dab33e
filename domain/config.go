package domain

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// MaxConfigValueBytes is the largest config value accepted: its JSON text,
// without insignificant whitespace.
const MaxConfigValueBytes = 256 << 10

// MaxConfigDescription is the longest description of a config value, in
// bytes of UTF-8.
const MaxConfigDescription = 1024

// DefaultConfigHistory is how many versions of each config key are kept
// when the server is not told otherwise.
const DefaultConfigHistory = 100

// ConfigEntry is one version of a config key: a value written, or its
// deletion. Keys follow the lock-name rules and are unique within an org
// (LockKey is the org and the key). Versions of a key grow by one per
// write, deletions included, so a write after a deletion goes on from the
// deletion's version. A key with no record starts one above its org's
// version floor (the highest version of a key purged in the org; 0 if
// none), so a purged key written again never reuses a version.
type ConfigEntry struct {
	Key     LockKey
	Version uint64
	// Value is the JSON text of the value, compact; nil for a deletion.
	Value       []byte
	Description string
	Deleted     bool
	At          time.Time
	// By is the user that wrote it (the principal's user name, without
	// its org).
	By string
	// checked is set when Value is a ConfigText: JSON already, so Validate
	// does not read it again (for a 256 KiB value that read costs the
	// single writer a millisecond per commit).
	checked bool
}

// ConfigText is a config value that ParseConfigValue checked: compact JSON
// of at most MaxConfigValueBytes.
type ConfigText struct{ b []byte }

// Bytes returns the JSON text (not a copy; it is not to be changed).
func (t ConfigText) Bytes() []byte { return t.b }

// WithValue returns e holding the value t.
func (e ConfigEntry) WithValue(t ConfigText) ConfigEntry {
	e.Value, e.checked = t.b, true
	return e
}

// Exists reports whether e is a record at all (the zero entry is none).
func (e ConfigEntry) Exists() bool { return e.Version != 0 }

// Live reports whether e holds a value: it exists and is no deletion.
func (e ConfigEntry) Live() bool { return e.Version != 0 && !e.Deleted }

// Size is what the value counts against the org's config_bytes quota.
func (e ConfigEntry) Size() int {
	if !e.Live() {
		return 0
	}
	return len(e.Value)
}

// Validate reports the first rule that e breaks: a valid org and key, a
// version from 1 to math.MaxInt64, for a value valid compact-or-not JSON
// of at most MaxConfigValueBytes (a value set by WithValue is JSON), no
// value for a deletion, and a description of at most MaxConfigDescription
// bytes. Storage adapters check every entry they store or load with it;
// the error has no Kind.
func (e ConfigEntry) Validate() error {
	if _, err := ParseOrgID(string(e.Key.Org)); err != nil {
		return kindless(err)
	}
	if _, err := ParseLockName(string(e.Key.Name)); err != nil {
		return kindless(err)
	}
	if e.Version == 0 || e.Version > 1<<63-1 {
		return fmt.Errorf("config %s version %d is out of range", e.Key.Name, e.Version)
	}
	if len(e.Description) > MaxConfigDescription {
		return fmt.Errorf("config %s description is longer than %d bytes", e.Key.Name, MaxConfigDescription)
	}
	if e.Deleted {
		if e.Value != nil {
			return fmt.Errorf("config %s deletion has a value", e.Key.Name)
		}
		return nil
	}
	if len(e.Value) > MaxConfigValueBytes {
		return fmt.Errorf("config %s value is %d bytes, above %d", e.Key.Name, len(e.Value), MaxConfigValueBytes)
	}
	if !e.checked && !json.Valid(e.Value) {
		return fmt.Errorf("config %s value is not JSON", e.Key.Name)
	}
	return nil
}

// ParseConfigValue checks a value as a client sent it and returns its
// compact JSON text, which is what is stored and counted: at most
// MaxConfigValueBytes, else a *ValueTooLargeError. A missing value or one
// that is not JSON is ErrInvalidConfigValue; null is a value like any other.
// A value without a whitespace byte is compact already and is returned as
// it is (raw itself): checking JSON is faster than compacting it, which
// matters for the large values that programs send.
func ParseConfigValue(raw []byte) (ConfigText, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return ConfigText{}, ErrInvalidConfigValue
	}
	if !hasWhitespace(raw) {
		if !json.Valid(raw) {
			return ConfigText{}, ErrInvalidConfigValue
		}
		if len(raw) > MaxConfigValueBytes {
			return ConfigText{}, &ValueTooLargeError{Size: len(raw)}
		}
		return ConfigText{raw}, nil
	}
	var b bytes.Buffer
	b.Grow(min(len(raw), MaxConfigValueBytes+1))
	if err := json.Compact(&b, raw); err != nil {
		return ConfigText{}, ErrInvalidConfigValue
	}
	if b.Len() > MaxConfigValueBytes {
		return ConfigText{}, &ValueTooLargeError{Size: b.Len()}
	}
	return ConfigText{b.Bytes()}, nil
}

// hasWhitespace reports whether b holds one of the bytes JSON allows as
// whitespace, inside a string or not.
func hasWhitespace(b []byte) bool {
	return bytes.IndexByte(b, ' ') >= 0 || bytes.IndexByte(b, '\n') >= 0 ||
		bytes.IndexByte(b, '\t') >= 0 || bytes.IndexByte(b, '\r') >= 0
}

// CheckConfigDescription validates a description.
func CheckConfigDescription(s string) error {
	if len(s) > MaxConfigDescription {
		return Invalid("invalid_description", "description must be at most "+strconv.Itoa(MaxConfigDescription)+" bytes")
	}
	return nil
}

// Fence makes a config write conditional on a lock: it succeeds only while
// Token is the fencing token of the current, unexpired grant of the lock
// Lock of the same org. A leader that lost its lock cannot overwrite what
// its successor wrote.
type Fence struct {
	Lock  LockName
	Token FencingToken
}

// Admits reports whether l, the fence lock's record as a decision sees it,
// lets a write with the fence through at now.
func (f Fence) Admits(l Lock, now time.Time) bool {
	return l.HeldAt(now) && l.Token == f.Token
}

// ConfigWrite is what a client asks of a write or a deletion: its
// preconditions. Expected, when set, is the version the key must have now
// (0: the key must be absent); IfAbsent creates only if the key is absent;
// Fence, when set, must admit the write.
type ConfigWrite struct {
	Expected *uint64
	IfAbsent bool
	Fence    *Fence
}

// Check decides the preconditions of w against cur, the key's newest
// record (the zero entry if none), at now, with fenceLock the fence lock's
// record (ignored without a fence). Returns ErrVersionConflict or
// ErrFenceRejected.
func (w ConfigWrite) Check(cur ConfigEntry, fenceLock Lock, now time.Time) error {
	var have uint64
	if cur.Live() {
		have = cur.Version
	}
	if w.IfAbsent && cur.Live() {
		return &VersionConflictError{Key: cur.Key.Name, Current: have}
	}
	if w.Expected != nil && *w.Expected != have {
		return &VersionConflictError{Key: cur.Key.Name, Current: have}
	}
	if w.Fence != nil && !w.Fence.Admits(fenceLock, now) {
		return ErrFenceRejected
	}
	return nil
}

// Config errors a client can cause.
var (
	ErrConfigNotFound = &Error{Kind: KindNotFound, Code: "config_not_found",
		Msg: "no config value with this key in your org"}
	ErrConfigVersionNotFound = &Error{Kind: KindNotFound, Code: "config_version_not_found",
		Msg: "this version of the key is not kept (never written, trimmed from the history, or a deletion)"}
	ErrVersionConflict = &Error{Kind: KindPrecondition, Code: "version_conflict",
		Msg: "the key's current version is not the one the request expects"}
	ErrFenceRejected = &Error{Kind: KindConflict, Code: "fence_rejected",
		Msg: "the fence's fencing token is not the current holder's of its lock (released, expired or taken over)"}
	ErrValueTooLarge = &Error{Kind: KindTooLarge, Code: "value_too_large",
		Msg: "the value is larger than 262144 bytes of JSON"}
	ErrInvalidConfigValue = Invalid("invalid_value", "value must be a JSON value")
)

// VersionConflictError says which version a key has now. It matches
// ErrVersionConflict.
type VersionConflictError struct {
	Key     LockName
	Current uint64 // 0: the key is absent
}

// Error returns a message naming the current version.
func (e *VersionConflictError) Error() string {
	if e.Current == 0 {
		return "config " + string(e.Key) + " does not exist"
	}
	return "config " + string(e.Key) + " is at version " + strconv.FormatUint(e.Current, 10)
}

// Unwrap makes VersionConflictError match ErrVersionConflict.
func (e *VersionConflictError) Unwrap() error { return ErrVersionConflict }

// ValueTooLargeError gives the size of a refused value. It matches
// ErrValueTooLarge.
type ValueTooLargeError struct{ Size int }

// Error returns a message with the sizes.
func (e *ValueTooLargeError) Error() string {
	return "the value is " + strconv.Itoa(e.Size) + " bytes of JSON; at most " + strconv.Itoa(MaxConfigValueBytes) + " are allowed"
}

// Unwrap makes ValueTooLargeError match ErrValueTooLarge.
func (e *ValueTooLargeError) Unwrap() error { return ErrValueTooLarge }

// ConfigSaved stores a new version of a config key (a value) and, when
// TrimThrough is not 0, drops the key's versions up to TrimThrough in the
// same commit. The writer decides the trim (the per-key count and the
// org's history budget); TrimThrough is below Entry.Version, so the new
// version is always kept.
type ConfigSaved struct {
	Entry       ConfigEntry
	TrimThrough uint64
}

// ConfigDeleted stores the deletion of a config key as its newest version
// (Entry.Deleted), dropping the key's versions up to TrimThrough as
// ConfigSaved does.
type ConfigDeleted struct {
	Entry       ConfigEntry
	TrimThrough uint64
}

// ConfigPurged forgets a deleted config key: every stored version of Key
// goes, and its org's version floor is raised to Floor (never lowered).
// Floor is at least the key's newest version, so a key written again
// after its purge starts above every version it had before.
type ConfigPurged struct {
	Key   LockKey
	Floor uint64
}

// ConfigFloor is an org's version floor: the highest version of any config
// key purged in the org. A key without a record starts at Version+1.
type ConfigFloor struct {
	Org     OrgID
	Version uint64
}

// ConfigSizes are the sizes of the kept versions of one config key, as
// storage restores them: Sizes[i] is the value size in bytes of version
// First+i (0 for a deletion), and the last is the key's newest version.
// Kept versions of a key are contiguous, since trims drop its oldest.
type ConfigSizes struct {
	Key   LockKey
	First uint64
	Sizes []uint32
}

// Validate reports the first rule c breaks: a valid org and key, and a
// floor from 1 to math.MaxInt64. Storage adapters check every purge with
// it; the error has no Kind.
func (c ConfigPurged) Validate() error {
	if _, err := ParseOrgID(string(c.Key.Org)); err != nil {
		return kindless(err)
	}
	if _, err := ParseLockName(string(c.Key.Name)); err != nil {
		return kindless(err)
	}
	if c.Floor == 0 || c.Floor > 1<<63-1 {
		return fmt.Errorf("config %s floor %d is out of range", c.Key.Name, c.Floor)
	}
	return nil
}

func (ConfigSaved) isChange()   {}
func (ConfigDeleted) isChange() {}
func (ConfigPurged) isChange()  {}
