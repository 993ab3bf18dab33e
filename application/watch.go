package application

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/octostore/octostore/domain"
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
	// Auth is the credential the stream was opened with: revoking it ends
	// the stream.
	Auth domain.TokenHash
}

// wants reports whether the watch follows ev: a watch of one lock sees
// that lock's events only; a prefix watch sees every published event
// (locks and flags) whose name matches.
func (t WatchTarget) wants(ev domain.Event) bool {
	if t.Name != "" {
		return ev.Kind.IsLock() && ev.Name == t.Name
	}
	return t.Prefix.Matches(ev.Name)
}

// key is where the broker files a watch: the lock's name, or the
// prefix's base path.
func (t WatchTarget) key() string {
	if t.Name != "" {
		return string(t.Name)
	}
	return t.Prefix.Start()
}

// broker fans committed events out to watches. One goroutine follows the
// event stream and hands each event only to the watches whose org and
// name match (found by the name's path components, not by asking every
// watch), into a buffer per watch; a watch whose client does not take its
// events fast enough overflows its buffer and is ended with "lagged".
// Neither the writer nor one watch ever waits for another watch.
type broker struct {
	e   *Engine
	lim WatchLimits

	mu      sync.Mutex
	cursor  uint64 // last seq fanned out
	running bool
	byOrg   map[domain.OrgID]map[string][]*Watch
	open    int
	perUser map[domain.Principal]int
	perOrg  map[domain.OrgID]int
	closed  bool
}

func newBroker(e *Engine, lim WatchLimits) *broker {
	return &broker{e: e, lim: lim, byOrg: make(map[domain.OrgID]map[string][]*Watch), perUser: make(map[domain.Principal]int),
		perOrg: make(map[domain.OrgID]int)}
}

// add files w under its target and returns the seq from which the broker
// will hand it events (every event above it). It starts the fan-out on
// first use.
func (b *broker) add(w *Watch) (uint64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errHubClosed
	}
	if b.open >= b.lim.MaxStreams || b.perUser[w.p] >= b.lim.PerPrincipal {
		return 0, ErrTooManyWatches
	}
	if n := b.e.quotas.limit(w.p.Org, domain.QuotaWatchStreams); b.perOrg[w.p.Org] >= n {
		return 0, &domain.QuotaExceededError{Quota: domain.QuotaWatchStreams, Limit: n}
	}
	if !b.running {
		b.running = true
		b.cursor, _ = b.e.hub.position()
		go b.run()
	}
	keys := b.byOrg[w.p.Org]
	if keys == nil {
		keys = make(map[string][]*Watch)
		b.byOrg[w.p.Org] = keys
	}
	k := w.target.key()
	keys[k] = append(keys[k], w)
	b.open++
	b.perUser[w.p]++
	b.perOrg[w.p.Org]++
	return b.cursor, nil
}

func (b *broker) remove(w *Watch) {
	b.mu.Lock()
	defer b.mu.Unlock()
	keys := b.byOrg[w.p.Org]
	k := w.target.key()
	for i, x := range keys[k] {
		if x == w {
			keys[k] = append(keys[k][:i:i], keys[k][i+1:]...)
			b.open--
			if b.perUser[w.p]--; b.perUser[w.p] <= 0 {
				delete(b.perUser, w.p)
			}
			if b.perOrg[w.p.Org]--; b.perOrg[w.p.Org] <= 0 {
				delete(b.perOrg, w.p.Org)
			}
			break
		}
	}
	if len(keys[k]) == 0 {
		delete(keys, k)
	}
	if len(keys) == 0 {
		delete(b.byOrg, w.p.Org)
	}
}

