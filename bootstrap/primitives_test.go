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

// This file tests the Chubby primitives other than sessions end to end
// where the real server is needed: the lock-delay setting, a waiter's
// closed connection, the sweep's hand-off on the real clock, and what
// survives a restart. Their HTTP contract is tested without TCP in
// adapters/httpapi.

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

// sleepUntil sleeps until the wall time at plus a small margin. Use it only
// for what the server decides by the wall clock (what expired while it was
// down); what it decides while up follows its monotonic clock, which may
// drift from the wall clock: poll for that instead.
func sleepUntil(at time.Time) { time.Sleep(time.Until(at.Add(30 * time.Millisecond))) }

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
	s.waitNotHeld(t, aliceToken, z.name)
	wantDelayed(t, s.call(t, http.MethodPost, lockPath(d.name, "/acquire"), bobToken, nil), d.expires.Add(2*time.Second), 2)
	s.acquire(t, bobToken, z.name, nil)
	checkSpec(t, s)
}

// TestBlockingAcquire covers what of the blocking acquire needs the real
// server (the contract suite in adapters/httpapi covers the rest): a waiter
// whose connection closes leaves the queue, and the expiry sweep, on the
// real clock, hands a lock to its waiter when its lock delay ends. The
// subtests run in order: they count the fencing tokens issued.
func TestBlockingAcquire(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	wait10 := map[string]any{"wait_seconds": 10, "ttl_seconds": 60}

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
		s1.waitNotHeld(t, aliceToken, name)
		s1.waitCommit(t)
		wantDelayed(t, s1.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil), avail, 3)
		checkSpec(t, s1)
		s1.stop()

		s2 := startServer(t, e2eConfig(db), nil, nil)
		if time.Now().After(avail) {
			t.Fatalf("restart took too long to check the delay (now %s, available at %s)", time.Now(), avail)
		}
		s2.wantDelayedLock(t, aliceToken, name, avail)
		wantDelayed(t, s2.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil), avail, 3)
		wantDelayed(t, s2.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, nil), avail, 3)
		s2.call(t, http.MethodPost, lockPath(name, "/renew"), aliceToken, map[string]any{"lease_id": a.id}).
			problem(t, http.StatusConflict, "lease_not_current")
		b := s2.acquireWhenAvailable(t, bobToken, name, avail)
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
