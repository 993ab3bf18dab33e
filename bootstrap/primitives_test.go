package bootstrap_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
)

// This file tests the Chubby primitives other than sessions end to end:
// lock delay, blocking acquire, validate, and what of them survives a
// restart.

// wantDelayed requires a 423 lock_delayed answer with available_at equal to
// want and a Retry-After header of a whole number of seconds in [1, max].
func wantDelayed(t *testing.T, r *resp, want time.Time, maxSecs int) {
	t.Helper()
	r.problem(t, http.StatusLocked, "lock_delayed")
	if got := r.time(t, "available_at"); !got.Equal(want) {
		t.Errorf("available_at = %s, want %s", got.Format(time.RFC3339Nano), want.Format(time.RFC3339Nano))
	}
	ra := r.header.Get("Retry-After")
	if secs, err := strconv.Atoi(ra); err != nil || secs < 1 || secs > maxSecs {
		t.Errorf("Retry-After = %q, want an integer in [1, %d]", ra, maxSecs)
	}
}

// sleepUntil sleeps until at plus a small margin.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at.Add(30 * time.Millisecond))) }

// TestLockDelay: a lock lost without a release (its TTL ran out) cannot be
// taken by anyone, its former holder included, until its lock delay has
// passed; an explicit release frees it at once.
func TestLockDelay(t *testing.T) {
	t.Parallel()
	s := newServer(t)

	t.Run("cases", func(t *testing.T) {
		t.Run("after expiry", func(t *testing.T) {
			t.Parallel()
			const name = "delay/expired"
			a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 2, "owner": "a"})
			// During the lease the holder re-acquires as usual.
			r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 2, "owner": "a"}).ok(t, http.StatusOK)
			if r.str("lease_id") != a.id || r.num(t, "fencing_token") != a.token {
				t.Errorf("re-acquire during the lease = %s", r.raw)
			}
			s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
			a.expires = r.time(t, "expires_at")
			s.waitNotHeld(t, aliceToken, name)

			avail := a.expires.Add(2 * time.Second)
			wantDelayed(t, s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, map[string]any{"ttl_seconds": 30}), avail, 2)
			wantDelayed(t, s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, nil), avail, 2)                                        // the former holder too
			wantDelayed(t, s.call(t, http.MethodPost, lockPath(name, "/acquire"), racerToken(7), map[string]any{"lock_delay_seconds": 0}), avail, 2) // no way around it
			wantDelayed(t, s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, map[string]any{"owner": "a"}), avail, 2)               // nor for its owner
			s.wantDelayedLock(t, bobToken, name, avail)
			s.call(t, http.MethodPost, lockPath(name, "/renew"), aliceToken, map[string]any{"lease_id": a.id}).
				problem(t, http.StatusConflict, "lease_not_current")
			s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": a.id}).
				problem(t, http.StatusConflict, "lease_not_current")
			// Carol's org has its own lock of that name, never delayed.
			s.acquire(t, carolToken, name, nil)

			sleepUntil(avail)
			b := s.acquire(t, bobToken, name, nil)
			if b.token <= a.token {
				t.Errorf("grant after the delay: token %d, want > %d", b.token, a.token)
			}
			s.wantHeld(t, aliceToken, name, "user:bob", b)
		})

		t.Run("release frees at once", func(t *testing.T) {
			t.Parallel()
			const name = "delay/released"
			a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 60, "lock_delay_seconds": 60})
			s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": a.id}).ok(t, http.StatusOK)
			b := s.acquire(t, bobToken, name, nil)
			if b.token <= a.token {
				t.Errorf("grant after release: token %d, want > %d", b.token, a.token)
			}
		})

		t.Run("zero delay", func(t *testing.T) {
			t.Parallel()
			const name = "delay/zero"
			a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 0})
			sleepUntil(a.expires)
			s.acquire(t, bobToken, name, nil)
		})

		t.Run("out of range", func(t *testing.T) {
			t.Parallel()
			for _, d := range []string{"61", "-1", "1.5", `"2"`} {
				r := s.call(t, http.MethodPost, lockPath("delay/bad", "/acquire"), aliceToken, `{"lock_delay_seconds":`+d+`}`).
					problem(t, http.StatusUnprocessableEntity, "validation_failed")
				if !slices.Contains(r.locations(), "body.lock_delay_seconds") {
					t.Errorf("lock_delay_seconds %s: locations %v, want body.lock_delay_seconds: %s", d, r.locations(), r.raw)
				}
			}
			s.wantFree(t, aliceToken, "delay/bad")
			s.acquire(t, aliceToken, "delay/max", map[string]any{"lock_delay_seconds": 60})
		})
	})
	checkSpec(t, s)
}

