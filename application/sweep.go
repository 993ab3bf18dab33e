package application

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
)

// sweeper frees expired locks promptly so that listings, and the events of
// later features, follow expiry. Correctness does not depend on it: every
// decision already treats a lock past its expiry as free. It keeps a heap
// of expiry times, so a pass costs O(expired · log n), not O(locks).
type sweeper struct {
	e    *Engine
	mu   sync.Mutex
	due  expiryHeap
	quit chan struct{}
	done chan struct{}
}

// expiryHeap orders lock records by expiry. An entry points at the record
// as it was saved; a renewal or release replaces the record, so an entry
// whose pointer is no longer the table's current record is stale and is
// dropped when it comes due.
type expiryHeap []*domain.Lock

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].ExpiresAt.Before(h[j].ExpiresAt) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(*domain.Lock)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return x
}

func newSweeper(e *Engine) *sweeper {
	return &sweeper{e: e, quit: make(chan struct{}), done: make(chan struct{})}
}

// track records the expiry of every saved lock record.
func (s *sweeper) track(saved []*domain.Lock) {
	if len(saved) == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.due.Len() == 0 {
		// Start-up: build the heap in O(n) rather than n pushes.
		s.due = append(s.due, saved...)
		heap.Init(&s.due)
		return
	}
	for _, l := range saved {
		heap.Push(&s.due, l)
	}
}

func (s *sweeper) start() {
	go func() {
		defer close(s.done)
		t := time.NewTicker(s.e.cfg.SweepInterval)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
				if err := s.pass(context.Background()); err != nil {
					s.e.log.Warn("expiry sweep", "err", err)
				}
			}
		}
	}()
}

func (s *sweeper) stop() {
	close(s.quit)
	<-s.done
}

// pass deletes the locks that have expired by now.
func (s *sweeper) pass(ctx context.Context) error {
	now := s.e.clock.Now()
	var keys []domain.LockKey
	s.mu.Lock()
	for s.due.Len() > 0 && !now.Before(s.due[0].ExpiresAt) {
		l := heap.Pop(&s.due).(*domain.Lock)
		if s.e.locks.current(l) {
			keys = append(keys, l.Key)
		}
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		return nil
	}
	_, err := s.e.submit(ctx, func(x *txn) (any, error) {
		for _, k := range keys {
			if x.lock(k).ExpiredAt(x.now) {
				x.remove(k)
			}
		}
		return nil, nil
	})
	return err
}

// Sweep frees every lock expired by now, at once. Tests and the operator
// use it; the server also sweeps on its own.
func (e *Engine) Sweep(ctx context.Context) error { return e.sweep.pass(ctx) }
