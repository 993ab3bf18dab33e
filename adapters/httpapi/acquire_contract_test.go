package httpapi_test

import (
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The contract of POST /locks/{name}/acquire: the grant's shape, the holder
// rule, lock_held, lock_delayed and the session errors. Time moves only
// with the fake clock.

// leaseKeys are the keys of every grant; a grant adds owner, session_id
// and ephemeral when they apply.
var leaseKeys = []string{"status", "name", "lease_id", "fencing_token", "expires_at", "metadata", "holder"}

// wantRetryAfter requires Retry-After to be the whole seconds from the
// server's now until at, rounded up, and at least 1.
func wantRetryAfter(t *testing.T, r *response, at, now time.Time) {
	t.Helper()
	if want := max(1, int(math.Ceil(at.Sub(now).Seconds()))); r.retryAfter() != want {
		t.Errorf("%v: Retry-After %q, want %d", r, r.header.Get("Retry-After"), want)
	}
}

func TestAcquireGrants(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	now := a.clock.Now()

	// Without a body: the default TTL, no metadata, a holder of its own.
	r := a.send(request{method: http.MethodPost, path: lockPath("db/primary", "/acquire"), token: aliceTok}).ok(t, http.StatusOK)
	r.keys(t, leaseKeys...)
	if r.str("status") != "acquired" || r.str("name") != "db/primary" || r.str("holder") != "acme/alice" ||
		r.str("metadata") != "" || r.num(t, "fencing_token") != 1 || !strings.HasPrefix(r.str("lease_id"), "L1-") ||
		!r.time(t, "expires_at").Equal(now.Add(time.Minute)) {
		t.Errorf("%v: want the first grant of db/primary for 60s", r)
	}

	// With an owner and metadata: the owner is shown.
	r = a.post(lockPath("acq/owned", "/acquire"), aliceTok, map[string]any{"ttl_seconds": 30, "metadata": "host-a", "owner": "host-a:4711"}).ok(t, http.StatusOK)
	r.keys(t, append(leaseKeys, "owner")...)
	if r.str("owner") != "host-a:4711" || r.str("metadata") != "host-a" || r.num(t, "fencing_token") != 2 ||
		!r.time(t, "expires_at").Equal(now.Add(30*time.Second)) {
		t.Errorf("%v: want an owned grant for 30s", r)
	}

	// With a session: the session is the holder; an ephemeral lock expires
	// with its session, whatever ttl_seconds says.
	s := a.openSession(t, aliceTok, 30)
	r = a.post(lockPath("acq/session", "/acquire"), aliceTok, withSession(s, map[string]any{"ttl_seconds": 20})).ok(t, http.StatusOK)
	r.keys(t, append(leaseKeys, "session_id")...)
	if r.str("session_id") != s.id || r.str("holder") != "acme/alice" || !r.time(t, "expires_at").Equal(now.Add(20*time.Second)) {
		t.Errorf("%v: want a grant to session %s for 20s", r, s.id)
	}
	r = a.post(lockPath("acq/ephemeral", "/acquire"), aliceTok, withSession(s, map[string]any{"ephemeral": true, "ttl_seconds": 3600})).ok(t, http.StatusOK)
	r.keys(t, append(leaseKeys, "session_id", "ephemeral")...)
	if r.obj["ephemeral"] != true || !r.time(t, "expires_at").Equal(s.expires) {
		t.Errorf("%v: want an ephemeral grant until the session's %s", r, s.expires)
	}

	// The limits themselves are accepted.
	for _, c := range []struct {
		name string
		ttl  int
	}{{"acq/ttl-min", 1}, {"acq/ttl-max", 3600}} {
		r := a.post(lockPath(c.name, "/acquire"), aliceTok, map[string]any{"ttl_seconds": c.ttl, "metadata": strings.Repeat("m", 1024)}).ok(t, http.StatusOK)
		if !r.time(t, "expires_at").Equal(now.Add(time.Duration(c.ttl)*time.Second)) || len(r.str("metadata")) != 1024 {
			t.Errorf("%v: want ttl %ds and 1024 bytes of metadata", r, c.ttl)
		}
	}
	// An empty object is no body; a charset parameter is fine.
	a.post(lockPath("acq/empty", "/acquire"), aliceTok, "{}").ok(t, http.StatusOK)
	r = a.send(request{method: http.MethodPost, path: lockPath("acq/charset", "/acquire"), token: aliceTok,
		body: `{"ttl_seconds":10}`, ctype: "application/json; charset=utf-8"}).ok(t, http.StatusOK)
	if r.num(t, "fencing_token") != 8 {
		t.Errorf("%v: want token 8, every grant the next token", r)
	}
}

// TestHolderRule: a second acquire of a held lock is refused for everyone,
// the taker's own principal included, unless it comes from the same
// session, or from the same user with the same owner: then it is the
// idempotent re-acquire (same lease and token, expiry extended, never
// shortened).
func TestHolderRule(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	owned := a.acquire(t, aliceTok, "cron/nightly", map[string]any{"ttl_seconds": 30, "owner": "host-a:4711", "metadata": "m1"})
	plain := a.acquire(t, aliceTok, "cron/plain", nil)
	s1, s2 := a.openSession(t, aliceTok, 60), a.openSession(t, aliceTok, 60)
	bySession := a.acquire(t, aliceTok, "cron/session", withSession(s1, map[string]any{"ttl_seconds": 40}))

	for _, c := range []struct {
		who   string
		token string
		body  map[string]any
		l     lease
	}{
		{"the same user without the owner", aliceTok, nil, owned},
		{"the same user with another owner", aliceTok, map[string]any{"owner": "host-b:1"}, owned},
		{"another user with the same owner", bobTok, map[string]any{"owner": "host-a:4711"}, owned},
		{"another user", bobTok, nil, owned},
		{"a session of the same user", aliceTok, withSession(s1, nil), owned},
		{"the taker of an owner-less lock", aliceTok, nil, plain},
		{"the taker of an owner-less lock, with an owner", aliceTok, map[string]any{"owner": "host-a:4711"}, plain},
		{"another session of the same user", aliceTok, withSession(s2, nil), bySession},
		{"the session's user without it", aliceTok, nil, bySession},
		{"another user of the org", bobTok, nil, bySession},
	} {
		t.Run(c.who, func(t *testing.T) {
			r := a.post(lockPath(c.l.name, "/acquire"), c.token, c.body).problem(t, http.StatusConflict, "lock_held").nowhere(t)
			r.keys(t, "title", "status", "code", "detail", "instance", "request_id", "expires_at")
			if !r.time(t, "expires_at").Equal(c.l.expires) {
				t.Errorf("%v: expires_at, want %s", r, c.l.expires)
			}
			wantRetryAfter(t, r, c.l.expires, a.clock.Now())
			if strings.Contains(string(r.raw), c.l.id) {
				t.Errorf("%v: shows the holder's lease", r)
			}
		})
	}
	a.wantHeld(t, bobTok, owned, "acme/alice", map[string]string{"owner": "host-a:4711"})
	a.wantHeld(t, bobTok, plain, "acme/alice", nil)
	a.wantHeld(t, bobTok, bySession, "acme/alice", map[string]string{"session_id": s1.id})

	// The same user with the same owner: the same lease and token; a
	// shorter TTL keeps the expiry, no metadata keeps the metadata.
	a.clock.Advance(10 * time.Second)
	r := a.post(lockPath(owned.name, "/acquire"), aliceTok, map[string]any{"ttl_seconds": 5, "owner": "host-a:4711"}).ok(t, http.StatusOK)
	r.keys(t, append(leaseKeys, "owner")...)
	if got := leaseOf(t, owned.name, r); got != owned || r.str("metadata") != "m1" || r.str("status") != "acquired" {
		t.Errorf("%v: want the same grant %+v with metadata m1", r, owned)
	}
	// A longer TTL extends it from now; new metadata replaces the old.
	r = a.post(lockPath(owned.name, "/acquire"), aliceTok, map[string]any{"ttl_seconds": 60, "owner": "host-a:4711", "metadata": "m2"}).ok(t, http.StatusOK)
	owned.expires = a.clock.Now().Add(time.Minute)
	if got := leaseOf(t, owned.name, r); got != owned || r.str("metadata") != "m2" {
		t.Errorf("%v: want %+v with metadata m2", r, owned)
	}
	a.wantHeld(t, bobTok, owned, "acme/alice", map[string]string{"owner": "host-a:4711"})

	// The same session: the same lease and token.
	r = a.post(lockPath(bySession.name, "/acquire"), aliceTok, withSession(s1, map[string]any{"ttl_seconds": 1})).ok(t, http.StatusOK)
	if got := leaseOf(t, bySession.name, r); got != bySession || r.str("session_id") != s1.id {
		t.Errorf("%v: want the same grant %+v", r, bySession)
	}
}

// TestLockDelay: a lock lost without a release cannot be taken by anyone,
// its former holder and owner included, until its lock delay has passed;
// GET shows it delayed with nothing of its holder. A release frees a lock
// at once.
func TestLockDelay(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "delay/x", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 5, "owner": "a"})
	a.clock.Advance(2 * time.Second)
	avail := l.expires.Add(5 * time.Second)

	for _, c := range []struct {
		who   string
		token string
		body  map[string]any
	}{
		{"another user", bobTok, nil},
		{"the former holder", aliceTok, nil},
		{"its owner", aliceTok, map[string]any{"owner": "a"}},
		{"an acquire without lock delay", bobTok, map[string]any{"lock_delay_seconds": 0}},
	} {
		r := a.post(lockPath(l.name, "/acquire"), c.token, c.body).problem(t, http.StatusLocked, "lock_delayed").nowhere(t)
		r.keys(t, "title", "status", "code", "detail", "instance", "request_id", "available_at")
		if !r.time(t, "available_at").Equal(avail) {
			t.Errorf("%s: %v: want available_at %s", c.who, r, avail)
		}
		wantRetryAfter(t, r, avail, a.clock.Now()) // 4 s on the server's clock
	}
	r := a.status(t, bobTok, l.name).keys(t, "name", "status", "available_at", "waiters")
	if r.str("status") != "delayed" || !r.time(t, "available_at").Equal(avail) || r.num(t, "waiters") != 0 {
		t.Errorf("%v: want delayed until %s", r, avail)
	}
	a.post(lockPath(l.name, "/renew"), aliceTok, map[string]any{"lease_id": l.id}).problem(t, http.StatusConflict, "lease_not_current").nowhere(t)
	a.post(lockPath(l.name, "/release"), aliceTok, map[string]any{"lease_id": l.id}).problem(t, http.StatusConflict, "lease_not_current")
	if r := a.get("/locks", aliceTok).ok(t, http.StatusOK); len(r.obj["locks"].([]any)) != 0 {
		t.Errorf("%v: a delayed lock is listed", r)
	}
	a.acquire(t, carolTok, l.name, nil) // another org's lock of that name
	a.sweep(t)                          // the sweep keeps it delayed
	a.post(lockPath(l.name, "/acquire"), bobTok, nil).problem(t, http.StatusLocked, "lock_delayed")

	a.clock.Advance(avail.Sub(a.clock.Now()))
	if b := a.acquire(t, bobTok, l.name, nil); b.token <= l.token {
		t.Errorf("grant after the delay: token %d, want > %d", b.token, l.token)
	}

	// A release frees a lock at once, whatever its lock delay; a lock
	// without lock delay is free when its lease runs out.
	r1 := a.acquire(t, aliceTok, "delay/released", map[string]any{"lock_delay_seconds": 60})
	a.release(t, aliceTok, r1)
	a.acquire(t, bobTok, r1.name, nil)
	z := a.acquire(t, aliceTok, "delay/zero", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 0})
	a.clock.Advance(time.Second)
	a.wantFree(t, aliceTok, z.name)
	a.acquire(t, bobTok, z.name, nil)
}