// run is the fan-out loop. It reads what the writer published and ends
// every watch when the hub closes.
func (b *broker) run() {
	for {
		changed := b.e.hub.changed()
		b.mu.Lock()
		cursor := b.cursor
		b.mu.Unlock()
		evs, _, err := b.e.eventsAfter(context.Background(), cursor, 1024)
		switch {
		case errors.Is(err, errHubClosed):
			b.endAll(false)
			return
		case errors.Is(err, errTrimmed):
			// The fan-out fell behind what storage keeps: every watch
			// may have missed events, so each is told to resume.
			_, floor := b.e.hub.position()
			b.mu.Lock()
			b.cursor = max(b.cursor, floor)
			b.mu.Unlock()
			b.endAll(true)
			continue
		case err != nil:
			b.e.log.Error("watch fan-out cannot read events; retrying", "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		if len(evs) == 0 {
			<-changed
			continue
		}
		b.mu.Lock()
		for _, ev := range evs {
			b.cursor = ev.Seq
			if ev.Kind.Published() {
				b.fan(ev)
			}
		}
		b.mu.Unlock()
	}
}

// fan hands ev to every matching watch: those filed under the whole org
// (""), under a path prefix of its name, or under the name itself.
func (b *broker) fan(ev domain.Event) {
	keys := b.byOrg[ev.Org]
	if keys == nil {
		return
	}
	n := string(ev.Name)
	for i := 0; i <= len(n); i++ {
		if i > 0 && i < len(n) && n[i] != '/' {
			continue
		}
		for _, w := range keys[n[:i]] {
			if w.target.wants(ev) {
				w.push(ev, b.lim.MaxLag)
			}
		}
	}
}

// revoked ends the watches opened with a revoked credential.
func (b *broker) revoked(hashes []domain.TokenHash) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, keys := range b.byOrg {
		for _, ws := range keys {
			for _, w := range ws {
				for _, h := range hashes {
					if w.target.Auth == h {
						w.end(false)
					}
				}
			}
		}
	}
}

// endAll ends every watch: with "lagged" when they missed events, or
// silently when the server stops (then no watch is accepted any more).
func (b *broker) endAll(lagged bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !lagged {
		b.closed = true
	}
	for _, keys := range b.byOrg {
		for _, ws := range keys {
			for _, w := range ws {
				w.end(lagged)
			}
		}
	}
}

func (b *broker) stats() StreamStats {
	b.mu.Lock()
	defer b.mu.Unlock()
	st := StreamStats{Open: b.open, FannedOut: b.cursor}
	for _, keys := range b.byOrg {
		for _, ws := range keys {
			for _, w := range ws {
				st.MaxLag = max(st.MaxLag, w.behind.Load())
			}
		}
	}
	return st
}

// Watch is one open stream. Next hands out its frames; Close frees its
// place under the limits. Next is called by one goroutine at a time.
type Watch struct {
	s      *EventService
	p      domain.Principal
	target WatchTarget

	// Filled by the broker, taken by Next.
	mu     sync.Mutex
	buf    []domain.Event
	lagged bool
	ended  bool
	signal chan struct{} // capacity 1: "something changed"
	behind atomic.Uint64 // events waiting (counted on after an overflow)

	// Next's own state.
	cursor   uint64 // last seq handed out (or reflected by the snapshot)
	replayTo uint64 // events up to this seq come from the stream's history
	pending  []Frame
	done     bool
	once     sync.Once
}

// Watch opens a stream of the caller's org. Without lastEventID it starts
// with a snapshot; with one (the last id a client received) it replays
// every retained event after it, or, when that id is no longer retained
// (or was never issued), starts with reset and a fresh snapshot. Returns
// ErrTooManyWatches at the server's or the caller's limit, and a
// *domain.QuotaExceededError at the org's watch_streams quota.
func (s *EventService) Watch(_ context.Context, p domain.Principal, target WatchTarget, lastEventID *uint64) (*Watch, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	if target.Name != "" {
		if err := s.e.permit(p, target.Name, domain.ActionObserve); err != nil {
			return nil, err
		}
	}
	w := &Watch{s: s, p: p, target: target, signal: make(chan struct{}, 1)}
	from, err := s.b.add(w)
	if errors.Is(err, errHubClosed) {
		return nil, domain.ErrUnavailable
	}
	if err != nil {
		return nil, err
	}
	_, floor := s.e.hub.position()
	head := s.e.lastIssued() // a snapshot's id may not be published yet
	switch {
	case lastEventID == nil:
		w.snapshot()
	case *lastEventID < floor || *lastEventID > head:
		w.pending = append(w.pending, Frame{Kind: FrameReset})
		w.snapshot()
	default:
		w.cursor, w.replayTo = *lastEventID, from
	}
	return w, nil
}

