package application_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// startEvents runs an engine with the given event retention and memory
// buffer and returns the fixture and its event service.
func startEvents(t *testing.T, j ports.Journal, keep uint64, buffer int, lim application.WatchLimits) (*fixture, *application.EventService) {
	t.Helper()
	if j == nil {
		j = memstore.New()
	}
	clk := newFakeClock()
	e := application.NewEngine(j, clk, application.EngineConfig{SweepInterval: time.Hour, KeepEvents: keep, EventBuffer: buffer})
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("start engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	f := &fixture{clock: clk, journal: j, engine: e, locks: application.NewLockService(e, 0)}
	return f, application.NewEventService(e, lim)
}

// cycle acquires and releases name n times as p: 2n events.
func (f *fixture) cycle(t *testing.T, p domain.Principal, name string, n int) {
	t.Helper()
	for range n {
		l := f.mustAcquire(t, p, name, time.Minute)
		if err := f.locks.Release(ctx, p, domain.LockName(name), l.Lease); err != nil {
			t.Fatal(err)
		}
	}
}

func kinds(evs []domain.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%d:%s:%s", e.Seq, e.Kind, e.Name)
	}
	return out
}

func TestEventPageIsScopedAndPaged(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 0, application.WatchLimits{})
	f.cycle(t, alice, "db/a", 1)                  // 1, 2
	f.cycle(t, carol, "db/a", 1)                  // 3, 4: another org
	f.cycle(t, bob, "dbx", 1)                     // 5, 6: not below db
	a := f.mustAcquire(t, bob, "db", time.Minute) // 7
	prefix, _ := domain.ParsePrefix("db")
	page, err := ev.Page(ctx, alice, 0, prefix, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(kinds(page.Events)); got != "[1:lock.acquired:db/a 2:lock.released:db/a]" || page.NextAfter != 2 || page.Reset {
		t.Fatalf("page 1 = %s next %d reset %v", got, page.NextAfter, page.Reset)
	}
	if page.Events[0].Holder.User() != "alice" || page.Events[0].Token != 1 {
		t.Fatalf("event = %+v, want alice's token 1", page.Events[0])
	}
	page, err = ev.Page(ctx, alice, page.NextAfter, prefix, 2)
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(kinds(page.Events)); got != "[7:lock.acquired:db]" || page.NextAfter != 7 {
		t.Fatalf("page 2 = %s next %d", got, page.NextAfter)
	}
	page, _ = ev.Page(ctx, alice, 7, prefix, 2)
	if len(page.Events) != 0 || page.NextAfter != 7 || page.Reset {
		t.Fatalf("page 3 = %+v, want empty at 7", page)
	}
	page, _ = ev.Page(ctx, carol, 0, domain.Prefix{}, 100)
	if got := fmt.Sprint(kinds(page.Events)); got != "[3:lock.acquired:db/a 4:lock.released:db/a]" {
		t.Fatalf("carol sees %s", got)
	}
	_ = a
}

