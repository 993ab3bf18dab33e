package application

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/octostore/octostore/domain"
)

// errHubClosed ends every reader when the server stops.
var errHubClosed = errors.New("event stream closed: the server is stopping")

// errTrimmed tells a reader that events it has not seen were trimmed away.
var errTrimmed = errors.New("events were trimmed")

// hub publishes committed events to the readers in this process: SSE
// watches, the events page and the webhook lanes. The writer hands it each
// committed batch's events after the commit (publish costs it one short
// critical section and never blocks on a reader); readers pull from a ring
// of the newest events at their own pace, and older events come from the
// journal. Seqs are dense (each seq is one event), so a position in the
// ring is computed, not searched.
type hub struct {
	mu     sync.RWMutex
	ring   []domain.Event // circular; ring[(first+i)%len] has seq oldest+i
	first  int
	n      int
	head   uint64        // highest published seq
	floor  uint64        // storage may have trimmed every seq <= floor
	notify chan struct{} // closed and replaced by each publish
	closed bool
}

func newHub(size int) *hub {
	return &hub{ring: make([]domain.Event, max(size, 1)), notify: make(chan struct{})}
}

// reset positions an empty hub at head (start-up).
func (h *hub) reset(head, floor uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.head, h.floor, h.n, h.first = head, floor, 0, 0
}

// publish appends the events of a committed batch (seqs above head,
// ascending) and, when it had events or the floor rose, wakes every reader.
func (h *hub) publish(changes []domain.Change, floor uint64) {
	h.mu.Lock()
	woke := floor > h.floor
	for _, c := range changes {
		r, ok := c.(domain.EventRecorded)
		if !ok {
			continue
		}
		woke = true
		e := r.Event
		if e.Seq != h.head+1 {
			// Seqs of a refused batch are reused, so a gap means the
			// ring no longer follows: start it again at e.
			h.n, h.first = 0, 0
		}
		if h.n < len(h.ring) {
			h.ring[(h.first+h.n)%len(h.ring)] = e
			h.n++
		} else {
			h.ring[h.first] = e
			h.first = (h.first + 1) % len(h.ring)
		}
		h.head = e.Seq
	}
	h.floor = max(h.floor, floor)
	if h.closed || !woke { // closed: readers are gone, the channel closed already
		h.mu.Unlock()
		return
	}
	ch := h.notify
	h.notify = make(chan struct{})
	h.mu.Unlock()
	close(ch)
}

// close wakes every reader for the last time; reads then fail with
// errHubClosed.
func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.closed {
		h.closed = true
		close(h.notify)
	}
}

// position returns the highest published seq and the trim floor.
func (h *hub) position() (head, floor uint64) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.head, h.floor
}

// changed returns a channel that is closed at the next publish (or close).
func (h *hub) changed() <-chan struct{} {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.notify
}

// fromRing returns up to limit published events after 'after' from the
// ring, and false when the ring no longer holds after+1.
func (h *hub) fromRing(after uint64, limit int) ([]domain.Event, uint64, bool, error) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if h.closed {
		return nil, h.head, false, errHubClosed
	}
	if after >= h.head {
		return nil, h.head, true, nil
	}
	oldest := h.head + 1 - uint64(h.n)
	if h.n == 0 || after+1 < oldest {
		return nil, h.head, false, nil
	}
	i := int(after + 1 - oldest)
	k := min(limit, h.n-i)
	out := make([]domain.Event, k)
	for j := range k {
		out[j] = h.ring[(h.first+i+j)%len(h.ring)]
	}
	return out, h.head, true, nil
}

// eventsAfter returns up to limit published events after 'after', in seq
// order, from the ring or else from storage, and whether they came from
// the ring (the reader is live). It returns errTrimmed when events after
// 'after' were trimmed from storage, and errHubClosed once the hub closed.
// Nothing above the published head is returned, so no reader sees an
// event before the state that follows from it.
func (e *Engine) eventsAfter(ctx context.Context, after uint64, limit int) ([]domain.Event, bool, error) {
	evs, head, ok, err := e.hub.fromRing(after, limit)
	if err != nil || ok {
		return evs, ok, err
	}
	stored, err := e.journal.Events(ctx, after, limit)
	if err != nil {
		return nil, false, fmt.Errorf("read stored events: %w", err)
	}
	if len(stored) == 0 || stored[0].Seq != after+1 {
		return nil, false, errTrimmed
	}
	n := len(stored)
	for n > 0 && stored[n-1].Seq > head {
		n--
	}
	return stored[:n], false, nil
}
