package application

import (
	"container/list"
	"context"
	"time"

	"github.com/octostore/octostore/domain"
)

// waiter is a blocking acquire queued on a lock. Its fields are written
// only by the writer goroutine; the request goroutine reads them after done
// is closed.
type waiter struct {
	key     domain.LockKey
	p       domain.Principal
	session domain.SessionID // "" when the holder is the principal
	req     domain.AcquireRequest
	elem    *list.Element

	// grant or err is decided in a batch and delivered (lock, err) when
	// the batch has committed.
	grant  domain.Lock
	lock   domain.Lock
	err    error
	closed bool
	done   chan struct{}
}

func (w *waiter) finish(l domain.Lock, err error) {
	if w.closed {
		return
	}
	w.lock, w.err, w.closed = l, err, true
	close(w.done)
}

// waitQueue holds a lock's waiters, first come first served.
type waitQueue struct{ l list.List }

// enqueue adds w to the queue of its lock.
func (e *Engine) enqueue(w *waiter) {
	q := e.waiters[w.key]
	if q == nil {
		q = &waitQueue{}
		e.waiters[w.key] = q
	}
	w.elem = q.l.PushBack(w)
}

func (e *Engine) dequeue(w *waiter) {
	if w.elem == nil {
		return
	}
	q := e.waiters[w.key]
	q.l.Remove(w.elem)
	w.elem = nil
	if q.l.Len() == 0 {
		delete(e.waiters, w.key)
	}
}

// serveWaiters grants key to its queued waiters, oldest first, while the
// lock is available in x. A waiter whose session is no longer alive at this
// moment is refused, not granted (etcd 3.4 grants locks to waiters whose
// lease expired while they waited; OctoStore must not).
func (e *Engine) serveWaiters(x *txn, key domain.LockKey) {
	q := e.waiters[key]
	for q != nil && q.l.Len() > 0 {
		w := q.l.Front().Value.(*waiter)
		cur := x.lock(key)
		if cur.HeldAt(x.now) || (cur.Exists() && x.now.Before(cur.AvailableAt())) {
			return
		}
		e.dequeue(w)
		req := w.req
		if w.session != "" {
			s, err := x.useSession(w.p, w.session)
			if err != nil {
				w.err = err
				x.granted = append(x.granted, w)
				q = e.waiters[key]
				continue
			}
			req.SessionExpiresAt = s.ExpiresAt
		}
		next, err := cur.Acquire(key, req, x.now, x.counter)
		if err != nil {
			w.err = err
		} else {
			if cur.ExpiredAt(x.now) {
				x.event(domain.EventLockExpired, key.Org, key.Name, cur.Token, cur.ExpiresAt)
			}
			x.save(next)
			x.event(domain.EventLockAcquired, key.Org, key.Name, next.Token, x.now)
			w.grant = next
		}
		x.granted = append(x.granted, w) // answered after the commit
		q = e.waiters[key]
	}
}

// await waits for w's grant until the wait runs out or the client goes
// away. Leaving is decided by the writer, so a grant and a departure can
// never both happen: a grant that raced a timeout is returned; a grant
// that raced a disconnect is released for the next waiter.
func (e *Engine) await(ctx context.Context, w *waiter, wait time.Duration) (domain.Lock, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	cancelled := false
	select {
	case <-w.done:
		return w.lock, w.err
	case <-timer.C:
	case <-ctx.Done():
		cancelled = true
	}
	_, err := e.submit(context.WithoutCancel(ctx), func(x *txn) (any, error) {
		if !w.closed {
			e.dequeue(w)
			cur := x.lock(w.key)
			w.finish(domain.Lock{}, busyError(cur, w.key.Name, x.now))
			return nil, nil
		}
		if cancelled && w.err == nil {
			if cur := x.lock(w.key); cur.Lease == w.lock.Lease && cur.HeldAt(x.now) {
				x.remove(w.key)
				x.event(domain.EventLockReleased, w.key.Org, w.key.Name, cur.Token, x.now)
			}
		}
		return nil, nil
	})
	switch {
	case cancelled:
		return domain.Lock{}, ctx.Err()
	case err != nil:
		return domain.Lock{}, err
	}
	return w.lock, w.err
}

// busyError is the answer to an acquire that cannot be granted now.
func busyError(cur domain.Lock, name domain.LockName, now time.Time) error {
	if cur.HeldAt(now) {
		return &domain.LockHeldError{Name: name, ExpiresAt: cur.ExpiresAt}
	}
	if cur.Exists() && now.Before(cur.AvailableAt()) {
		return &domain.LockDelayedError{Name: name, AvailableAt: cur.AvailableAt()}
	}
	return &domain.LockHeldError{Name: name, ExpiresAt: now}
}

// Waiting returns how many requests wait on key (for tests and metrics).
// It asks the writer, which owns the queues.
func (e *Engine) Waiting(key domain.LockKey) int {
	n, err := e.submit(context.Background(), func(*txn) (any, error) {
		if q := e.waiters[key]; q != nil {
			return q.l.Len(), nil
		}
		return 0, nil
	})
	if err != nil {
		return 0
	}
	return n.(int)
}

// errShuttingDown answers waiters when the server stops.
var errShuttingDown = &domain.Error{Kind: domain.KindUnavailable, Code: "shutting_down",
	Msg: "the server is shutting down; retry against it once it is back"}

// Drain answers every queued waiter with a shutting-down error, so that a
// graceful shutdown does not wait out their wait_seconds. From then on a
// busy lock is answered at once instead of queueing.
func (e *Engine) Drain(ctx context.Context) error {
	_, err := e.submit(ctx, func(x *txn) (any, error) {
		e.draining = true
		for key, q := range e.waiters {
			for q.l.Len() > 0 {
				w := q.l.Front().Value.(*waiter)
				e.dequeue(w)
				w.err = errShuttingDown
				x.granted = append(x.granted, w)
			}
			delete(e.waiters, key)
		}
		return nil, nil
	})
	return err
}
