package application

import (
	"container/heap"
	"context"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
)

// sweeper ends what has run out: it removes lock records whose expiry (and
// lock delay) has passed, ends expired sessions with their ephemeral locks,
// hands freed locks to waiters, and keeps the idle heartbeat. Correctness
// does not depend on it, because every decision already treats expired
// things as expired; it keeps listings, events and waiters prompt. A heap
// of due times makes a pass cost O(due · log n), not O(locks).
type sweeper struct {
	e    *Engine
	mu   sync.Mutex
	due  dueHeap
	kick chan struct{}
	quit chan struct{}
	done chan struct{}
	// pruned is when tombstones of ended sessions were last pruned
	// (guarded by mu: Engine.Sweep may run beside the sweeper goroutine).
	pruned time.Time
}

// dueItem is a lock record or a session that comes due at 'at'. It points at
// the record as it was saved; a later save replaces the record, so an item
// whose pointer is no longer current is stale and is dropped.
type dueItem struct {
	at      time.Time
	lock    *domain.Lock
	session *domain.Session
}

type dueHeap []dueItem

func (h dueHeap) Len() int           { return len(h) }
func (h dueHeap) Less(i, j int) bool { return h[i].at.Before(h[j].at) }
func (h dueHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *dueHeap) Push(x any)        { *h = append(*h, x.(dueItem)) }
func (h *dueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	old[len(old)-1] = dueItem{}
	*h = old[:len(old)-1]
	return x
}

func newSweeper(e *Engine) *sweeper {
	return &sweeper{e: e, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
}

// track schedules every published lock record (ephemeral ones follow their
// session instead) and session.
func (s *sweeper) track(p published) {
	if len(p.locks) == 0 && len(p.sessions) == 0 {
		return
	}
	s.mu.Lock()
	earliest := time.Time{}
	if s.due.Len() > 0 {
		earliest = s.due[0].at
	}
	bulk := s.due.Len() == 0
	add := func(it dueItem) {
		if bulk {
			s.due = append(s.due, it)
		} else {
			heap.Push(&s.due, it)
		}
	}
	for _, l := range p.locks {
		if !l.Ephemeral {
			add(dueItem{at: l.AvailableAt(), lock: l})
		}
	}
	for _, ss := range p.sessions {
		add(dueItem{at: ss.ExpiresAt, session: ss})
	}
	if bulk {
		heap.Init(&s.due) // start-up: O(n) rather than n pushes
	}
	sooner := s.due.Len() > 0 && (earliest.IsZero() || s.due[0].at.Before(earliest))
	s.mu.Unlock()
	if sooner {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
}

func (s *sweeper) start() {
	go func() {
		defer close(s.done)
		t := time.NewTimer(0)
		defer t.Stop()
		for {
			select {
			case <-s.quit:
				return
			case <-t.C:
			case <-s.kick:
			}
			if err := s.pass(context.Background()); err != nil {
				s.e.log.Warn("expiry sweep", "err", err)
			}
			t.Reset(s.wait())
		}
	}()
}

// wait returns how long to sleep: until the next item comes due, but at
// most one sweep interval (the heartbeat and tombstone pruning ride on it).
func (s *sweeper) wait() time.Duration {
	d := s.e.cfg.SweepInterval
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.due.Len() > 0 {
		if until := s.due[0].at.Sub(s.e.clock.Now()); until < d {
			d = max(until, time.Millisecond)
		}
	}
	return d
}

func (s *sweeper) stop() {
	close(s.quit)
	<-s.done
}

// pass ends everything due by now and keeps the heartbeat.
func (s *sweeper) pass(ctx context.Context) error {
	now := s.e.clock.Now()
	var locks []domain.LockKey
	var sessions []domain.SessionID
	s.mu.Lock()
	for s.due.Len() > 0 && !now.Before(s.due[0].at) {
		it := heap.Pop(&s.due).(dueItem)
		switch {
		case it.lock != nil && s.e.st.currentLock(it.lock):
			locks = append(locks, it.lock.Key)
		case it.session != nil && s.e.st.currentSession(it.session):
			sessions = append(sessions, it.session.ID)
		}
	}
	prune := now.Sub(s.pruned) >= time.Minute
	if prune {
		s.pruned = now
	}
	s.mu.Unlock()
	if prune {
		s.e.st.forgetEnded(now.Add(-time.Hour))
	}
	return s.e.submit(ctx, func(x *txn) error {
		for _, id := range sessions {
			if ss := x.session(id); ss.Exists() && !ss.AliveAt(x.now) {
				x.endSession(ss, true)
			}
		}
		for _, k := range locks {
			if l := x.lock(k); l.Removable(x.now) {
				x.remove(k)
				x.event(domain.EventLockExpired, k.Org, k.Name, l.Holder, l.Token, l.ExpiresAt)
			}
		}
		return nil
	})
}

// Sweep ends everything due by now, at once. Tests use it; the server also
// sweeps on its own.
func (e *Engine) Sweep(ctx context.Context) error { return e.sweep.pass(ctx) }
