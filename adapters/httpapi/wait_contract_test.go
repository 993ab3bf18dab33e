package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// The contract of the blocking acquire (wait_seconds): first come, first
// served. The order of the requests is made by the queue's own state (GET
// shows waiters), never by sleeping; lock delays and session expiries move
// with the fake clock.

// goAcquire sends a blocking acquire of name in the background.
func (a *api) goAcquire(ctx context.Context, token, name string, body map[string]any) <-chan *response {
	return a.goSend(request{method: http.MethodPost, path: lockPath(name, "/acquire"), token: token, body: body, ctx: ctx})
}

func TestWaitersFirstComeFirstServed(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const name = "wait/fifo"
	l := a.acquire(t, aliceTok, name, nil)
	var queue []<-chan *response
	for i := 1; i <= 3; i++ {
		queue = append(queue, a.goAcquire(context.Background(), bobTok, name, map[string]any{"wait_seconds": 30, "owner": "w" + strconv.Itoa(i)}))
		a.waitWaiters(t, name, i) // queued before the next one comes
	}
	for i, ch := range queue {
		pending(t, "waiter w"+strconv.Itoa(i+1), ch)
	}
	// A newcomer does not overtake the queue, not even one naming a
	// queued owner.
	a.post(lockPath(name, "/acquire"), bobTok, nil).problem(t, http.StatusConflict, "lock_held")
	a.post(lockPath(name, "/acquire"), bobTok, map[string]any{"owner": "w1"}).problem(t, http.StatusConflict, "lock_held")
	other := a.acquire(t, carolTok, name, nil) // another org's lock: no queue

	// Each release hands the lock to the next waiter in the same commit:
	// it holds the lock when the release is answered, with the next token.
	a.release(t, aliceTok, l)
	prev := other.token
	for i, ch := range queue {
		owner := "w" + strconv.Itoa(i+1)
		r := answer(t, "waiter "+owner, ch).ok(t, http.StatusOK)
		r.keys(t, append(leaseKeys, "owner")...)
		g := leaseOf(t, name, r)
		if r.str("status") != "acquired" || r.str("owner") != owner || g.token != prev+1 ||
			!g.expires.Equal(a.clock.Now().Add(time.Minute)) {
			t.Errorf("%v: want a grant to %s with token %d", r, owner, prev+1)
		}
		prev = g.token
		a.wantHeld(t, aliceTok, g, "acme/bob", map[string]string{"owner": owner})
		for j, later := range queue[i+1:] {
			pending(t, "waiter w"+strconv.Itoa(i+j+2), later)
		}
		a.waitWaiters(t, name, len(queue)-i-1)
		a.release(t, bobTok, g)
	}
	a.wantFree(t, aliceTok, name)
}

// TestWaiterThatLeaves: a blocking acquire whose request ends leaves the
// queue and is never granted; the next waiter gets the next token.
func TestWaiterThatLeaves(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const name = "wait/leave"
	l := a.acquire(t, aliceTok, name, nil)
	gone, leave := context.WithCancel(context.Background())
	defer leave()
	left := a.goAcquire(gone, bobTok, name, map[string]any{"wait_seconds": 30})
	a.waitWaiters(t, name, 1)
	stays := a.goAcquire(context.Background(), bobTok, name, map[string]any{"wait_seconds": 30, "owner": "stays"})
	a.waitWaiters(t, name, 2)
	leave()
	answer(t, "the waiter that left", left)
	a.waitWaiters(t, name, 1)
	pending(t, "the waiter that stays", stays)

	a.release(t, aliceTok, l)
	r := answer(t, "the waiter that stays", stays).ok(t, http.StatusOK)
	if g := leaseOf(t, name, r); g.token != l.token+1 || r.str("owner") != "stays" {
		t.Errorf("%v: want token %d for the waiter that stayed (none for the one that left)", r, l.token+1)
	}
}

