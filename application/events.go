package application

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/octostore/octostore/domain"
)

// ErrTooManyWatches is returned when the server or the caller has as many
// watch streams open as allowed.
var ErrTooManyWatches = &domain.Error{Kind: domain.KindTooMany, Code: "too_many_watches",
	Msg: "too many watch streams are open (for the server or for you); close one or retry later"}

// ErrWatchEnded is returned by Watch.Next once the stream is over: it sent
// "lagged", or the server is stopping. The client resumes with the last id
// it received.
var ErrWatchEnded = errors.New("watch ended")

// WatchLimits bounds watch streams. The zero value is usable.
type WatchLimits struct {
	MaxStreams   int // open streams on the server (10,000 by default)
	PerPrincipal int // open streams of one org/user (100 by default)
	// MaxLag is how many events a live stream may fall behind the newest
	// before it is ended with "lagged" (10,000 by default).
	MaxLag uint64
}

// EventService holds the event use cases: the events page and watches.
// Both read the one event stream, scoped to the caller's org.
type EventService struct {
	e   *Engine
	lim WatchLimits

	mu      sync.Mutex
	open    map[*Watch]struct{}
	perUser map[domain.Principal]int
}

// NewEventService returns the event use cases backed by e.
func NewEventService(e *Engine, lim WatchLimits) *EventService {
	if lim.MaxStreams <= 0 {
		lim.MaxStreams = 10_000
	}
	if lim.PerPrincipal <= 0 {
		lim.PerPrincipal = 100
	}
	if lim.MaxLag == 0 {
		lim.MaxLag = 10_000
	}
	return &EventService{e: e, lim: lim, open: make(map[*Watch]struct{}), perUser: make(map[domain.Principal]int)}
}

// MaxEventPage is the largest page of events.
const MaxEventPage = 1000

// EventPage is one page of the event stream.
type EventPage struct {
	Events []domain.Event
	// NextAfter is the seq to pass as 'after' for the next page: the last
	// event looked at, shown or not.
	NextAfter uint64
	// Reset is set when 'after' was older than the retained events (or
	// newer than any event): the page starts at the oldest retained one,
	// and changes in between are lost to the caller, who should re-read
	// the state.
	Reset bool
}

// Page returns up to limit events of the caller's org whose lock names
// match prefix, with a seq above after, oldest first. It looks at a bounded
// number of events per call, so a page may come back short (even empty)
// while NextAfter moves on.
func (s *EventService) Page(ctx context.Context, p domain.Principal, after uint64, prefix domain.Prefix, limit int) (EventPage, error) {
	if p.Admin {
		return EventPage{}, domain.ErrAdminNotTenant
	}
	if limit <= 0 || limit > MaxEventPage {
		return EventPage{}, domain.Invalid("invalid_limit", "limit must be from 1 to 1000")
	}
	head, floor := s.e.hub.position()
	page := EventPage{Events: []domain.Event{}}
	if after > head || after < floor {
		page.Reset, after = true, floor
	}
	for budget := 10*limit + 1000; len(page.Events) < limit && after < head && budget > 0; {
		evs, _, err := s.e.eventsAfter(ctx, after, min(budget, 512))
		if errors.Is(err, errTrimmed) {
			_, floor = s.e.hub.position()
			page.Reset, after = true, max(after+1, floor)
			continue
		}
		if err != nil {
			return EventPage{}, err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if len(page.Events) == limit {
				break
			}
			after = ev.Seq
			budget--
			if ev.Visible(p.Org, prefix) {
				page.Events = append(page.Events, ev)
			}
		}
	}
	page.NextAfter = after
	return page, nil
}

// FrameKind says what a watch frame carries.
type FrameKind string

// The frames of a watch stream.
const (
	FrameSnapshot FrameKind = "snapshot" // the watched locks now; Seq is the event it reflects
	FrameEvent    FrameKind = "event"    // one event
	FrameReset    FrameKind = "reset"    // the resume id is no longer retained; a snapshot follows
	FrameLagged   FrameKind = "lagged"   // the stream fell too far behind and ends
)

// Frame is one item of a watch stream.
type Frame struct {
	Kind  FrameKind
	Seq   uint64
	Event domain.Event // FrameEvent
	Locks []LockView   // FrameSnapshot: held or delayed locks, in name order
}

// WatchTarget is what a watch follows: one lock (Name) or every lock whose
// name matches Prefix (the zero Prefix: the whole org).
type WatchTarget struct {
	Name   domain.LockName
	Prefix domain.Prefix
}

func (t WatchTarget) matches(n domain.LockName) bool {
	if t.Name != "" {
		return n == t.Name
	}
	return t.Prefix.Matches(n)
}

