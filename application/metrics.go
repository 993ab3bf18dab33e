package application

import (
	"time"

	"github.com/octostore/octostore/domain"
)

// Gauges is a snapshot of the live state's sizes, for metrics and the
// status page. Each figure is read from memory under its own short lock,
// so the figures may come from moments a commit apart.
type Gauges struct {
	// LockRecords are the lock records in memory: held, in their lock
	// delay, or expired and not yet swept (the sweep frees those within
	// locks.sweep_interval).
	LockRecords int
	// Sessions are the open sessions.
	Sessions int
	// Waiters are the blocking acquires queued on busy locks.
	Waiters int
	// EventsRetained are the events kept for resume and the events page.
	EventsRetained uint64
	// Deliveries counts the webhook delivery records kept in memory (the
	// newest of each webhook) by their state.
	Deliveries map[domain.DeliveryState]int
	// RestoreTook is how long start-up took to restore the state (zero
	// before it has).
	RestoreTook time.Duration
}

// Gauges returns the sizes of the live state. It never touches storage;
// it costs a pass over the webhooks' delivery records and nothing per lock.
func (e *Engine) Gauges() Gauges {
	head, floor := e.hub.position()
	return Gauges{
		LockRecords:    e.st.size(),
		Sessions:       e.st.sessionCount(),
		Waiters:        e.waiters.total(),
		EventsRetained: head - min(head, floor),
		Deliveries:     e.hooks.deliveryStates(),
		RestoreTook:    time.Duration(e.restoreTook.Load()),
	}
}

// Ready reports whether the engine has restored the state and its writer
// runs.
func (e *Engine) Ready() bool { return e.started.Load() }

// OpenStreams returns how many watch streams are open.
func (s *EventService) OpenStreams() int {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.b.open
}

// sessionCount returns the number of open sessions.
func (t *state) sessionCount() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.sessions)
}

// total returns how many requests wait on any lock; any goroutine may call
// it.
func (r *waitRegistry) total() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	n := 0
	for _, c := range r.perOrg {
		n += c
	}
	return n
}

// deliveryStates counts the kept delivery records by state.
func (t *webhookTable) deliveryStates() map[domain.DeliveryState]int {
	out := map[domain.DeliveryState]int{domain.DeliveryPending: 0, domain.DeliveryDelivered: 0, domain.DeliveryFailed: 0}
	t.mu.RLock()
	defer t.mu.RUnlock()
	for _, h := range t.byID {
		for _, d := range h.deliveries {
			out[d.State]++
		}
	}
	return out
}