// TestDefaultLockDelay: the server's default lock delay applies to an
// acquire that names none; an explicit 0 overrides it.
func TestDefaultLockDelay(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{defaultDelay: 3 * time.Second})
	d := a.acquire(t, aliceTok, "ddelay/default", map[string]any{"ttl_seconds": 1})
	z := a.acquire(t, aliceTok, "ddelay/zero", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 0})
	a.clock.Advance(time.Second)
	r := a.post(lockPath(d.name, "/acquire"), bobTok, nil).problem(t, http.StatusLocked, "lock_delayed")
	if !r.time(t, "available_at").Equal(d.expires.Add(3 * time.Second)) {
		t.Errorf("%v: want available_at %s", r, d.expires.Add(3*time.Second))
	}
	a.acquire(t, bobTok, z.name, nil)
}

// TestAcquireWithBadSession: a session that is not the caller's is not
// found; the owner's expired session is gone (410), also once swept.
func TestAcquireWithBadSession(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	s := a.openSession(t, aliceTok, 10)
	for _, c := range []struct {
		who, token, id string
	}{
		{"an unknown id", aliceTok, "s_00000000000000000000000000000000"},
		{"a malformed id", aliceTok, "nope"},
		{"another user of the org", bobTok, s.id},
		{"another org", carolTok, s.id},
	} {
		for _, eph := range []bool{false, true} {
			a.post(lockPath("bad/session", "/acquire"), c.token, map[string]any{"session_id": c.id, "ephemeral": eph}).
				problem(t, http.StatusNotFound, "session_not_found").nowhere(t)
		}
	}
	a.clock.Advance(10 * time.Second)
	a.post(lockPath("bad/session", "/acquire"), aliceTok, withSession(s, nil)).problem(t, http.StatusGone, "session_expired").nowhere(t)
	a.sweep(t)
	a.post(lockPath("bad/session", "/acquire"), aliceTok, withSession(s, map[string]any{"ephemeral": true})).problem(t, http.StatusGone, "session_expired")
	a.post(lockPath("bad/session", "/acquire"), bobTok, withSession(s, nil)).problem(t, http.StatusNotFound, "session_not_found")
	a.wantFree(t, aliceTok, "bad/session")
}