// TestWaiterWithSession: a session waiter is granted as its session, an
// ephemeral lock until the session's expiry; a waiter whose session expired
// while it waited is refused with 410 when the lock comes free, and the
// lock stays free.
func TestWaiterWithSession(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "wait/session", nil)
	s := a.openSession(t, bobTok, 30)
	w := a.goAcquire(context.Background(), bobTok, l.name, withSession(s, map[string]any{"wait_seconds": 30, "ephemeral": true}))
	a.waitWaiters(t, l.name, 1)
	a.release(t, aliceTok, l)
	r := answer(t, "session waiter", w).ok(t, http.StatusOK).keys(t, append(leaseKeys, "session_id", "ephemeral")...)
	if r.str("session_id") != s.id || r.obj["ephemeral"] != true || !r.time(t, "expires_at").Equal(s.expires) {
		t.Errorf("%v: want an ephemeral grant to %s until %s", r, s.id, s.expires)
	}

	busy := a.acquire(t, aliceTok, "wait/expired", map[string]any{"ttl_seconds": 120})
	short := a.openSession(t, bobTok, 10)
	w = a.goAcquire(context.Background(), bobTok, busy.name, withSession(short, map[string]any{"wait_seconds": 30}))
	a.waitWaiters(t, busy.name, 1)
	a.clock.Advance(10 * time.Second)
	pending(t, "waiter of an expired session", w)
	a.release(t, aliceTok, busy)
	answer(t, "waiter of an expired session", w).problem(t, http.StatusGone, "session_expired").nowhere(t)
	a.wantFree(t, aliceTok, busy.name)
}

// TestWaiterOfDelayedLock: a waiter queued during a lock delay is granted
// when the delay ends (the sweep frees the record and serves the queue).
func TestWaiterOfDelayedLock(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "wait/delayed", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 5})
	a.clock.Advance(time.Second)
	w := a.goAcquire(context.Background(), bobTok, l.name, map[string]any{"wait_seconds": 30})
	a.waitWaiters(t, l.name, 1)
	a.clock.Advance(4 * time.Second)
	a.sweep(t)
	pending(t, "waiter during the delay", w)
	a.clock.Advance(time.Second)
	a.sweep(t)
	r := answer(t, "waiter after the delay", w).ok(t, http.StatusOK)
	if g := leaseOf(t, l.name, r); g.token != l.token+1 {
		t.Errorf("%v: want token %d", r, l.token+1)
	}
}

// TestWaitRunsOut: a wait that runs out answers as a plain acquire would
// (the server's own timer: one real second). A waiter of a free lock, and
// the holder, are answered at once.
func TestWaitRunsOut(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	held := a.acquire(t, aliceTok, "wait/held", map[string]any{"owner": "a"})
	delayed := a.acquire(t, aliceTok, "wait/delayed", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 30})
	a.clock.Advance(time.Second)
	onHeld := a.goAcquire(context.Background(), bobTok, held.name, map[string]any{"wait_seconds": 1})
	onDelayed := a.goAcquire(context.Background(), bobTok, delayed.name, map[string]any{"wait_seconds": 1})

	held = leaseOf(t, held.name, a.post(lockPath(held.name, "/acquire"), aliceTok, map[string]any{"wait_seconds": 5, "owner": "a"}).ok(t, http.StatusOK))
	a.post(lockPath("wait/free", "/acquire"), bobTok, map[string]any{"wait_seconds": 5}).ok(t, http.StatusOK)

	r := answer(t, "wait on a held lock", onHeld).problem(t, http.StatusConflict, "lock_held")
	if !r.time(t, "expires_at").Equal(held.expires) {
		t.Errorf("%v: want expires_at %s", r, held.expires)
	}
	wantRetryAfter(t, r, held.expires, a.clock.Now())
	r = answer(t, "wait on a delayed lock", onDelayed).problem(t, http.StatusLocked, "lock_delayed")
	if avail := delayed.expires.Add(30 * time.Second); !r.time(t, "available_at").Equal(avail) {
		t.Errorf("%v: want available_at %s", r, avail)
	}
	a.waitWaiters(t, held.name, 0)
	a.waitWaiters(t, delayed.name, 0)
}