// Watch is one open stream. Next hands out its frames; Close frees its
// place under the limits. It is used by one goroutine.
type Watch struct {
	s       *EventService
	p       domain.Principal
	target  WatchTarget
	cursor  atomic.Uint64 // last seq handed out
	live    atomic.Bool   // has read from memory: the lag limit applies
	pending []Frame
	ended   bool
	once    sync.Once
}

// Watch opens a stream of the caller's org. Without lastEventID it starts
// with a snapshot; with one (the last id a client received) it resumes
// after it, or, when that id is no longer retained (or was never issued),
// starts with reset and a fresh snapshot. Returns ErrTooManyWatches at the
// server's or the caller's limit.
func (s *EventService) Watch(_ context.Context, p domain.Principal, target WatchTarget, lastEventID *uint64) (*Watch, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	w := &Watch{s: s, p: p, target: target}
	s.mu.Lock()
	if len(s.open) >= s.lim.MaxStreams || s.perUser[p] >= s.lim.PerPrincipal {
		s.mu.Unlock()
		return nil, ErrTooManyWatches
	}
	s.open[w] = struct{}{}
	s.perUser[p]++
	s.mu.Unlock()
	head, floor := s.e.hub.position()
	switch {
	case lastEventID == nil:
		w.snapshot()
	case *lastEventID < floor || *lastEventID > head:
		w.pending = append(w.pending, Frame{Kind: FrameReset})
		w.snapshot()
	default:
		w.cursor.Store(*lastEventID)
	}
	return w, nil
}

// snapshot queues the current state of the watched locks and moves the
// cursor to the event it reflects.
func (w *Watch) snapshot() {
	e := w.s.e
	locks, seq := e.st.watched(w.p.Org, w.target.Prefix, w.target.Name)
	now := e.now()
	views := []LockView{}
	for _, l := range locks {
		if v := e.view(l.Key, l, now); v.Status != StatusFree {
			views = append(views, v)
		}
	}
	w.pending = append(w.pending, Frame{Kind: FrameSnapshot, Seq: seq, Locks: views})
	w.cursor.Store(seq)
}

// Next returns the next frames, waiting until there are some or ctx ends
// (then it returns ctx's error and the stream can go on). It returns
// ErrWatchEnded after "lagged" and when the server stops.
func (w *Watch) Next(ctx context.Context) ([]Frame, error) {
	if out := w.pending; len(out) > 0 {
		w.pending = nil
		return out, nil
	}
	if w.ended {
		return nil, ErrWatchEnded
	}
	e := w.s.e
	for {
		changed := e.hub.changed()
		cursor := w.cursor.Load()
		if head, _ := e.hub.position(); w.live.Load() && head > cursor+w.s.lim.MaxLag {
			w.ended = true
			return []Frame{{Kind: FrameLagged, Seq: cursor}}, nil
		}
		evs, live, err := e.eventsAfter(ctx, cursor, 256)
		switch {
		case errors.Is(err, errTrimmed):
			w.pending = []Frame{{Kind: FrameReset}}
			w.snapshot()
			return w.Next(ctx)
		case errors.Is(err, errHubClosed):
			w.ended = true
			return nil, ErrWatchEnded
		case err != nil:
			return nil, err
		}
		if live {
			w.live.Store(true)
		}
		var out []Frame
		for _, ev := range evs {
			if ev.Visible(w.p.Org, domain.Prefix{}) && w.target.matches(ev.Name) {
				out = append(out, Frame{Kind: FrameEvent, Seq: ev.Seq, Event: ev})
			}
		}
		if len(evs) > 0 {
			w.cursor.Store(evs[len(evs)-1].Seq)
		}
		if len(out) > 0 {
			return out, nil
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// Close ends the stream and frees its place.
func (w *Watch) Close() {
	w.once.Do(func() {
		w.s.mu.Lock()
		defer w.s.mu.Unlock()
		delete(w.s.open, w)
		if w.s.perUser[w.p]--; w.s.perUser[w.p] <= 0 {
			delete(w.s.perUser, w.p)
		}
	})
}

// StreamStats describes the open watch streams, for metrics and tests.
type StreamStats struct {
	Open   int
	MaxLag uint64 // how far the furthest-behind live stream is behind the newest event
}

// Streams reports on the open watch streams.
func (s *EventService) Streams() StreamStats {
	head, _ := s.e.hub.position()
	s.mu.Lock()
	defer s.mu.Unlock()
	st := StreamStats{Open: len(s.open)}
	for w := range s.open {
		if c := w.cursor.Load(); w.live.Load() && head > c {
			st.MaxLag = max(st.MaxLag, head-c)
		}
	}
	return st
}
