package application

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
)

// waiter is a blocking acquire queued on a lock. Its fields are written
// only by the writer goroutine; the request goroutine reads them after done
// is closed.
type waiter struct {
	ctx     context.Context // the requester's: a waiter whose ctx ended is never granted
	key     domain.LockKey
	p       domain.Principal
	session domain.SessionID // "" when the holder is not a session
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

// waitRegistry holds every lock's waiters, first come first served. The
// queues belong to the writer goroutine; the per-lock counts are also read
// by request goroutines (GET shows them), under mu.
type waitRegistry struct {
	queues   map[domain.LockKey]*list.List // writer goroutine only
	draining bool                          // writer goroutine only: no new waiters

	mu     sync.RWMutex
	counts map[domain.LockKey]int
	// perOrg counts the waiters of each org, for its quota.
	perOrg map[domain.OrgID]int
}

func newWaitRegistry() *waitRegistry {
	return &waitRegistry{queues: make(map[domain.LockKey]*list.List), counts: make(map[domain.LockKey]int),
		perOrg: make(map[domain.OrgID]int)}
}

// add queues w behind the waiters of its lock.
func (r *waitRegistry) add(w *waiter) {
	q := r.queues[w.key]
	if q == nil {
		q = list.New()
		r.queues[w.key] = q
	}
	w.elem = q.PushBack(w)
	r.setCount(w.key, q.Len(), 1)
}

// remove takes w out of its queue; a waiter not queued is left alone.
func (r *waitRegistry) remove(w *waiter) {
	if w.elem == nil {
		return
	}
	q := r.queues[w.key]
	q.Remove(w.elem)
	w.elem = nil
	if q.Len() == 0 {
		delete(r.queues, w.key)
	}
	r.setCount(w.key, q.Len(), -1)
}

// front returns the oldest waiter of key, or nil.
func (r *waitRegistry) front(key domain.LockKey) *waiter {
	if q := r.queues[key]; q != nil && q.Len() > 0 {
		return q.Front().Value.(*waiter)
	}
	return nil
}

func (r *waitRegistry) setCount(key domain.LockKey, n, delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.perOrg[key.Org] += delta; r.perOrg[key.Org] <= 0 {
		delete(r.perOrg, key.Org)
	}
	if n == 0 {
		delete(r.counts, key)
	} else {
		r.counts[key] = n
	}
}

// count returns how many requests wait on key; any goroutine may call it.
func (r *waitRegistry) count(key domain.LockKey) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.counts[key]
}

// orgCount returns how many requests of org wait; any goroutine may call
// it.
func (r *waitRegistry) orgCount(org domain.OrgID) int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.perOrg[org]
}

// hasWaiters reports whether anyone waits on key; writer goroutine only
// (it reads the queues, without the lock that readers of the counts take).
func (e *Engine) hasWaiters(key domain.LockKey) bool { return e.waiters.front(key) != nil }

// Waiting returns how many blocking acquires are queued on key now.
func (e *Engine) Waiting(key domain.LockKey) int { return e.waiters.count(key) }

// enqueue adds a blocking acquire to key's queue in this batch, or refuses
// it while the server shuts down or when the org's waiters quota is
// reached (a *domain.QuotaExceededError).
func (e *Engine) enqueue(x *txn, ctx context.Context, key domain.LockKey, p domain.Principal, session domain.SessionID, req domain.AcquireRequest) (*waiter, error) {
	if e.waiters.draining {
		return nil, errShuttingDown
	}
	if err := x.within(key.Org, domain.QuotaWaiters, e.waiters.orgCount(key.Org)); err != nil {
		return nil, err
	}
	w := &waiter{ctx: ctx, key: key, p: p, session: session, req: req, done: make(chan struct{})}
	e.waiters.add(w)
	x.queued = append(x.queued, w)
	return w, nil
}