// TestDefaultLockDelay: locks.default_lock_delay applies to an acquire that
// names no lock delay; an explicit 0 overrides it.
func TestDefaultLockDelay(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig(filepath.Join(t.TempDir(), "octostore.db"))
	cfg.Locks.DefaultLockDelay = 2 * time.Second
	s := startServer(t, cfg, nil, nil)

	d := s.acquire(t, aliceToken, "ddelay/default", map[string]any{"ttl_seconds": 1})
	z := s.acquire(t, aliceToken, "ddelay/zero", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 0})
	s.waitNotHeld(t, aliceToken, d.name)
	sleepUntil(z.expires)
	wantDelayed(t, s.call(t, http.MethodPost, lockPath(d.name, "/acquire"), bobToken, nil), d.expires.Add(2*time.Second), 2)
	s.acquire(t, bobToken, z.name, nil)
	checkSpec(t, s)
}

// TestBlockingAcquire: waiters are served first come, first served, each
// with the next fencing token; a waiter that disconnects leaves the queue;
// a wait that runs out answers as a plain acquire would. The subtests run
// in order: some count the fencing tokens issued.
func TestBlockingAcquire(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait10 := map[string]any{"wait_seconds": 10, "ttl_seconds": 60}

	t.Run("first come first served", func(t *testing.T) {
		const name = "wait/fifo"
		a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 60})
		var queue []<-chan outcome
		for i := 1; i <= 3; i++ {
			queue = append(queue, s.goAcquire(ctx, racerToken(i), name, wait10))
			s.waitWaiters(t, bobToken, name, i) // queued before the next one comes
		}
		for i, ch := range queue {
			quiet(t, "waiter u"+strconv.Itoa(i+1)+" while alice holds", ch, 0)
		}
		// A newcomer without a wait does not overtake the queue.
		s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")

		s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": a.id}).ok(t, http.StatusOK)
		prev := a.token
		for i, ch := range queue {
			who := "u" + strconv.Itoa(i+1)
			r := answered(t, "waiter "+who, ch, 5*time.Second).ok(t, http.StatusOK)
			if r.str("status") != "acquired" || r.str("name") != name {
				t.Errorf("grant to %s = %s", who, r.raw)
			}
			l := lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
			if l.token != prev+1 {
				t.Errorf("grant to %s: token %d, want %d (the next after %d)", who, l.token, prev+1, prev)
			}
			prev = l.token
			s.wantHeld(t, bobToken, name, "user:"+who, l)
			for j, later := range queue[i+1:] {
				quiet(t, "waiter u"+strconv.Itoa(i+j+2)+" while "+who+" holds", later, 100*time.Millisecond)
			}
			s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
			// The release hands the lock over in the same commit: the
			// next waiter holds it when the release is answered.
			s.call(t, http.MethodPost, lockPath(name, "/release"), racerToken(i+1), map[string]string{"lease_id": l.id}).ok(t, http.StatusOK)
			if i+1 < len(queue) {
				if g := s.get(t, bobToken, name); !heldBy(g.obj, "user:u"+strconv.Itoa(i+2)) {
					t.Errorf("right after %s's release: %s, want held by u%d", who, g.raw, i+2)
				}
			}
		}
		s.wantFree(t, bobToken, name)
	})

	t.Run("disconnected waiter leaves", func(t *testing.T) {
		const name = "wait/leave"
		a := s.acquire(t, aliceToken, name, nil)
		gone, leave := context.WithCancel(ctx)
		defer leave()
		w4 := s.goAcquire(gone, racerToken(4), name, wait10)
		s.waitWaiters(t, aliceToken, name, 1)
		w5 := s.goAcquire(ctx, racerToken(5), name, wait10)
		s.waitWaiters(t, aliceToken, name, 2)
		leave()
		if o := recv(t, "cancelled waiter", w4, 5*time.Second); o.err == nil {
			t.Fatalf("cancelled waiter got an answer: %d %s", o.r.status, o.r.raw)
		}
		s.waitWaiters(t, aliceToken, name, 1) // the server noticed the closed connection
		quiet(t, "waiter u5", w5, 0)

		s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": a.id}).ok(t, http.StatusOK)
		r := answered(t, "waiter u5", w5, 5*time.Second).ok(t, http.StatusOK)
		l := lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
		if l.token != a.token+1 {
			t.Errorf("grant to u5: token %d, want %d (nothing granted to the departed u4)", l.token, a.token+1)
		}
		s.wantHeld(t, aliceToken, name, "user:u5", l)

		// The only waiter leaves: the lock stays free after the release.
		gone2, leave2 := context.WithCancel(ctx)
		defer leave2()
		w6 := s.goAcquire(gone2, racerToken(6), name, wait10)
		s.waitWaiters(t, aliceToken, name, 1)
		leave2()
		if o := recv(t, "cancelled waiter u6", w6, 5*time.Second); o.err == nil {
			t.Fatalf("cancelled waiter got an answer: %d %s", o.r.status, o.r.raw)
		}
		s.waitWaiters(t, aliceToken, name, 0)
		s.call(t, http.MethodPost, lockPath(name, "/release"), racerToken(5), map[string]string{"lease_id": l.id}).ok(t, http.StatusOK)
		s.wantFree(t, aliceToken, name)
		b := s.acquire(t, bobToken, name, nil)
		if b.token != l.token+1 {
			t.Errorf("grant after the departed waiter: token %d, want %d (nothing granted to u6)", b.token, l.token+1)
		}
	})

	t.Run("session waiter", func(t *testing.T) {
		const name = "wait/session"
		a := s.acquire(t, aliceToken, name, nil)
		sess := s.openSession(t, bobToken, 30)
		w := s.goAcquire(ctx, bobToken, name, asSession(sess, map[string]any{"wait_seconds": 10, "ephemeral": true}))
		s.waitWaiters(t, aliceToken, name, 1)
		quiet(t, "session waiter", w, 0)
		s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": a.id}).ok(t, http.StatusOK)
		r := answered(t, "session waiter", w, 5*time.Second).ok(t, http.StatusOK)
		if r.str("session_id") != sess.id || r.obj["ephemeral"] != true || !r.time(t, "expires_at").Equal(sess.expires) {
			t.Errorf("grant to a session waiter = %s, want ephemeral for %s until %s", r.raw, sess.id, sess.expires)
		}
		l := lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: sess.expires}
		s.wantHeld(t, aliceToken, name, "session:"+sess.id, l)
		if r := s.call(t, http.MethodDelete, sessionPath(sess.id, ""), bobToken, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE session = %d %s", r.status, r.raw)
		}
		s.wantFree(t, aliceToken, name)
	})

	t.Run("wait runs out on a held lock", func(t *testing.T) {
		const name = "wait/held"
		a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 60, "owner": "a"})
		began := time.Now()
		r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, map[string]any{"wait_seconds": 1}).problem(t, http.StatusConflict, "lock_held")
		if took := time.Since(began); took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("wait_seconds 1 answered after %s", took)
		}
		if !r.time(t, "expires_at").Equal(a.expires) || r.header.Get("Retry-After") == "" {
			t.Errorf("lock_held after the wait = %s (Retry-After %q)", r.raw, r.header.Get("Retry-After"))
		}
		s.wantHeld(t, aliceToken, name, "user:alice/owner:a", a)
		// wait_seconds 0 is a plain acquire.
		s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, map[string]any{"wait_seconds": 0}).problem(t, http.StatusConflict, "lock_held")
		// A waiter of a free lock gets it at once; the holder at once too.
		s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, map[string]any{"wait_seconds": 5, "owner": "a"}).ok(t, http.StatusOK)
		began = time.Now()
		s.acquire(t, bobToken, "wait/free", map[string]any{"wait_seconds": 5})
		if took := time.Since(began); took > time.Second {
			t.Errorf("blocking acquire of a free lock took %s", took)
		}
	})

	t.Run("delayed lock", func(t *testing.T) {
		const name = "wait/delayed"
		a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 2})
		s.waitNotHeld(t, aliceToken, name)
		avail := a.expires.Add(2 * time.Second)
		began := time.Now()
		r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, map[string]any{"wait_seconds": 1})
		if took := time.Since(began); took < 900*time.Millisecond || took > 3*time.Second {
			t.Errorf("wait_seconds 1 on a delayed lock answered after %s", took)
		}
		wantDelayed(t, r, avail, 1)
		// A waiter that outlasts the delay gets the lock when it ends.
		w := s.goAcquire(ctx, racerToken(8), name, wait10)
		r = answered(t, "waiter of a delayed lock", w, 8*time.Second).ok(t, http.StatusOK)
		if now := time.Now(); now.Before(avail) || now.After(avail.Add(2*time.Second)) {
			t.Errorf("waiter granted at %s, want soon after available_at %s", now.Format(time.RFC3339Nano), avail.Format(time.RFC3339Nano))
		}
		if tok := r.num(t, "fencing_token"); tok <= a.token {
			t.Errorf("grant after the delay: token %d, want > %d", tok, a.token)
		}
		if g := s.get(t, aliceToken, name); !heldBy(g.obj, "user:u8") {
			t.Errorf("after the delay: %s, want held by u8", g.raw)
		}
	})

	t.Run("out of range", func(t *testing.T) {
		for _, w := range []string{"61", "-1", "0.5"} {
			r := s.call(t, http.MethodPost, lockPath("wait/bad", "/acquire"), aliceToken, `{"wait_seconds":`+w+`}`).
				problem(t, http.StatusUnprocessableEntity, "validation_failed")
			if !slices.Contains(r.locations(), "body.wait_seconds") {
				t.Errorf("wait_seconds %s: locations %v, want body.wait_seconds: %s", w, r.locations(), r.raw)
			}
		}
		s.wantFree(t, aliceToken, "wait/bad")
	})
	checkSpec(t, s)
}

