package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/octostore/octostore/application"
)

// The contract of the watch streams, GET /locks/{name}/watch and GET
// /watch, read off real connections: a snapshot first, then every change
// in seq order, resumable with Last-Event-ID without a gap or a duplicate,
// reset when the id is not retained, lagged for a reader that falls
// behind; bounded, scoped to the org, ended by the server's shutdown.

// waitOpen waits, at most 10 s, until n watch streams are open: the
// server's own count, never a sleep, orders a test's steps.
func (a *api) waitOpen(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(streamDeadline)
	for a.events.Streams().Open != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d streams open, want %d", a.events.Streams().Open, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestWatchSnapshotFirst: a fresh stream starts with the state of the
// watched locks as of the newest event, held and delayed ones only, with
// nothing of a holder but org/user and the token; then the changes follow.
func TestWatchSnapshotFirst(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	held := a.acquire(t, aliceTok, "snap/held", map[string]any{"metadata": "secret-meta", "owner": "host-a"})
	s := a.openSession(t, bobTok, 30)
	eph := a.acquire(t, bobTok, "snap/sub/eph", withSession(s, map[string]any{"ephemeral": true}))
	gone := a.acquire(t, aliceTok, "snap/delayed", map[string]any{"ttl_seconds": 1, "lock_delay_seconds": 30})
	a.acquire(t, aliceTok, "snapx", nil) // not below snap
	a.clock.Advance(2 * time.Second)
	a.sweep(t) // snap/delayed expires: an event

	all := a.watch(t, "/watch?prefix=snap", aliceTok, nil)
	seq, locks := all.snapshot(t)
	if last := a.lastSeq(t, aliceTok); seq != last {
		t.Errorf("snapshot seq %d, want the newest event's %d", seq, last)
	}
	if len(locks) != 3 {
		t.Fatalf("snapshot %v: want snap/delayed, snap/held and snap/sub/eph", locks)
	}
	d := (&response{obj: locks[0]}).keys(t, "name", "status", "available_at", "waiters")
	if d.str("name") != gone.name || d.str("status") != "delayed" || !d.time(t, "available_at").Equal(gone.expires.Add(30*time.Second)) {
		t.Errorf("%v: want %s delayed", d.obj, gone.name)
	}
	for i, l := range []struct {
		lease  lease
		holder string
	}{{held, "acme/alice"}, {eph, "acme/bob"}} {
		r := (&response{obj: locks[i+1]}).keys(t, "name", "status", "holder", "fencing_token", "expires_at", "waiters")
		if r.str("name") != l.lease.name || r.str("status") != "held" || r.str("holder") != l.holder ||
			r.num(t, "fencing_token") != l.lease.token || !r.time(t, "expires_at").Equal(l.lease.expires) {
			t.Errorf("%v: want %s held by %s", r.obj, l.lease.name, l.holder)
		}
	}

	one := a.watch(t, lockPath(held.name, "/watch"), bobTok, nil)
	if seq1, locks := one.snapshot(t); seq1 != seq || len(locks) != 1 || locks[0]["name"] != held.name {
		t.Errorf("one lock's snapshot %d %v: want %s as of %d", seq1, locks, held.name, seq)
	}
	free := a.watch(t, lockPath("snap/free", "/watch"), aliceTok, nil)
	if _, locks := free.snapshot(t); len(locks) != 0 {
		t.Errorf("a free lock's snapshot lists %v", locks)
	}

	a.release(t, aliceTok, held)
	e := all.event(t)
	e.want(t, "lock.released", held, "acme/alice")
	if e.seq != seq+1 {
		t.Errorf("first event seq %d, want %d", e.seq, seq+1)
	}
	if f := one.event(t); f != e {
		t.Errorf("the lock's stream shows %+v, the prefix's %+v", f, e)
	}
}

// TestWatchEventsInOrder: every change of a watched lock comes once, in
// seq order, of each type; renewals, keepalives and session events are
// not shown.
func TestWatchEventsInOrder(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	w := a.watch(t, "/watch", aliceTok, nil)
	seq, _ := w.snapshot(t)

	x := a.acquire(t, aliceTok, "order/x", nil)
	y := a.acquire(t, bobTok, "order/y", map[string]any{"ttl_seconds": 1})
	a.post(lockPath(x.name, "/renew"), aliceTok, map[string]any{"lease_id": x.id}).ok(t, http.StatusOK)
	a.release(t, aliceTok, x)
	a.clock.Advance(2 * time.Second)
	a.sweep(t)
	s := a.openSession(t, aliceTok, 30)
	a.post(sessionPath(s.id, "/keepalive"), aliceTok, nil).ok(t, http.StatusOK)
	z := a.acquire(t, aliceTok, "order/z", withSession(s, map[string]any{"ephemeral": true}))
	a.call(http.MethodDelete, sessionPath(s.id, ""), aliceTok, nil)

	for _, want := range []struct {
		typ    string
		l      lease
		holder string
	}{
		{"lock.acquired", x, "acme/alice"},
		{"lock.acquired", y, "acme/bob"},
		{"lock.released", x, "acme/alice"},
		{"lock.expired", y, "acme/bob"},
		{"lock.acquired", z, "acme/alice"},
		{"lock.session_ended", z, "acme/alice"},
	} {
		e := w.event(t)
		e.want(t, want.typ, want.l, want.holder)
		if e.seq <= seq {
			t.Errorf("seq %d after %d", e.seq, seq)
		}
		seq = e.seq
	}
	// Nothing else was sent: the next frame is the next change.
	n := a.acquire(t, aliceTok, "order/next", nil)
	w.event(t).want(t, "lock.acquired", n, "acme/alice")
}

// TestWatchPrefixIsComponentAware: db watches db and db/x, never dbx; db/
// watches only what is below db.
func TestWatchPrefixIsComponentAware(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	db := a.watch(t, "/watch?prefix=db", aliceTok, nil)
	below := a.watch(t, "/watch?prefix="+url.QueryEscape("db/"), bobTok, nil)
	db.snapshot(t)
	below.snapshot(t)
	a.acquire(t, aliceTok, "dbx", nil)
	sub := a.acquire(t, aliceTok, "db/x", nil)
	a.acquire(t, aliceTok, "dbx/y", nil)
	top := a.acquire(t, aliceTok, "db", nil)
	end := a.acquire(t, aliceTok, "db/end", nil)
	for _, l := range []lease{sub, top, end} {
		db.event(t).want(t, "lock.acquired", l, "acme/alice")
	}
	for _, l := range []lease{sub, end} {
		below.event(t).want(t, "lock.acquired", l, "acme/alice")
	}
}

// TestWatchResume: a client that reconnects with the id of the last frame
// it received gets every change after it, retained in the meantime,
// exactly once, and then the live ones; no snapshot.
func TestWatchResume(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	w := a.watch(t, "/watch?prefix=res", aliceTok, nil)
	w.snapshot(t)
	l1 := a.cycle(t, aliceTok, "res/a")
	w.event(t).want(t, "lock.acquired", l1, "acme/alice")
	last := w.event(t)
	last.want(t, "lock.released", l1, "acme/alice")
	l2 := a.acquire(t, bobTok, "res/b", nil)
	w.event(t) // received but, say, lost with the connection
	w.close()

	a.acquire(t, aliceTok, "other/c", nil) // not watched
	a.release(t, bobTok, l2)
	l3 := a.acquire(t, aliceTok, "res/c", nil)

	r := a.watch(t, "/watch?prefix=res", aliceTok, http.Header{"Last-Event-ID": {strconv.FormatUint(last.seq, 10)}})
	r.event(t).want(t, "lock.acquired", l2, "acme/bob")
	r.event(t).want(t, "lock.released", l2, "acme/bob")
	r.event(t).want(t, "lock.acquired", l3, "acme/alice")
	l4 := a.acquire(t, aliceTok, "res/d", nil)
	r.event(t).want(t, "lock.acquired", l4, "acme/alice")

	// Resuming from the newest id sends nothing until the next change;
	// one lock's stream resumes the same way.
	head := a.lastSeq(t, aliceTok)
	q := a.watch(t, lockPath("res/d", "/watch"), bobTok, http.Header{"Last-Event-ID": {strconv.FormatUint(head, 10)}})
	a.release(t, aliceTok, l4)
	e := q.event(t)
	e.want(t, "lock.released", l4, "acme/alice")
	if e.seq != head+1 {
		t.Errorf("seq %d, want %d", e.seq, head+1)
	}
}

// TestWatchReset: an id older than the retained events, or newer than any
// event, gets reset and a fresh snapshot instead of a silent gap.
func TestWatchReset(t *testing.T) {
	t.Parallel()
	// Five streams one after another: the server may not have seen the
	// earlier ones close yet when the next opens.
	a := newAPIWith(t, setup{keepEvents: 10, watch: application.WatchLimits{PerPrincipal: 5}})
	held := a.acquire(t, aliceTok, "reset/held", nil)
	for range 15 {
		a.cycle(t, aliceTok, "reset/churn")
	}
	head := a.lastSeq(t, aliceTok)
	for _, id := range []string{"1", "0", strconv.FormatUint(head+1, 10), "18446744073709551615"} {
		w := a.watch(t, "/watch?prefix=reset", aliceTok, http.Header{"Last-Event-ID": {id}})
		f := w.next(t)
		if f.event != "reset" || f.hasID {
			t.Fatalf("Last-Event-ID %s: %v, want reset without id", id, f)
		}
		(&response{obj: f.obj(t)}).keys(t, "message")
		seq, locks := w.snapshot(t)
		if seq != head || len(locks) != 1 || locks[0]["name"] != held.name {
			t.Errorf("Last-Event-ID %s: snapshot %d %v, want %s as of %d", id, seq, locks, held.name, head)
		}
		w.close()
	}
	// A retained id resumes.
	w := a.watch(t, "/watch?prefix=reset", aliceTok, http.Header{"Last-Event-ID": {strconv.FormatUint(head-2, 10)}})
	if e := w.event(t); e.seq != head-1 {
		t.Errorf("resumed at %d, want %d", e.seq, head-1)
	}
}

// TestWatchLagged: a reader that stops reading while changes go on is not
// waited for: once it is too far behind, its stream sends what was taken
// for it, ends with lagged naming the last seq covered, and closes;
// resuming from that id loses nothing.
func TestWatchLagged(t *testing.T) {
	t.Parallel()
	// Small socket buffers: a reader that stops reading stops the writes
	// after a few frames.
	a := newAPIWith(t, setup{sendBuffer: 4096, receiveBuffer: 4096})
	w := a.watch(t, "/watch", aliceTok, nil)
	seq, _ := w.snapshot(t)
	// The stream's writer blocks on the full connection while events go
	// on, until the server counts it more than MaxLag (16) behind; or,
	// when it took events faster than they came until then, it is found
	// behind when it next takes some, and ends at once.
	var cycles int
	for st := a.events.Streams(); st.MaxLag <= 16 && st.Open > 0; st = a.events.Streams() {
		if cycles == 100_000 {
			t.Fatalf("after %d events the stream is %d behind", 2*cycles, a.events.Streams().MaxLag)
		}
		a.cycle(t, bobTok, "lag/x")
		cycles++
	}
	head := a.lastSeq(t, aliceTok)
	for {
		f := w.next(t)
		if f.event == "lagged" {
			m := (&response{obj: f.obj(t)}).keys(t, "last_seq", "message")
			if f.seq(t) != seq || m.num(t, "last_seq") != seq {
				t.Errorf("%v: want lagged at %d, the last event sent", f, seq)
			}
			break
		}
		if e := eventOf(t, f); e.seq != seq+1 {
			t.Fatalf("event %d after %d: a gap", e.seq, seq)
		}
		seq++
	}
	w.end(t)
	if seq >= head {
		t.Fatalf("lagged at %d, but every event (%d) was sent", seq, head)
	}
	a.waitOpen(t, 0)

	r := a.watch(t, "/watch", aliceTok, http.Header{"Last-Event-ID": {strconv.FormatUint(seq, 10)}})
	for seq < head {
		if e := r.event(t); e.seq != seq+1 {
			t.Fatalf("resumed: event %d after %d", e.seq, seq)
		}
		seq++
	}
	l := a.acquire(t, bobTok, "lag/after", nil)
	if e := r.event(t); e.seq != head+1 || e.name != l.name {
		t.Errorf("event %+v, want %s at %d", e, l.name, head+1)
	}
}

// TestWatchWriteTimeout: a client that stops reading cannot hold its
// stream (and its place under the limits) beyond the write timeout.
func TestWatchWriteTimeout(t *testing.T) {
	t.Parallel()
	// No lagged: only the write timeout can end this stream.
	a := newAPIWith(t, setup{sendBuffer: 4096, receiveBuffer: 4096, writeTimeout: 100 * time.Millisecond,
		watch: application.WatchLimits{MaxLag: 1 << 40}})
	w := a.watch(t, "/watch", aliceTok, nil)
	w.snapshot(t)
	for cycles := 0; a.events.Streams().Open > 0; cycles++ {
		if cycles == 100_000 {
			t.Fatal("the stream of a client that does not read is still open")
		}
		a.cycle(t, bobTok, "stall/x")
	}
	a.waitOpen(t, 0)
}

// TestWatchOrgIsolation: a stream shows its own org's changes only, also
// of locks with the same names.
func TestWatchOrgIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	mine := a.acquire(t, aliceTok, "iso/a", nil)
	acme := a.watch(t, "/watch", aliceTok, nil)
	globex := a.watch(t, "/watch", carolTok, nil)
	one := a.watch(t, lockPath("iso/a", "/watch"), carolTok, nil)
	if _, locks := globex.snapshot(t); len(locks) != 0 {
		t.Errorf("globex's snapshot shows %v", locks)
	}
	if _, locks := one.snapshot(t); len(locks) != 0 {
		t.Errorf("globex's snapshot of iso/a shows %v", locks)
	}
	acme.snapshot(t)

	theirs := a.acquire(t, carolTok, "iso/a", nil)
	a.release(t, aliceTok, mine)
	a.release(t, carolTok, theirs)
	acme.event(t).want(t, "lock.released", mine, "acme/alice")
	for _, s := range []*stream{globex, one} {
		s.event(t).want(t, "lock.acquired", theirs, "globex/carol")
		s.event(t).want(t, "lock.released", theirs, "globex/carol")
	}
	next := a.acquire(t, aliceTok, "iso/b", nil)
	acme.event(t).want(t, "lock.acquired", next, "acme/alice")
}

