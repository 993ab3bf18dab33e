package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func key(name string) LockKey { return LockKey{Org: "acme", Name: LockName(name)} }

func ptr(s string) *string { return &s }

func TestAcquireFreeLockIssuesNextToken(t *testing.T) {
	l, err := Lock{}.Acquire(key("a"), AcquireRequest{Holder: "user:alice", TTL: time.Minute, Nonce: "n1", Metadata: ptr("m")}, t0, 41)
	if err != nil {
		t.Fatal(err)
	}
	if l.Token != 42 || l.Holder != "user:alice" || !l.ExpiresAt.Equal(t0.Add(time.Minute)) || l.Metadata != "m" {
		t.Fatalf("unexpected lock %+v", l)
	}
	if tok, ok := l.Lease.Token(); !ok || tok != 42 {
		t.Fatalf("lease %q does not embed token 42", l.Lease)
	}
}

func TestAcquireTransitions(t *testing.T) {
	held, _ := Lock{}.Acquire(key("a"), AcquireRequest{Holder: "user:alice/owner:host-a", TTL: time.Minute, Nonce: "n"}, t0, 0)
	cases := []struct {
		name      string
		cur       Lock
		holder    Holder
		ttl       time.Duration
		now       time.Time
		wantErr   error
		wantToken FencingToken
		wantExp   time.Time
	}{
		{"other holder while held", held, "user:bob", time.Minute, t0.Add(time.Second), ErrLockHeld, 0, time.Time{}},
		{"other holder at expiry instant gets it", held, "user:bob", time.Minute, t0.Add(time.Minute), nil, 6, t0.Add(2 * time.Minute)},
		{"same user, same owner extends", held, "user:alice/owner:host-a", 2 * time.Minute, t0.Add(time.Second), nil, 1, t0.Add(time.Second + 2*time.Minute)},
		{"same user, same owner never shortens", held, "user:alice/owner:host-a", time.Second, t0.Add(time.Second), nil, 1, t0.Add(time.Minute)},
		{"same user without owner is refused", held, "user:alice", time.Minute, t0.Add(time.Second), ErrLockHeld, 0, time.Time{}},
		{"same user, other owner is refused", held, "user:alice/owner:host-b", time.Minute, t0.Add(time.Second), ErrLockHeld, 0, time.Time{}},
		{"other user, same owner is refused", held, "user:bob/owner:host-a", time.Minute, t0.Add(time.Second), ErrLockHeld, 0, time.Time{}},
		{"same holder after expiry gets a new grant", held, "user:alice/owner:host-a", time.Minute, t0.Add(2 * time.Minute), nil, 6, t0.Add(3 * time.Minute)},
		{"ttl too small", Lock{}, "user:bob", 0, t0, errInvalidTTL, 0, time.Time{}},
		{"ttl too large", Lock{}, "user:bob", time.Hour + time.Second, t0, errInvalidTTL, 0, time.Time{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.cur.Acquire(key("a"), AcquireRequest{Holder: c.holder, TTL: c.ttl, Nonce: "m"}, c.now, 5)
			if c.wantErr != nil {
				if !errors.Is(err, c.wantErr) {
					t.Fatalf("err = %v, want %v", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Token != c.wantToken || !got.ExpiresAt.Equal(c.wantExp) {
				t.Fatalf("token %d exp %v, want %d %v", got.Token, got.ExpiresAt, c.wantToken, c.wantExp)
			}
		})
	}
}

func TestLockHeldErrorCarriesExpiry(t *testing.T) {
	held, _ := Lock{}.Acquire(key("a"), AcquireRequest{Holder: "user:alice", TTL: time.Minute, Nonce: "n"}, t0, 0)
	_, err := held.Acquire(key("a"), AcquireRequest{Holder: "user:bob", TTL: time.Minute}, t0, 1)
	var he *LockHeldError
	if !errors.As(err, &he) || !he.ExpiresAt.Equal(t0.Add(time.Minute)) || KindOf(err) != KindConflict {
		t.Fatalf("got %v", err)
	}
}

func TestMetadataLimit(t *testing.T) {
	big := string(make([]byte, MaxMetadataSize+1))
	if _, err := (Lock{}).Acquire(key("a"), AcquireRequest{Holder: "h", TTL: time.Minute, Metadata: &big}, t0, 0); CodeOf(err) != "invalid_metadata" {
		t.Fatalf("err = %v", err)
	}
}

func TestReleaseAndRenew(t *testing.T) {
	held, _ := Lock{}.Acquire(key("a"), AcquireRequest{Holder: "user:alice/owner:host-a", TTL: time.Minute, Nonce: "n"}, t0, 0)
	cases := []struct {
		name  string
		cur   Lock
		lease LeaseID
		now   time.Time
		want  error
	}{
		{"current lease", held, held.Lease, t0.Add(time.Second), nil},
		{"other issued lease while held", held, NewLeaseID(9, "x"), t0.Add(time.Second), ErrLeaseNotCurrent},
		{"garbage lease while held", held, "nope", t0.Add(time.Second), ErrLeaseNotCurrent},
		{"expired lease is never resurrected", held, held.Lease, t0.Add(time.Minute), ErrLeaseNotCurrent},
		{"issued lease, lock free", Lock{}, held.Lease, t0, ErrLeaseNotCurrent},
		{"garbage lease, lock free", Lock{}, "nope", t0, ErrLockNotFound},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.cur.Release(c.lease, c.now); !errors.Is(err, c.want) && !(err == nil && c.want == nil) {
				t.Fatalf("Release err = %v, want %v", err, c.want)
			}
			got, err := c.cur.Renew(c.lease, 30*time.Second, c.now)
			if c.want != nil {
				if !errors.Is(err, c.want) {
					t.Fatalf("Renew err = %v, want %v", err, c.want)
				}
				return
			}
			if err != nil || !got.ExpiresAt.Equal(c.now.Add(30*time.Second)) || got.Token != held.Token {
				t.Fatalf("Renew = %+v, %v", got, err)
			}
		})
	}
}

func TestLeaseIDToken(t *testing.T) {
	cases := map[LeaseID]bool{
		NewLeaseID(7, "abcd"): true, "L7-": false, "L0-ab": false, "X7-ab": false,
		"L-ab": false, "Lx-ab": false, "L18446744073709551616-a": false,
	}
	for id, ok := range cases {
		if _, got := id.Token(); got != ok {
			t.Errorf("%q.Token() ok = %v, want %v", id, got, ok)
		}
	}
}

func TestFencingTokenOrder(t *testing.T) {
	var a FencingToken = 3
	if !a.Less(a.Next()) || a.Next().Less(a) || a.Less(a) {
		t.Fatal("token order is wrong")
	}
}

var errInvalidTTL = Invalid("invalid_ttl", "")

// checkRecordRule requires err to be nil when want is "", and otherwise to
// mention want and to carry no Kind, so that storage reports a broken
// record as an internal error rather than as the client's fault.
func checkRecordRule(t *testing.T, err error, want string) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("Validate() = %v, want nil", err)
	case want == "":
	case err == nil:
		t.Fatalf("Validate() = nil, want an error mentioning %q", want)
	case !strings.Contains(err.Error(), want):
		t.Fatalf("Validate() = %q, want it to mention %q", err, want)
	case KindOf(err) != KindInternal || CodeOf(err) != "internal":
		t.Fatalf("Validate() kind %v, code %q; want KindInternal, internal", KindOf(err), CodeOf(err))
	}
}