// TestValidateToken: a fencing token is valid only while its grant holds the
// lock, and only within the caller's org.
func TestValidateToken(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	validate := func(t *testing.T, token, name string, fencing uint64) *resp {
		t.Helper()
		r := s.call(t, http.MethodPost, lockPath(name, "/validate"), token, map[string]any{"fencing_token": fencing}).ok(t, http.StatusOK)
		if _, ok := r.obj["valid"].(bool); !ok {
			t.Fatalf("validate: valid is not a boolean: %s", r.raw)
		}
		return r
	}
	wantValid := func(t *testing.T, r *resp, valid bool, current uint64) {
		t.Helper()
		if r.obj["valid"] != valid {
			t.Errorf("valid = %v, want %v: %s", r.obj["valid"], valid, r.raw)
		}
		if current == 0 {
			if v, ok := r.obj["current_token"]; !ok || v != nil || len(r.obj) != 2 {
				t.Errorf("validate of a lock not held = %s, want valid and current_token null", r.raw)
			}
			return
		}
		if len(r.obj) != 2 {
			t.Errorf("validate body = %s, want valid and current_token", r.raw)
		}
		if got := r.num(t, "current_token"); got != current {
			t.Errorf("current_token = %d, want %d", got, current)
		}
	}

	const name = "val/x"
	a := s.acquire(t, aliceToken, name, nil)
	for _, tok := range []string{aliceToken, bobToken} { // anyone of the org may check
		wantValid(t, validate(t, tok, name, a.token), true, a.token)
	}
	wantValid(t, validate(t, aliceToken, name, a.token+1), false, a.token)
	wantValid(t, validate(t, aliceToken, name, a.token+1000), false, a.token)
	// Another org sees no such lock.
	wantValid(t, validate(t, carolToken, name, a.token), false, 0)
	// A free lock, never taken.
	wantValid(t, validate(t, aliceToken, "val/never", a.token), false, 0)

	// Another holder takes over after a release: the old token is stale.
	s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": a.id}).ok(t, http.StatusOK)
	wantValid(t, validate(t, aliceToken, name, a.token), false, 0)
	b := s.acquire(t, bobToken, name, nil)
	wantValid(t, validate(t, aliceToken, name, a.token), false, b.token)
	wantValid(t, validate(t, aliceToken, name, b.token), true, b.token)

	// After the lease runs out.
	e := s.acquire(t, aliceToken, "val/exp", map[string]any{"ttl_seconds": 1})
	wantValid(t, validate(t, aliceToken, e.name, e.token), true, e.token)
	sleepUntil(e.expires)
	wantValid(t, validate(t, aliceToken, e.name, e.token), false, 0)

	// An ephemeral lock is valid as long as its session.
	sess := s.openSession(t, aliceToken, 30)
	eph := s.acquire(t, aliceToken, "val/eph", asSession(sess, map[string]any{"ephemeral": true}))
	wantValid(t, validate(t, bobToken, eph.name, eph.token), true, eph.token)
	if r := s.call(t, http.MethodDelete, sessionPath(sess.id, ""), aliceToken, nil); r.status != http.StatusNoContent {
		t.Fatalf("DELETE session = %d %s", r.status, r.raw)
	}
	wantValid(t, validate(t, bobToken, eph.name, eph.token), false, 0)

	for _, c := range []struct{ name, body, loc string }{
		{"token 0", `{"fencing_token":0}`, "body.fencing_token"},
		{"negative", `{"fencing_token":-1}`, "body.fencing_token"},
		{"string", `{"fencing_token":"7"}`, "body.fencing_token"},
		{"missing", `{}`, ""},
		{"unknown field", `{"fencing_token":1,"lease_id":"x"}`, "body.lease_id"},
	} {
		r := s.call(t, http.MethodPost, lockPath(name, "/validate"), aliceToken, c.body).problem(t, http.StatusUnprocessableEntity, "validation_failed")
		if c.loc != "" && !slices.Contains(r.locations(), c.loc) {
			t.Errorf("%s: locations %v, want %s", c.name, r.locations(), c.loc)
		}
	}
	s.call(t, http.MethodPost, lockPath("a%2F%2Fb", "/validate"), aliceToken, map[string]any{"fencing_token": 1}).
		problem(t, http.StatusUnprocessableEntity, "invalid_name")
	s.call(t, http.MethodPost, lockPath(name, "/validate"), "", map[string]any{"fencing_token": 1}).
		problem(t, http.StatusUnauthorized, "unauthenticated")
	s.call(t, http.MethodPost, lockPath(name, "/validate"), adminTok, map[string]any{"fencing_token": 1}).
		problem(t, http.StatusForbidden, "admin_not_tenant")
	checkSpec(t, s)
}