// snapshot queues the current state of the watched locks. The state is at
// least as new as what the broker has fanned out, so events up to the seq
// it reflects are skipped when they arrive.
func (w *Watch) snapshot() {
	e := w.s.e
	locks, seq := e.st.watched(w.p.Org, w.target.Prefix, w.target.Name)
	now := e.now()
	views := []LockView{}
	for _, l := range locks {
		if !e.allows(w.p, l.Key.Name, domain.ActionObserve) {
			continue
		}
		if v := e.view(l.Key, l, now); v.Status != StatusFree {
			views = append(views, v)
		}
	}
	w.pending = append(w.pending, Frame{Kind: FrameSnapshot, Seq: seq, Locks: views})
	w.cursor, w.replayTo = seq, 0
}

// push is called by the broker with its lock held.
func (w *Watch) push(ev domain.Event, maxLag uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	if n := w.behind.Add(1); n > maxLag {
		w.lagged, w.ended, w.buf = true, true, nil
	} else {
		w.buf = append(w.buf, ev)
	}
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

func (w *Watch) end(lagged bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return
	}
	w.lagged, w.ended, w.buf = lagged, true, nil
	select {
	case w.signal <- struct{}{}:
	default:
	}
}

// Next returns the next frames, waiting until there are some or ctx ends
// (then it returns ctx's error and the stream can go on). It returns
// ErrWatchEnded after "lagged" and when the server stops.
func (w *Watch) Next(ctx context.Context) ([]Frame, error) {
	for {
		if out := w.pending; len(out) > 0 {
			w.pending = nil
			return out, nil
		}
		if w.done {
			return nil, ErrWatchEnded
		}
		if w.cursor < w.replayTo {
			if err := w.replay(ctx); err != nil {
				return nil, err
			}
			continue
		}
		w.mu.Lock()
		buf, lagged, ended := w.buf, w.lagged, w.ended
		w.buf = nil
		if !lagged {
			w.behind.Add(-uint64(len(buf)))
		}
		w.mu.Unlock()
		for _, ev := range buf {
			if ev.Seq > w.cursor {
				if w.s.e.observes(w.p, ev) {
					w.pending = append(w.pending, Frame{Kind: FrameEvent, Seq: ev.Seq, Event: ev})
				}
				w.cursor = ev.Seq
			}
		}
		switch {
		case lagged:
			w.done = true
			w.pending = append(w.pending, Frame{Kind: FrameLagged, Seq: w.cursor})
			continue
		case ended && len(w.pending) == 0:
			w.done = true
			return nil, ErrWatchEnded
		case len(w.pending) > 0:
			continue
		}
		select {
		case <-w.signal:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// replay queues the retained events after the resume id, up to where the
// broker took over; when they are gone it queues reset and a snapshot.
func (w *Watch) replay(ctx context.Context) error {
	evs, _, err := w.s.e.eventsAfter(ctx, w.cursor, 256)
	switch {
	case errors.Is(err, errTrimmed):
		w.pending = append(w.pending, Frame{Kind: FrameReset})
		w.snapshot()
		return nil
	case errors.Is(err, errHubClosed):
		w.done = true
		return ErrWatchEnded
	case err != nil:
		return err
	}
	if len(evs) == 0 { // cannot happen below the published head
		w.replayTo = w.cursor
		return nil
	}
	for _, ev := range evs {
		if ev.Seq > w.replayTo {
			break
		}
		if ev.Visible(w.p.Org, domain.Prefix{}) && w.target.wants(ev) && w.s.e.observes(w.p, ev) {
			w.pending = append(w.pending, Frame{Kind: FrameEvent, Seq: ev.Seq, Event: ev})
		}
		w.cursor = ev.Seq
	}
	return nil
}

// Close ends the stream and frees its place.
func (w *Watch) Close() { w.once.Do(func() { w.s.b.remove(w) }) }

// StreamStats describes the open watch streams, for metrics and tests.
type StreamStats struct {
	Open   int
	MaxLag uint64 // the most events any stream has waiting for its client
	// FannedOut is the last event seq handed to the streams, so that
	// tests and metrics can tell how far the fan-out has come.
	FannedOut uint64
}

// Streams reports on the open watch streams.
func (s *EventService) Streams() StreamStats { return s.b.stats() }

// orgStreams returns the watch streams org has open.
func (b *broker) orgStreams(org domain.OrgID) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.perOrg[org]
}