func TestEventPageResetsWhenTooOldOrUnknown(t *testing.T) {
	f, ev := startEvents(t, nil, 10, 4, application.WatchLimits{})
	f.cycle(t, alice, "job", 10) // 20 events; trimmed once past 11
	page, err := ev.Page(ctx, alice, 0, domain.Prefix{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !page.Reset || len(page.Events) == 0 || page.Events[len(page.Events)-1].Seq != 20 || page.NextAfter != 20 {
		t.Fatalf("page from 0 = reset %v, %v next %d; want reset and the retained events through 20", page.Reset, kinds(page.Events), page.NextAfter)
	}
	first := page.Events[0].Seq
	for i, e := range page.Events { // dense: nothing missing after the floor
		if e.Seq != first+uint64(i) {
			t.Fatalf("gap in %v", kinds(page.Events))
		}
	}
	page, _ = ev.Page(ctx, alice, 99, domain.Prefix{}, 100)
	if !page.Reset {
		t.Fatalf("after above every seq: %+v, want reset", page)
	}
	page, _ = ev.Page(ctx, alice, 18, domain.Prefix{}, 100)
	if page.Reset || fmt.Sprint(kinds(page.Events)) != "[19:lock.acquired:job 20:lock.released:job]" {
		t.Fatalf("after 18: %+v", page)
	}
}

// TestEventsComeFromStorageAfterARestart checks the read side after a
// restart: the memory buffer is empty, so older events are read from the
// journal, with their holders.
func TestEventsComeFromStorageAfterARestart(t *testing.T) {
	j := memstore.New()
	f, _ := startEvents(t, j, 0, 0, application.WatchLimits{})
	f.cycle(t, alice, "job", 3)
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	_, ev := startEvents(t, j, 0, 2, application.WatchLimits{})
	page, err := ev.Page(ctx, alice, 1, domain.Prefix{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 5 || page.Events[0].Seq != 2 || page.Events[0].Holder.User() != "alice" {
		t.Fatalf("after restart: %v", kinds(page.Events))
	}
}

func next(t *testing.T, w *application.Watch) []application.Frame {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	fr, err := w.Next(c)
	if err != nil {
		t.Fatalf("next: %v", err)
	}
	return fr
}

func frames(fr []application.Frame) string {
	var out []string
	for _, f := range fr {
		switch f.Kind {
		case application.FrameEvent:
			out = append(out, fmt.Sprintf("%d:%s:%s", f.Seq, f.Event.Kind, f.Event.Name))
		case application.FrameSnapshot:
			s := fmt.Sprintf("snapshot@%d", f.Seq)
			for _, l := range f.Locks {
				s += fmt.Sprintf(" %s=%s", l.Lock.Key.Name, l.Status)
			}
			out = append(out, s)
		default:
			out = append(out, string(f.Kind))
		}
	}
	return fmt.Sprint(out)
}

func TestWatchStartsWithSnapshotThenFollows(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 0, application.WatchLimits{})
	f.mustAcquire(t, alice, "db/a", time.Minute) // 1
	f.mustAcquire(t, alice, "dbx", time.Minute)  // 2
	f.mustAcquire(t, carol, "db/b", time.Minute) // 3: other org
	prefix, _ := domain.ParsePrefix("db/")
	w, err := ev.Watch(ctx, bob, application.WatchTarget{Prefix: prefix}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := frames(next(t, w)); got != "[snapshot@3 db/a=held]" {
		t.Fatalf("first frames = %s", got)
	}
	f.mustAcquire(t, bob, "db/c", time.Minute)   // 4
	f.mustAcquire(t, bob, "dbz", time.Minute)    // 5: not below db/
	f.mustAcquire(t, carol, "db/d", time.Minute) // 6
	f.mustAcquire(t, bob, "db/e", time.Minute)   // 7
	var got []application.Frame
	for len(got) < 2 {
		got = append(got, next(t, w)...)
	}
	if s := frames(got); s != "[4:lock.acquired:db/c 7:lock.acquired:db/e]" {
		t.Fatalf("live frames = %s", s)
	}
	one, err := ev.Watch(ctx, bob, application.WatchTarget{Name: "dbx"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if got := frames(next(t, one)); got != "[snapshot@7 dbx=held]" {
		t.Fatalf("one-lock snapshot = %s", got)
	}
}

func TestWatchResumesAfterLastEventID(t *testing.T) {
	f, ev := startEvents(t, nil, 10, 4, application.WatchLimits{})
	f.cycle(t, alice, "job", 3) // 1..6
	last := uint64(2)
	w, err := ev.Watch(ctx, alice, application.WatchTarget{}, &last)
	if err != nil {
		t.Fatal(err)
	}
	var got []application.Frame
	for len(got) < 4 {
		got = append(got, next(t, w)...)
	}
	w.Close()
	if s := frames(got); s != "[3:lock.acquired:job 4:lock.released:job 5:lock.acquired:job 6:lock.released:job]" {
		t.Fatalf("resumed = %s", s)
	}
	f.cycle(t, alice, "job", 10) // 7..26: 1..11 or more trimmed
	w, _ = ev.Watch(ctx, alice, application.WatchTarget{}, &last)
	if s := frames(next(t, w)); s != "[reset snapshot@26]" {
		t.Fatalf("too old = %s", s)
	}
	w.Close()
	future := uint64(1000)
	w, _ = ev.Watch(ctx, alice, application.WatchTarget{}, &future)
	if s := frames(next(t, w)); s != "[reset snapshot@26]" {
		t.Fatalf("unknown id = %s", s)
	}
	w.Close()
}

func TestWatchLaggedWhenFarBehind(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 64, application.WatchLimits{MaxLag: 8})
	w, err := ev.Watch(ctx, alice, application.WatchTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	next(t, w)                  // snapshot
	f.cycle(t, alice, "job", 1) // 1, 2
	var live []application.Frame
	for len(live) < 2 {
		live = append(live, next(t, w)...)
	}
	if s := frames(live); s != "[1:lock.acquired:job 2:lock.released:job]" {
		t.Fatalf("live = %s", s)
	}
	f.cycle(t, alice, "job", 5) // 10 events waiting: more than 8
	if st := awaitFanOut(t, ev, 12); st.Open != 1 || st.MaxLag <= 8 {
		t.Fatalf("streams = %+v, want one more than 8 behind", st)
	}
	if s := frames(next(t, w)); s != "[lagged]" {
		t.Fatalf("after falling behind = %s", s)
	}
	if _, err := w.Next(ctx); !errors.Is(err, application.ErrWatchEnded) {
		t.Fatalf("after lagged: %v, want ErrWatchEnded", err)
	}
}

// awaitFanOut waits until the broker has handed out every event through
// seq (bounded; it polls explicit state).
func awaitFanOut(t *testing.T, ev *application.EventService, seq uint64) application.StreamStats {
	t.Helper()
	for range 10_000 {
		if st := ev.Streams(); st.FannedOut >= seq {
			return st
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("the fan-out never reached %d: %+v", seq, ev.Streams())
	return application.StreamStats{}
}

func TestWatchLimits(t *testing.T) {
	_, ev := startEvents(t, nil, 0, 0, application.WatchLimits{MaxStreams: 3, PerPrincipal: 2})
	a1, _ := ev.Watch(ctx, alice, application.WatchTarget{}, nil)
	if _, err := ev.Watch(ctx, alice, application.WatchTarget{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Watch(ctx, alice, application.WatchTarget{}, nil); !errors.Is(err, application.ErrTooManyWatches) {
		t.Fatalf("third stream of alice: %v", err)
	}
	if _, err := ev.Watch(ctx, bob, application.WatchTarget{}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ev.Watch(ctx, carol, application.WatchTarget{}, nil); !errors.Is(err, application.ErrTooManyWatches) {
		t.Fatalf("fourth stream on the server: %v", err)
	}
	a1.Close()
	a1.Close() // twice is harmless
	if _, err := ev.Watch(ctx, carol, application.WatchTarget{}, nil); err != nil {
		t.Fatalf("after a close: %v", err)
	}
}

func TestWatchEndsWhenTheServerDrains(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 0, application.WatchLimits{})
	w, _ := ev.Watch(ctx, alice, application.WatchTarget{}, nil)
	next(t, w)
	done := make(chan error, 1)
	go func() {
		_, err := w.Next(ctx)
		done <- err
	}()
	if err := f.engine.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, application.ErrWatchEnded) {
			t.Fatalf("next after drain: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a waiting Next did not end when the server drained")
	}
}

// TestWatchResumeHandsOverWithoutGapOrDuplicate resumes from an old id
// (read from storage: the memory buffer is small) while events keep
// coming: the replay and the live events meet without a gap or a repeat.
func TestWatchResumeHandsOverWithoutGapOrDuplicate(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 16, application.WatchLimits{})
	f.cycle(t, alice, "job", 50) // 1..100
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.cycle(t, alice, "job", 100) // 101..300
	}()
	last := uint64(10)
	w, err := ev.Watch(ctx, alice, application.WatchTarget{}, &last)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	want := uint64(11)
	for want <= 300 {
		for _, fr := range next(t, w) {
			if fr.Kind != application.FrameEvent || fr.Seq != want {
				t.Fatalf("got %s %d, want event %d", fr.Kind, fr.Seq, want)
			}
			want++
		}
	}
	<-done
}