// TestWatchLimits: beyond the streams allowed per principal (2 here), or
// on the server, a watch is refused with 429 too_many_watches before any
// of the stream is sent; a stream whose client went away frees its place.
func TestWatchLimits(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.watch(t, "/watch", aliceTok, nil).snapshot(t)
	gone := a.watch(t, lockPath("lim/x", "/watch"), aliceTok, nil)
	gone.snapshot(t)
	for _, path := range []string{"/watch?prefix=lim", lockPath("lim/x", "/watch")} {
		_, r := a.openStream(t, path, aliceTok, nil)
		r.problem(t, http.StatusTooManyRequests, "too_many_watches").nowhere(t)
	}
	a.watch(t, "/watch", bobTok, nil).snapshot(t) // another principal
	a.waitOpen(t, 3)
	gone.close()
	a.waitOpen(t, 2)
	a.watch(t, "/watch?prefix=lim", aliceTok, nil).snapshot(t)

	// The server's cap counts every principal's streams.
	b := newAPIWith(t, setup{watch: application.WatchLimits{MaxStreams: 1}})
	b.watch(t, "/watch", aliceTok, nil).snapshot(t)
	_, r := b.openStream(t, "/watch", bobTok, nil)
	r.problem(t, http.StatusTooManyRequests, "too_many_watches").nowhere(t)
}