func TestLockValidate(t *testing.T) {
	valid := Lock{Key: key("db/primary"), Holder: "session:s1", Lease: NewLeaseID(7, "n"), Token: 7,
		Ephemeral: true, LockDelay: MaxLockDelay}
	cases := []struct {
		name string
		edit func(l *Lock)
		want string // "" for valid
	}{
		{"valid", func(*Lock) {}, ""},
		{"user holder, no delay", func(l *Lock) { l.Holder, l.Ephemeral, l.LockDelay = "user:alice", false, 0 }, ""},
		{"empty org", func(l *Lock) { l.Key.Org = "" }, "org"},
		{"invalid org", func(l *Lock) { l.Key.Org = "ac me" }, "org"},
		{"invalid name", func(l *Lock) { l.Key.Name = "a//b" }, "lock name"},
		{"empty holder", func(l *Lock) { l.Holder = "" }, "holder is empty"},
		{"zero token", func(l *Lock) { l.Token, l.Lease = 0, "L0-n" }, "token is zero"},
		{"lease of another token", func(l *Lock) { l.Lease = NewLeaseID(3, "n") }, "does not embed"},
		{"lease not ours", func(l *Lock) { l.Lease = "lease-7" }, "does not embed"},
		{"negative delay", func(l *Lock) { l.LockDelay = -time.Millisecond }, "lock delay"},
		{"delay too long", func(l *Lock) { l.LockDelay = MaxLockDelay + time.Millisecond }, "lock delay"},
		{"ephemeral user lock", func(l *Lock) { l.Holder = "user:alice" }, "not a session"},
		{"ephemeral empty session", func(l *Lock) { l.Holder = "session:" }, "names no session"},
		{"owner holder", func(l *Lock) { l.Holder, l.Ephemeral = "user:alice/owner:host-a:4711", false }, ""},
		{"session holder with user", func(l *Lock) { l.Holder = "user:alice/session:s1" }, ""},
		{"holder without user", func(l *Lock) { l.Holder = "user:" }, "names no user"},
		{"holder with a bad owner", func(l *Lock) { l.Holder, l.Ephemeral = "user:alice/owner:", false }, "invalid owner"},
		{"holder of no known form", func(l *Lock) { l.Holder, l.Ephemeral = "principal:alice", false }, "names no user"},
		{"holder with an unknown part", func(l *Lock) { l.Holder, l.Ephemeral = "user:alice/team:x", false }, "not a holder"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			l := valid
			c.edit(&l)
			checkRecordRule(t, l.Validate(), c.want)
		})
	}
}