// TestPrimitivesRestart: a lock delay and a session with its ephemeral lock
// survive a graceful restart.
func TestPrimitivesRestart(t *testing.T) {
	t.Parallel()

	t.Run("lock delay", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "octostore.db")
		s1 := startServer(t, e2eConfig(db), nil, nil)
		const name = "rdelay/x"
		a := s1.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 3})
		avail := a.expires.Add(3 * time.Second)
		// The lock expires while the server is up, and the server records
		// a heartbeat after that (once a second when idle), so the restart
		// knows it did not expire while down: no grace, and the delay holds.
		sleepUntil(a.expires.Add(1200 * time.Millisecond))
		wantDelayed(t, s1.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil), avail, 2)
		checkSpec(t, s1)
		s1.stop()

		s2 := startServer(t, e2eConfig(db), nil, nil)
		if time.Now().After(avail) {
			t.Fatalf("restart took too long to check the delay (now %s, available at %s)", time.Now(), avail)
		}
		s2.wantDelayedLock(t, aliceToken, name, avail)
		wantDelayed(t, s2.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil), avail, 2)
		wantDelayed(t, s2.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, nil), avail, 2)
		s2.call(t, http.MethodPost, lockPath(name, "/renew"), aliceToken, map[string]any{"lease_id": a.id}).
			problem(t, http.StatusConflict, "lease_not_current")
		sleepUntil(avail)
		b := s2.acquire(t, bobToken, name, nil)
		if b.token <= a.token {
			t.Errorf("grant after the delay: token %d, want > %d", b.token, a.token)
		}
		checkSpec(t, s2)
	})

	t.Run("session and ephemeral lock", func(t *testing.T) {
		t.Parallel()
		db := filepath.Join(t.TempDir(), "octostore.db")
		s1 := startServer(t, e2eConfig(db), nil, nil)
		sess := s1.openSession(t, aliceToken, 30)
		holder := "session:" + sess.id
		eph := s1.acquire(t, aliceToken, "rsess/eph", asSession(sess, map[string]any{"ephemeral": true, "metadata": "m"}))
		plain := s1.acquire(t, aliceToken, "rsess/plain", asSession(sess, map[string]any{"ttl_seconds": 120}))
		closed := s1.openSession(t, aliceToken, 30)
		s1.acquire(t, aliceToken, "rsess/closed", asSession(closed, map[string]any{"ephemeral": true}))
		s1.call(t, http.MethodDelete, sessionPath(closed.id, ""), aliceToken, nil)
		checkSpec(t, s1)
		s1.stop()

		s2 := startServer(t, e2eConfig(db), nil, nil)
		// The lock is still the session's before and after its keepalive.
		if g := s2.wantHeld(t, bobToken, eph.name, holder, eph); g.obj["ephemeral"] != true || g.str("metadata") != "m" {
			t.Errorf("ephemeral lock after restart = %s", g.raw)
		}
		exp := s2.keepalive(t, aliceToken, sess)
		eph.expires = exp
		s2.wantHeld(t, bobToken, eph.name, holder, eph)
		s2.wantHeld(t, bobToken, plain.name, holder, plain)
		if _, names := s2.sessionLocks(t, aliceToken, sess); !slices.Equal(names, []string{eph.name, plain.name}) {
			t.Errorf("session locks after restart = %v, want [%s %s]", names, eph.name, plain.name)
		}
		s2.call(t, http.MethodPost, lockPath(eph.name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
		r := s2.call(t, http.MethodPost, lockPath(eph.name, "/acquire"), aliceToken, asSession(sess, map[string]any{"ephemeral": true})).ok(t, http.StatusOK)
		if r.str("lease_id") != eph.id || r.num(t, "fencing_token") != eph.token {
			t.Errorf("re-acquire after restart = %s, want lease %s token %d", r.raw, eph.id, eph.token)
		}
		// The session closed before the restart stays closed.
		s2.call(t, http.MethodPost, sessionPath(closed.id, "/keepalive"), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
		s2.wantFree(t, aliceToken, "rsess/closed")
		// Closing the session now frees its ephemeral lock as usual.
		if r := s2.call(t, http.MethodDelete, sessionPath(sess.id, ""), aliceToken, nil); r.status != http.StatusNoContent {
			t.Fatalf("DELETE after restart = %d %s", r.status, r.raw)
		}
		s2.wantFree(t, aliceToken, eph.name)
		s2.wantHeld(t, aliceToken, plain.name, holder, plain)
		checkSpec(t, s2)
	})
}