// TestWatchHeartbeat: a stream with nothing to send sends a comment line
// every heartbeat interval.
func TestWatchHeartbeat(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{heartbeat: 20 * time.Millisecond})
	w := a.watch(t, "/watch", aliceTok, nil)
	w.snapshot(t)
	for range 2 {
		if f := w.next(t); f.event != "" || f.comment != "heartbeat" {
			t.Fatalf("%v: want a heartbeat", f)
		}
	}
	l := a.acquire(t, aliceTok, "beat/x", nil)
	for {
		f := w.next(t)
		if f.comment == "heartbeat" && f.event == "" {
			continue
		}
		eventOf(t, f).want(t, "lock.acquired", l, "acme/alice")
		break
	}
}

// TestWatchEndsOnShutdown: draining the server (its first step on
// shutdown) ends every open stream promptly, so that the HTTP server's
// shutdown does not wait for them.
func TestWatchEndsOnShutdown(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	all := a.watch(t, "/watch", aliceTok, nil)
	one := a.watch(t, lockPath("down/x", "/watch"), bobTok, nil)
	all.snapshot(t)
	one.snapshot(t)
	ctx, cancel := context.WithTimeout(context.Background(), streamDeadline)
	defer cancel()
	if err := a.engine.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	all.end(t) // within the read deadline, 10 s
	one.end(t)
	a.waitOpen(t, 0)
}

