package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"
)

// The contract of GET /events: the org's lock events in seq order, a page
// at a time, filtered by prefix component by component, with reset when
// the events asked for are no longer retained.

// wire is an event as the wire shows it, for comparing.
type wire struct {
	seq    uint64
	typ    string
	name   string
	token  uint64
	holder string
}

// wireOf reads one event object and requires exactly its wire fields.
func wireOf(t *testing.T, m map[string]any) wire {
	t.Helper()
	r := &response{obj: m}
	r.keys(t, "seq", "type", "name", "fencing_token", "holder", "at")
	if _, err := time.Parse(wireFormat, r.str("at")); err != nil {
		t.Errorf("%v: at: %v", m, err)
	}
	return wire{seq: r.num(t, "seq"), typ: r.str("type"), name: r.str("name"), token: r.num(t, "fencing_token"), holder: r.str("holder")}
}

// cycle acquires and releases name for token: two events.
func (a *api) cycle(t *testing.T, token, name string) lease {
	t.Helper()
	l := a.acquire(t, token, name, nil)
	a.release(t, token, l)
	return l
}

// lastSeq returns the seq of the newest event of token's org (0 if none),
// read from the events page.
func (a *api) lastSeq(t *testing.T, token string) uint64 {
	t.Helper()
	var last uint64
	for after := uint64(0); ; {
		r := a.get("/events?limit=1000&after="+strconv.FormatUint(after, 10), token).ok(t, http.StatusOK)
		for _, e := range r.obj["events"].([]any) {
			last = wireOf(t, e.(map[string]any)).seq
		}
		next := r.num(t, "next_after")
		if next == after {
			return last
		}
		after = next
	}
}

// want fails the test unless e is the event typ of l, held by holder.
func (e wire) want(t *testing.T, typ string, l lease, holder string) {
	t.Helper()
	if e.typ != typ || e.name != l.name || e.token != l.token || e.holder != holder {
		t.Fatalf("event %+v, want %s of %s (token %d) by %s", e, typ, l.name, l.token, holder)
	}
}

// eventPage reads one page of events as token.
func (a *api) eventPage(t *testing.T, token, query string) ([]wire, *response) {
	t.Helper()
	r := a.get("/events"+query, token).ok(t, http.StatusOK).keys(t, "events", "next_after", "reset")
	var out []wire
	for _, e := range r.obj["events"].([]any) {
		out = append(out, wireOf(t, e.(map[string]any)))
	}
	return out, r
}

// allEvents pages through the events of token's org with query and page
// size limit, and returns them all. Only the first page may be a reset
// (when events were trimmed).
func (a *api) allEvents(t *testing.T, token, query string, limit int) []wire {
	t.Helper()
	var out []wire
	for after := uint64(0); ; {
		page, r := a.eventPage(t, token, "?limit="+strconv.Itoa(limit)+"&after="+strconv.FormatUint(after, 10)+query)
		if len(page) > limit || after > 0 && r.obj["reset"] != false {
			t.Fatalf("%v: want at most %d events and no reset", r, limit)
		}
		out = append(out, page...)
		next := r.num(t, "next_after")
		if len(page) > 0 && next < page[len(page)-1].seq {
			t.Fatalf("%v: next_after is before the last event shown", r)
		}
		if next == after {
			return out
		}
		after = next
	}
}

