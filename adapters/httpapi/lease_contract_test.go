package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// The contract of POST /locks/{name}/renew, /release and /validate: what a
// lease id and a fencing token still mean after a release, a takeover, an
// expiry (decided by the request itself, swept or not) and in another org.

func TestRenew(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "ren/a", map[string]any{"ttl_seconds": 30, "metadata": "m"})

	// Renew sets the expiry to exactly now + ttl, shorter or longer.
	a.clock.Advance(5 * time.Second)
	r := a.post(lockPath(l.name, "/renew"), aliceTok, map[string]any{"lease_id": l.id, "ttl_seconds": 10}).ok(t, http.StatusOK)
	r.keys(t, leaseKeys...)
	l.expires = a.clock.Now().Add(10 * time.Second)
	if got := leaseOf(t, l.name, r); got != l || r.str("status") != "renewed" || r.str("metadata") != "m" || r.str("holder") != "acme/alice" {
		t.Errorf("%v: want %+v renewed", r, l)
	}
	r = a.post(lockPath(l.name, "/renew"), aliceTok, map[string]any{"lease_id": l.id}).ok(t, http.StatusOK)
	l.expires = a.clock.Now().Add(time.Minute) // the default TTL
	if got := leaseOf(t, l.name, r); got != l {
		t.Errorf("%v: want %+v", r, l)
	}
	a.wantHeld(t, bobTok, l, "acme/alice", nil)

	// A lock held by an owner or a session renews with its holder shown.
	o := a.acquire(t, aliceTok, "ren/owned", map[string]any{"owner": "host-a"})
	a.post(lockPath(o.name, "/renew"), aliceTok, map[string]any{"lease_id": o.id}).ok(t, http.StatusOK).keys(t, append(leaseKeys, "owner")...)
	s := a.openSession(t, aliceTok, 60)
	sl := a.acquire(t, aliceTok, "ren/session", withSession(s, nil))
	r = a.post(lockPath(sl.name, "/renew"), aliceTok, map[string]any{"lease_id": sl.id, "ttl_seconds": 40}).ok(t, http.StatusOK)
	if r.keys(t, append(leaseKeys, "session_id")...); r.str("session_id") != s.id {
		t.Errorf("%v: want session %s", r, s.id)
	}

	// An ephemeral lock is renewed by its session's keepalive only.
	e := a.acquire(t, aliceTok, "ren/eph", withSession(s, map[string]any{"ephemeral": true}))
	a.post(lockPath(e.name, "/renew"), aliceTok, map[string]any{"lease_id": e.id, "ttl_seconds": 60}).
		problem(t, http.StatusConflict, "lock_is_ephemeral").nowhere(t)
	a.wantHeld(t, aliceTok, e, "acme/alice", map[string]string{"session_id": s.id})

	leaseErrors(t, a, "/renew")
}