// serveWaiters grants key to its queued waiters, oldest first, while the
// lock is available in x. A waiter whose client has gone is dropped, never
// granted; a waiter whose session is no longer alive at this moment is
// refused (etcd 3.4 grants locks to waiters whose lease expired while they
// waited; OctoStore must not).
func (e *Engine) serveWaiters(x *txn, key domain.LockKey) {
	for w := e.waiters.front(key); w != nil; w = e.waiters.front(key) {
		cur := x.lock(key)
		if cur.HeldAt(x.now) || (cur.Exists() && x.now.Before(cur.AvailableAt())) {
			return
		}
		e.waiters.remove(w)
		x.answered = append(x.answered, w) // answered after the commit
		if err := w.ctx.Err(); err != nil {
			w.err = err
			continue
		}
		req := w.req
		if w.session != "" {
			s, err := x.useSession(w.p, w.session)
			if err != nil {
				w.err = err
				continue
			}
			req.SessionExpiresAt = s.ExpiresAt
		}
		w.grant, w.err = x.acquire(key, cur, req)
	}
}

// await waits for w's grant until the wait runs out or the client goes
// away. Leaving is decided by the writer, so a grant and a departure can
// never both stand: a grant that raced a timeout is returned; a grant
// that raced a disconnect is revoked for the next waiter.
func (e *Engine) await(ctx context.Context, w *waiter, wait time.Duration) (domain.Lock, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-w.done:
	case <-timer.C:
		e.leave(w)
	case <-ctx.Done():
		e.leave(w)
	}
	if ctx.Err() != nil {
		if w.err == nil && w.lock.Exists() {
			e.revoke(w.lock)
		}
		return domain.Lock{}, ctx.Err()
	}
	return w.lock, w.err
}

// leave takes w out of its queue unless it was answered first; then w is
// answered with why the lock could not be granted.
func (e *Engine) leave(w *waiter) {
	_ = e.submit(context.Background(), func(x *txn) error {
		if !w.closed {
			e.waiters.remove(w)
			w.finish(domain.Lock{}, busyError(x.lock(w.key), w.key.Name, x.now))
		}
		return nil
	})
	select {
	case <-w.done:
	case <-e.exited:
		// The writer has stopped without answering w; nothing else
		// touches it now.
		w.finish(domain.Lock{}, domain.ErrUnavailable)
	}
}

// revoke releases l if its lease still holds the lock: the grant was made
// for a client that left before it could be told. Only a holder that can
// never ask again is revoked: a client with a session or an owner gets the
// same lease back by retrying, and a revoke racing that retry would free
// the lock under it.
func (e *Engine) revoke(l domain.Lock) {
	if l.Holder.Retries() {
		return
	}
	err := e.submit(context.Background(), func(x *txn) error {
		if cur := x.lock(l.Key); cur.Lease == l.Lease && cur.HeldAt(x.now) {
			return x.release(l.Key, l.Lease)
		}
		return nil
	})
	if err != nil {
		e.log.Warn("revoke a grant to a client that left", "org", l.Key.Org, "lock", l.Key.Name, "err", err)
	}
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

// errShuttingDown answers waiters when the server stops.
var errShuttingDown = &domain.Error{Kind: domain.KindUnavailable, Code: "shutting_down",
	Msg: "the server is shutting down; retry against it once it is back"}

// Drain answers every queued waiter with a shutting-down error, so that a
// graceful shutdown does not wait out their waits. From then on a busy
// lock is answered at once instead of queueing. Watch streams and webhook
// lanes end too.
func (e *Engine) Drain(ctx context.Context) error {
	e.hub.close() // watch streams end, so that they do not hold the shutdown
	return e.submit(ctx, func(x *txn) error {
		e.waiters.draining = true
		for key := range e.waiters.queues {
			for w := e.waiters.front(key); w != nil; w = e.waiters.front(key) {
				e.waiters.remove(w)
				w.err = errShuttingDown
				x.answered = append(x.answered, w)
			}
		}
		return nil
	})
}
