package application

import (
	"context"
	"errors"

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
	// MaxLag is how many of its events a stream may have waiting, not yet
	// taken by its client, before it is ended with "lagged" (1,000 by
	// default).
	MaxLag uint64
}

// EventService holds the event use cases: the events page and watches.
// Both read the one event stream, scoped to the caller's org.
type EventService struct {
	e   *Engine
	lim WatchLimits
	b   *broker
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
		lim.MaxLag = 1000
	}
	s := &EventService{e: e, lim: lim, b: newBroker(e, lim)}
	e.onRevoke = append(e.onRevoke, s.b.revoked)
	return s
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
	if after > s.e.lastIssued() || after < floor {
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
			if ev.Visible(p.Org, prefix) && s.e.observes(p, ev) {
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
