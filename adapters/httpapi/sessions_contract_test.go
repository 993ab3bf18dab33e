package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The contract of /sessions: open, keepalive, get and close, what a session
// does to the locks it holds when it ends, and who may see it.

func TestOpenSession(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	now := a.clock.Now()
	for _, c := range []struct {
		name    string
		body    any
		ttl, ka int
	}{
		{"no body: the default", nil, 60, 20},
		{"an empty object", "{}", 60, 20},
		{"the shortest", map[string]int{"ttl_seconds": 10}, 10, 3},
		{"the longest", map[string]int{"ttl_seconds": 300}, 300, 100},
	} {
		r := a.post("/sessions", aliceTok, c.body).ok(t, http.StatusCreated)
		r.keys(t, "session_id", "ttl_seconds", "expires_at", "keepalive_interval_seconds")
		id := r.str("session_id")
		if !strings.HasPrefix(id, "s_") || strings.ContainsAny(id, "/?#% ") || r.num(t, "ttl_seconds") != uint64(c.ttl) ||
			r.num(t, "keepalive_interval_seconds") != uint64(c.ka) || !r.time(t, "expires_at").Equal(now.Add(time.Duration(c.ttl)*time.Second)) {
			t.Errorf("%s: %v: want ttl %d, keepalive every %ds", c.name, r, c.ttl, c.ka)
		}
	}
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	s := a.openSession(t, aliceTok, 30)
	get := func(t *testing.T) ([]string, *response) {
		t.Helper()
		r := a.get(sessionPath(s.id, ""), aliceTok).ok(t, http.StatusOK).keys(t, "session_id", "ttl_seconds", "expires_at", "locks")
		if r.str("session_id") != s.id || r.num(t, "ttl_seconds") != 30 || !r.time(t, "expires_at").Equal(s.expires) {
			t.Errorf("%v: want session %s until %s", r, s.id, s.expires)
		}
		var names []string
		for _, n := range r.obj["locks"].([]any) {
			names = append(names, n.(string))
		}
		return names, r
	}
	if names, r := get(t); len(names) != 0 || !strings.Contains(string(r.raw), `"locks":[]`) {
		t.Errorf("%v: a new session lists locks", r)
	}

	// The session lists the locks it holds now, in name order.
	other := a.openSession(t, aliceTok, 60)
	a.acquire(t, aliceTok, "s/b", withSession(s, nil))
	eph := a.acquire(t, aliceTok, "s/a", withSession(s, map[string]any{"ephemeral": true}))
	a.acquire(t, aliceTok, "s/other", withSession(other, nil))
	a.acquire(t, aliceTok, "s/user", nil)
	a.acquire(t, aliceTok, "s/short", withSession(s, map[string]any{"ttl_seconds": 1}))
	a.release(t, aliceTok, a.acquire(t, aliceTok, "s/released", withSession(s, nil)))
	if names, _ := get(t); !slices.Equal(names, []string{"s/a", "s/b", "s/short"}) {
		t.Errorf("session locks %v, want [s/a s/b s/short]", names)
	}

	// A keepalive moves the session's expiry, and its ephemeral locks'.
	a.clock.Advance(5 * time.Second)
	r := a.post(sessionPath(s.id, "/keepalive"), aliceTok, nil).ok(t, http.StatusOK).keys(t, "session_id", "expires_at")
	s.expires = a.clock.Now().Add(30 * time.Second)
	if r.str("session_id") != s.id || !r.time(t, "expires_at").Equal(s.expires) {
		t.Errorf("%v: want expiry %s", r, s.expires)
	}
	eph.expires = s.expires
	a.wantHeld(t, bobTok, eph, "acme/alice", map[string]string{"session_id": s.id})
	if r := a.get("/locks?prefix=s%2Fa", bobTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"expires_at":"`+s.expires.Format(wireFormat)+`"`) {
		t.Errorf("%v: the listing does not show the new expiry %s", r, s.expires)
	}
	if names, _ := get(t); !slices.Equal(names, []string{"s/a", "s/b"}) { // s/short ran out
		t.Errorf("session locks %v, want [s/a s/b]", names)
	}
	// The session re-acquiring its ephemeral lock: the same lease, expiring
	// with the session.
	r = a.post(lockPath(eph.name, "/acquire"), aliceTok, withSession(s, map[string]any{"ephemeral": true, "ttl_seconds": 1})).ok(t, http.StatusOK)
	if leaseOf(t, eph.name, r) != eph {
		t.Errorf("%v: want the same grant %+v", r, eph)
	}

	// Close: 204 without a body; then the session is not found anywhere.
	r = a.call(http.MethodDelete, sessionPath(s.id, ""), aliceTok, nil)
	if r.status != http.StatusNoContent || len(r.raw) != 0 {
		t.Fatalf("%v: want 204 without a body", r)
	}
	a.post(sessionPath(s.id, "/keepalive"), aliceTok, nil).problem(t, http.StatusNotFound, "session_not_found").nowhere(t)
	a.get(sessionPath(s.id, ""), aliceTok).problem(t, http.StatusNotFound, "session_not_found")
	a.call(http.MethodDelete, sessionPath(s.id, ""), aliceTok, nil).problem(t, http.StatusNotFound, "session_not_found")
	a.post(lockPath("s/new", "/acquire"), aliceTok, withSession(s, nil)).problem(t, http.StatusNotFound, "session_not_found")
}

// TestSessionOfAnother: a session is its owner's only; for anyone else,
// of the org or not, it does not exist, and the admin holds none.
func TestSessionOfAnother(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	s := a.openSession(t, aliceTok, 60)
	eph := a.acquire(t, aliceTok, "so/eph", withSession(s, map[string]any{"ephemeral": true}))
	for _, tok := range []string{bobTok, carolTok} {
		a.post(sessionPath(s.id, "/keepalive"), tok, nil).problem(t, http.StatusNotFound, "session_not_found").nowhere(t)
		a.get(sessionPath(s.id, ""), tok).problem(t, http.StatusNotFound, "session_not_found").nowhere(t)
		a.call(http.MethodDelete, sessionPath(s.id, ""), tok, nil).problem(t, http.StatusNotFound, "session_not_found").nowhere(t)
	}
	for _, id := range []string{"s_00000000000000000000000000000000", "nope"} {
		a.post(sessionPath(id, "/keepalive"), aliceTok, nil).problem(t, http.StatusNotFound, "session_not_found")
		a.get(sessionPath(id, ""), aliceTok).problem(t, http.StatusNotFound, "session_not_found")
		a.call(http.MethodDelete, sessionPath(id, ""), aliceTok, nil).problem(t, http.StatusNotFound, "session_not_found")
	}
	a.wantHeld(t, bobTok, eph, "acme/alice", map[string]string{"session_id": s.id})
	a.get(sessionPath(s.id, ""), aliceTok).ok(t, http.StatusOK)

	// An id longer than any session id is refused by the schema, as
	// documented.
	long := strings.Repeat("s", 129)
	a.post(sessionPath(long, "/keepalive"), aliceTok, nil).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "path.id")
	a.get(sessionPath(long, ""), aliceTok).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "path.id")
	a.call(http.MethodDelete, sessionPath(long, ""), aliceTok, nil).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "path.id")
}

// TestSessionEnd: closing a session frees its ephemeral locks at once,
// without their lock delay; its expiry frees them after their lock delay,
// counted from the expiry. A non-ephemeral session lock outlives the
// session. The owner of an expired session is told 410 everywhere, never
// revived; others find nothing.
func TestSessionEnd(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	delay := map[string]any{"ephemeral": true, "lock_delay_seconds": 30}

	closed := a.openSession(t, aliceTok, 60)
	ce := a.acquire(t, aliceTok, "end/closed-eph", withSession(closed, delay))
	cp := a.acquire(t, aliceTok, "end/closed-plain", withSession(closed, map[string]any{"ttl_seconds": 120, "lock_delay_seconds": 30}))
	user := a.acquire(t, aliceTok, "end/user", map[string]any{"lock_delay_seconds": 30})
	if r := a.call(http.MethodDelete, sessionPath(closed.id, ""), aliceTok, nil); r.status != http.StatusNoContent {
		t.Fatalf("%v: want 204", r)
	}
	a.wantHeld(t, aliceTok, user, "acme/alice", nil)
	a.wantFree(t, aliceTok, ce.name)
	if b := a.acquire(t, bobTok, ce.name, nil); b.token <= ce.token {
		t.Errorf("grant after close: token %d, want > %d", b.token, ce.token)
	}
	a.wantHeld(t, aliceTok, cp, "acme/alice", map[string]string{"session_id": closed.id})
	a.post(lockPath(cp.name, "/acquire"), bobTok, nil).problem(t, http.StatusConflict, "lock_held")
	a.release(t, aliceTok, cp) // the lease outlives its session

	s := a.openSession(t, aliceTok, 10)
	keep := a.openSession(t, aliceTok, 60)
	eph := a.acquire(t, aliceTok, "end/eph", withSession(s, map[string]any{"ephemeral": true}))
	delayed := a.acquire(t, aliceTok, "end/eph-delayed", withSession(s, map[string]any{"ephemeral": true, "lock_delay_seconds": 2}))
	plain := a.acquire(t, aliceTok, "end/plain", withSession(s, map[string]any{"ttl_seconds": 120}))
	kept := a.acquire(t, aliceTok, "end/kept", withSession(keep, map[string]any{"ephemeral": true}))

	a.clock.Advance(10 * time.Second)
	// Expiry is decided by each request, before any sweep.
	a.wantFree(t, bobTok, eph.name)
	avail := s.expires.Add(2 * time.Second)
	r := a.post(lockPath(delayed.name, "/acquire"), bobTok, nil).problem(t, http.StatusLocked, "lock_delayed")
	if !r.time(t, "available_at").Equal(avail) {
		t.Errorf("%v: want available_at %s (the session's expiry + 2s)", r, avail)
	}
	a.post(sessionPath(s.id, "/keepalive"), aliceTok, nil).problem(t, http.StatusGone, "session_expired").nowhere(t)
	a.sweep(t)
	r = a.status(t, bobTok, delayed.name).keys(t, "name", "status", "available_at", "waiters")
	if r.str("status") != "delayed" || !r.time(t, "available_at").Equal(avail) {
		t.Errorf("%v: want delayed until %s", r, avail)
	}
	b := a.acquire(t, bobTok, eph.name, nil)
	a.wantHeld(t, aliceTok, plain, "acme/alice", map[string]string{"session_id": s.id})
	names, _ := listNames(t, a, aliceTok, "?prefix=end")
	if want := []string{ce.name, b.name, kept.name, plain.name, user.name}; !slices.Equal(names, want) {
		t.Errorf("listing after the session expired: %v, want %v", names, want)
	}
	a.wantHeld(t, aliceTok, kept, "acme/alice", map[string]string{"session_id": keep.id})

	// 410 to the owner everywhere, also after the sweep; 404 to others.
	a.post(sessionPath(s.id, "/keepalive"), aliceTok, nil).problem(t, http.StatusGone, "session_expired")
	a.get(sessionPath(s.id, ""), aliceTok).problem(t, http.StatusGone, "session_expired").nowhere(t)
	a.call(http.MethodDelete, sessionPath(s.id, ""), aliceTok, nil).problem(t, http.StatusGone, "session_expired").nowhere(t)
	a.post(lockPath("end/new", "/acquire"), aliceTok, withSession(s, nil)).problem(t, http.StatusGone, "session_expired")
	for _, tok := range []string{bobTok, carolTok} {
		a.post(sessionPath(s.id, "/keepalive"), tok, nil).problem(t, http.StatusNotFound, "session_not_found")
		a.get(sessionPath(s.id, ""), tok).problem(t, http.StatusNotFound, "session_not_found")
	}

	a.clock.Advance(2 * time.Second)
	if d := a.acquire(t, bobTok, delayed.name, nil); d.token <= delayed.token {
		t.Errorf("grant after the delay: token %d, want > %d", d.token, delayed.token)
	}
}

// TestSessionExpiresBeforeItsGet: an unswept expired session answers 410
// on GET too (the read decides expiry itself).
func TestSessionExpiresBeforeItsGet(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	s := a.openSession(t, aliceTok, 10)
	a.clock.Advance(10 * time.Second)
	a.get(sessionPath(s.id, ""), aliceTok).problem(t, http.StatusGone, "session_expired")
	a.get(sessionPath(s.id, ""), bobTok).problem(t, http.StatusNotFound, "session_not_found")
}