func TestRelease(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "rel/a", nil)
	r := a.post(lockPath(l.name, "/release"), aliceTok, map[string]string{"lease_id": l.id}).ok(t, http.StatusOK)
	if r.keys(t, "status", "name"); r.str("status") != "released" || r.str("name") != l.name {
		t.Errorf("%v: want released", r)
	}
	a.wantFree(t, aliceTok, l.name)
	// Free at once: the next grant has the next token.
	if b := a.acquire(t, bobTok, l.name, nil); b.token != l.token+1 {
		t.Errorf("grant after the release: token %d, want %d", b.token, l.token+1)
	}

	// An ephemeral lock can be released; its session lives on.
	s := a.openSession(t, aliceTok, 60)
	e := a.acquire(t, aliceTok, "rel/eph", withSession(s, map[string]any{"ephemeral": true}))
	a.release(t, aliceTok, e)
	a.wantFree(t, aliceTok, e.name)
	if r := a.get(sessionPath(s.id, ""), aliceTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"locks":[]`) {
		t.Errorf("%v: the session still lists the released lock", r)
	}

	leaseErrors(t, a, "/release")
}

// leaseErrors checks the errors renew and release share: 404 lock_not_found
// when the lock is not held and the id is not a lease id, 409
// lease_not_current when the lease ended (released, taken over, expired,
// swept or not) or another lease holds the lock; in another org an acme
// lease means nothing. None of them changes the lock.
func leaseErrors(t *testing.T, a *api, op string) {
	t.Helper()
	body := func(id string) map[string]any { return map[string]any{"lease_id": id} }
	a.post(lockPath("lease/never", op), aliceTok, body("garbage")).problem(t, http.StatusNotFound, "lock_not_found").nowhere(t)
	a.post(lockPath("lease/never", op), aliceTok, body("L1-0011223344556677")).problem(t, http.StatusConflict, "lease_not_current").nowhere(t)
	a.wantFree(t, aliceTok, "lease/never")

	old := a.acquire(t, aliceTok, "lease/x", nil)
	a.release(t, aliceTok, old)
	a.post(lockPath(old.name, op), aliceTok, body(old.id)).problem(t, http.StatusConflict, "lease_not_current")
	cur := a.acquire(t, aliceTok, "lease/x", nil)
	for _, id := range []string{old.id, "garbage"} {
		for _, tok := range []string{aliceTok, bobTok} {
			a.post(lockPath(cur.name, op), tok, body(id)).problem(t, http.StatusConflict, "lease_not_current").nowhere(t)
		}
	}
	a.wantHeld(t, aliceTok, cur, "acme/alice", nil)

	// globex has no lock of that name.
	a.post(lockPath(cur.name, op), carolTok, body(cur.id)).problem(t, http.StatusConflict, "lease_not_current")
	a.post(lockPath(cur.name, op), carolTok, body("garbage")).problem(t, http.StatusNotFound, "lock_not_found")
	a.wantHeld(t, aliceTok, cur, "acme/alice", nil)

	// An expired lease is never resurrected, before the sweep and after.
	exp := a.acquire(t, aliceTok, "lease/exp"+op, map[string]any{"ttl_seconds": 1, "metadata": "old"})
	a.clock.Advance(time.Second)
	a.post(lockPath(exp.name, op), aliceTok, body(exp.id)).problem(t, http.StatusConflict, "lease_not_current")
	a.wantFree(t, aliceTok, exp.name)
	a.sweep(t)
	a.post(lockPath(exp.name, op), aliceTok, body(exp.id)).problem(t, http.StatusConflict, "lease_not_current")
	a.post(lockPath(exp.name, op), aliceTok, body("garbage")).problem(t, http.StatusNotFound, "lock_not_found")
	b := a.acquire(t, bobTok, exp.name, nil)
	if b.token <= exp.token || b.id == exp.id {
		t.Errorf("grant after expiry: %+v after %+v", b, exp)
	}
	if r := a.wantHeld(t, aliceTok, b, "acme/bob", nil); r.str("metadata") != "" {
		t.Errorf("%v: the new grant inherited the expired lease's metadata", r)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	validate := func(t *testing.T, token, name string, fencing uint64, valid bool, current uint64) {
		t.Helper()
		r := a.post(lockPath(name, "/validate"), token, map[string]any{"fencing_token": fencing}).ok(t, http.StatusOK)
		r.keys(t, "valid", "current_token")
		if r.obj["valid"] != valid {
			t.Errorf("%v: want valid %v", r, valid)
		}
		if current == 0 {
			if r.obj["current_token"] != nil {
				t.Errorf("%v: want current_token null", r)
			}
		} else if r.num(t, "current_token") != current {
			t.Errorf("%v: want current_token %d", r, current)
		}
	}
	l := a.acquire(t, aliceTok, "val/x", nil)
	validate(t, aliceTok, l.name, l.token, true, l.token)
	validate(t, bobTok, l.name, l.token, true, l.token) // anyone of the org
	validate(t, aliceTok, l.name, l.token+1, false, l.token)
	validate(t, carolTok, l.name, l.token, false, 0) // another org: no such lock
	validate(t, aliceTok, "val/never", l.token, false, 0)

	// Taken over after a release: the old token is stale.
	a.release(t, aliceTok, l)
	validate(t, aliceTok, l.name, l.token, false, 0)
	b := a.acquire(t, bobTok, l.name, nil)
	validate(t, aliceTok, l.name, l.token, false, b.token)
	validate(t, aliceTok, l.name, b.token, true, b.token)

	// After the lease runs out, swept or not.
	e := a.acquire(t, aliceTok, "val/exp", map[string]any{"ttl_seconds": 1})
	a.clock.Advance(999 * time.Millisecond)
	validate(t, aliceTok, e.name, e.token, true, e.token)
	a.clock.Advance(time.Millisecond)
	validate(t, aliceTok, e.name, e.token, false, 0)
	a.sweep(t)
	validate(t, aliceTok, e.name, e.token, false, 0)

	// An ephemeral lock is valid as long as its session.
	s := a.openSession(t, aliceTok, 30)
	eph := a.acquire(t, aliceTok, "val/eph", withSession(s, map[string]any{"ephemeral": true}))
	validate(t, bobTok, eph.name, eph.token, true, eph.token)
	if r := a.call(http.MethodDelete, sessionPath(s.id, ""), aliceTok, nil); r.status != http.StatusNoContent {
		t.Fatalf("%v: want 204", r)
	}
	validate(t, bobTok, eph.name, eph.token, false, 0)
}