// TestWatchRefusals: a bad name, prefix or Last-Event-ID is refused with
// 422 naming it, before any stream, also to a client that accepts only
// text/event-stream.
func TestWatchRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	sse := http.Header{"Accept": {"text/event-stream"}}
	for _, c := range []struct {
		path, lastID, code, loc string
	}{
		{"/locks/a%2F%2Fb/watch", "", "invalid_name", "path.name"},
		{"/locks/%2E%2E/watch", "", "invalid_name", "path.name"},
		{"/watch?prefix=a%2F%2Fb", "", "invalid_name", "query.prefix"},
		{"/watch?prefix=%2E%2E", "", "invalid_name", "query.prefix"},
		{"/watch", "abc", "invalid_last_event_id", "header.Last-Event-ID"},
		{"/watch", "-1", "invalid_last_event_id", "header.Last-Event-ID"},
		{"/watch", "1.5", "invalid_last_event_id", "header.Last-Event-ID"},
		{"/watch", "0x10", "invalid_last_event_id", "header.Last-Event-ID"},
		{"/watch", "18446744073709551616", "invalid_last_event_id", "header.Last-Event-ID"},
		{lockPath("ok", "/watch"), "+7", "invalid_last_event_id", "header.Last-Event-ID"},
	} {
		h := sse.Clone()
		if c.lastID != "" {
			h.Set("Last-Event-ID", c.lastID)
		}
		a.send(request{method: http.MethodGet, path: c.path, token: aliceTok, header: h}).
			problem(t, http.StatusUnprocessableEntity, c.code).at(t, c.loc)
	}
	if n := a.events.Streams().Open; n != 0 {
		t.Errorf("%d streams open after refusals", n)
	}
}