func TestEventsPage(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	x := a.cycle(t, aliceTok, "db/a")
	s := a.openSession(t, bobTok, 30) // a session event: not shown
	y := a.acquire(t, aliceTok, "dbx", nil)
	z := a.acquire(t, bobTok, "db", map[string]any{"ttl_seconds": 1, "owner": "host-b"})
	g := a.acquire(t, carolTok, "db/a", nil)
	a.clock.Advance(2 * time.Second)
	a.sweep(t)
	e := a.acquire(t, bobTok, "db/eph", withSession(s, map[string]any{"ephemeral": true}))
	a.call(http.MethodDelete, sessionPath(s.id, ""), bobTok, nil)

	type want struct {
		typ    string
		l      lease
		holder string
	}
	acme := []want{
		{"lock.acquired", x, "acme/alice"}, {"lock.released", x, "acme/alice"},
		{"lock.acquired", y, "acme/alice"}, {"lock.acquired", z, "acme/bob"},
		{"lock.expired", z, "acme/bob"},
		{"lock.acquired", e, "acme/bob"}, {"lock.session_ended", e, "acme/bob"},
	}
	check := func(what string, got []wire, want []want) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d events %+v, want %d", what, len(got), got, len(want))
		}
		for i, w := range want {
			got[i].want(t, w.typ, w.l, w.holder)
			if i > 0 && got[i].seq <= got[i-1].seq {
				t.Errorf("%s: seq %d after %d", what, got[i].seq, got[i-1].seq)
			}
		}
	}
	all, r := a.eventPage(t, aliceTok, "")
	check("the first page", all, acme)
	if r.obj["reset"] != false {
		t.Errorf("%v: reset", r)
	}
	// The page looked at every event, another org's last one included.
	if next := r.num(t, "next_after"); next < all[len(all)-1].seq {
		t.Errorf("%v: next_after %d", r, next)
	}
	rest, _ := a.eventPage(t, aliceTok, "?after="+strconv.FormatUint(r.num(t, "next_after"), 10))
	if len(rest) != 0 {
		t.Errorf("after next_after: %+v", rest)
	}
	for _, limit := range []int{1, 2, 3} {
		check("pages of "+strconv.Itoa(limit), a.allEvents(t, aliceTok, "", limit), acme)
	}
	check("prefix db", a.allEvents(t, bobTok, "&prefix=db", 2), slices.Concat(acme[:2], acme[3:]))
	check("prefix db/", a.allEvents(t, bobTok, "&prefix=db%2F", 100), slices.Concat(acme[:2], acme[5:]))
	check("prefix dbx", a.allEvents(t, aliceTok, "&prefix=dbx", 100), acme[2:3])
	check("globex", a.allEvents(t, carolTok, "", 100), []want{{"lock.acquired", g, "globex/carol"}})
}

// TestEventsPageReset: after older than the retained events, or newer than
// any, gives reset and the oldest retained events.
func TestEventsPageReset(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{keepEvents: 10})
	for range 15 {
		a.cycle(t, aliceTok, "reset/x")
	}
	head := a.lastSeq(t, aliceTok)
	oldest := a.allEvents(t, aliceTok, "", 100)[0].seq
	if oldest <= 1 || oldest > head-9 {
		t.Fatalf("oldest retained event %d of %d: want some trimmed, 10 kept", oldest, head)
	}
	for _, after := range []uint64{0, 1, oldest - 2, head + 1, 1 << 62} {
		page, r := a.eventPage(t, aliceTok, "?limit=3&after="+strconv.FormatUint(after, 10))
		if r.obj["reset"] != true || len(page) != 3 || page[0].seq != oldest {
			t.Errorf("after %d: %v: want reset and the oldest events from %d", after, r, oldest)
		}
	}
	for _, after := range []uint64{oldest - 1, head} {
		if _, r := a.eventPage(t, aliceTok, "?after="+strconv.FormatUint(after, 10)); r.obj["reset"] != false {
			t.Errorf("after %d: %v: a retained position is reset", after, r)
		}
	}
}

func TestEventsPageInvalid(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, c := range []struct{ query, code, loc string }{
		{"?limit=0", "validation_failed", "query.limit"},
		{"?limit=1001", "validation_failed", "query.limit"},
		{"?limit=x", "validation_failed", "query.limit"},
		{"?after=-1", "validation_failed", "query.after"},
		{"?after=x", "validation_failed", "query.after"},
		{"?prefix=a%2F%2Fb", "invalid_name", "query.prefix"},
		{"?prefix=%2E%2E", "invalid_name", "query.prefix"},
	} {
		a.get("/events"+c.query, aliceTok).problem(t, http.StatusUnprocessableEntity, c.code).at(t, c.loc)
	}
}
