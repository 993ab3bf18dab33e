package domain_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
)

func TestParseConfigValue(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{`{"a" : [1, 2]}`, `{"a":[1,2]}`, nil},
		{` null `, `null`, nil},
		{`"x"`, `"x"`, nil},
		{``, ``, domain.ErrInvalidConfigValue},
		{`   `, ``, domain.ErrInvalidConfigValue},
		{`{`, ``, domain.ErrInvalidConfigValue},
		// Compact already (no whitespace byte): checked, not rewritten.
		{`[1,{"a":true}]`, `[1,{"a":true}]`, nil},
		{`{"a":}`, ``, domain.ErrInvalidConfigValue},
		{`tru`, ``, domain.ErrInvalidConfigValue},
		{`1}`, ``, domain.ErrInvalidConfigValue},
		// Whitespace inside a string stays.
		{`[1, "a b\tc"]`, `[1,"a b\tc"]`, nil},
		{`"` + strings.Repeat("x", domain.MaxConfigValueBytes-2) + `"`, "max", nil},
		{`"` + strings.Repeat("x", domain.MaxConfigValueBytes-1) + `"`, ``, domain.ErrValueTooLarge},
		// Whitespace does not count.
		{`  "` + strings.Repeat("y", domain.MaxConfigValueBytes-2) + `"  `, "max", nil},
	} {
		got, err := domain.ParseConfigValue([]byte(tc.in))
		if !errors.Is(err, tc.err) || tc.err == nil && err != nil {
			t.Errorf("ParseConfigValue(%.20q) error %v, want %v", tc.in, err, tc.err)
			continue
		}
		if tc.want == "max" {
			if len(got.Bytes()) != domain.MaxConfigValueBytes {
				t.Errorf("ParseConfigValue(%.20q) = %d bytes", tc.in, len(got.Bytes()))
			}
		} else if string(got.Bytes()) != tc.want {
			t.Errorf("ParseConfigValue(%.20q) = %s, want %s", tc.in, got.Bytes(), tc.want)
		}
	}
	var big *domain.ValueTooLargeError
	if _, err := domain.ParseConfigValue([]byte(`"` + strings.Repeat("x", domain.MaxConfigValueBytes) + `"`)); !errors.As(err, &big) || big.Size != domain.MaxConfigValueBytes+2 {
		t.Errorf("too large: %v", err)
	}
}

func TestConfigWriteCheck(t *testing.T) {
	now := time.Unix(1000, 0)
	live := domain.ConfigEntry{Key: domain.LockKey{Org: "acme", Name: "k"}, Version: 3, Value: []byte(`1`)}
	gone := domain.ConfigEntry{Key: live.Key, Version: 4, Deleted: true}
	held := domain.Lock{Key: domain.LockKey{Org: "acme", Name: "l"}, Lease: "L7-x", Token: 7, ExpiresAt: now.Add(time.Second)}
	v := func(n uint64) *uint64 { return &n }
	fence := func(tok domain.FencingToken) *domain.Fence { return &domain.Fence{Lock: "l", Token: tok} }
	for _, tc := range []struct {
		name string
		w    domain.ConfigWrite
		cur  domain.ConfigEntry
		lock domain.Lock
		err  error
	}{
		{"no condition", domain.ConfigWrite{}, live, domain.Lock{}, nil},
		{"expected matches", domain.ConfigWrite{Expected: v(3)}, live, domain.Lock{}, nil},
		{"expected differs", domain.ConfigWrite{Expected: v(2)}, live, domain.Lock{}, domain.ErrVersionConflict},
		{"expected 0, absent", domain.ConfigWrite{Expected: v(0)}, domain.ConfigEntry{}, domain.Lock{}, nil},
		{"expected 0, deleted", domain.ConfigWrite{Expected: v(0)}, gone, domain.Lock{}, nil},
		{"expected the deletion's version", domain.ConfigWrite{Expected: v(4)}, gone, domain.Lock{}, domain.ErrVersionConflict},
		{"if absent, present", domain.ConfigWrite{IfAbsent: true}, live, domain.Lock{}, domain.ErrVersionConflict},
		{"if absent, deleted", domain.ConfigWrite{IfAbsent: true}, gone, domain.Lock{}, nil},
		{"fence held", domain.ConfigWrite{Fence: fence(7)}, live, held, nil},
		{"fence older token", domain.ConfigWrite{Fence: fence(6)}, live, held, domain.ErrFenceRejected},
		{"fence free lock", domain.ConfigWrite{Fence: fence(7)}, live, domain.Lock{}, domain.ErrFenceRejected},
		{"fence expired", domain.ConfigWrite{Fence: fence(7)}, live, func() domain.Lock { l := held; l.ExpiresAt = now; return l }(), domain.ErrFenceRejected},
		{"version before fence", domain.ConfigWrite{Expected: v(1), Fence: fence(6)}, live, held, domain.ErrVersionConflict},
	} {
		if err := tc.w.Check(tc.cur, tc.lock, now); !errors.Is(err, tc.err) || tc.err == nil && err != nil {
			t.Errorf("%s: Check = %v, want %v", tc.name, err, tc.err)
		}
	}
}

func TestConfigEventKinds(t *testing.T) {
	for _, k := range domain.ConfigEventKinds {
		if !k.Published() || k.Family() != "config" {
			t.Errorf("%s: published %v, family %q", k, k.Published(), k.Family())
		}
	}
	if domain.EventLockAcquired.Family() != "lock" {
		t.Error("lock family")
	}
	ps, err := domain.CheckEventPatterns([]string{"config.*", "config.updated"})
	if err != nil || len(ps) != 2 {
		t.Fatalf("CheckEventPatterns(config) = %v, %v", ps, err)
	}
	w := domain.Webhook{Org: "acme", Events: []string{"config.*"}}
	ev := domain.Event{Seq: 1, Org: "acme", Kind: domain.EventConfigDeleted, Name: "app/x", Version: 2, By: "alice"}
	if !w.Wants(ev) {
		t.Error("config.* does not want config.deleted")
	}
	ev.Kind = domain.EventLockAcquired
	if w.Wants(ev) {
		t.Error("config.* wants lock.acquired")
	}
	if _, err := domain.CheckEventPatterns([]string{"session.*"}); err == nil {
		t.Error("session.* accepted (session events are not published)")
	}
}

// TestConfigEntryValidateValue: an entry built from a parsed value is
// valid; one whose value bytes are set directly (as storage adapters do
// when they load) is read for JSON.
func TestConfigEntryValidateValue(t *testing.T) {
	key := domain.LockKey{Org: "acme", Name: "k"}
	text, err := domain.ParseConfigValue([]byte(`{"a": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	e := domain.ConfigEntry{Key: key, Version: 1}.WithValue(text)
	if err := e.Validate(); err != nil || string(e.Value) != `{"a":1}` {
		t.Errorf("parsed: %s, %v", e.Value, err)
	}
	if err := (domain.ConfigEntry{Key: key, Version: 1, Value: []byte(`{"a":1}`)}).Validate(); err != nil {
		t.Errorf("loaded JSON: %v", err)
	}
	if err := (domain.ConfigEntry{Key: key, Version: 1, Value: []byte(`{"a":`)}).Validate(); err == nil {
		t.Error("loaded text that is not JSON passed")
	}
}
