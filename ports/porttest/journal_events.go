package porttest

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// recordEvents commits one batch that records the events of seqs.
func recordEvents(t *testing.T, j ports.Journal, seqs ...uint64) []domain.Event {
	t.Helper()
	var evs []domain.Event
	var changes []domain.Change
	for _, seq := range seqs {
		e := eventFor(seq)
		e.Holder = domain.Holder("user:holder-of-" + string(e.Name))
		evs = append(evs, e)
		changes = append(changes, domain.EventRecorded{Event: e})
	}
	commit(t, j, 0, changes...)
	return evs
}

// readEvents calls Events and fails the test on an error.
func readEvents(t *testing.T, j ports.Journal, after uint64, limit int) []domain.Event {
	t.Helper()
	evs, err := j.Events(context.Background(), after, limit)
	if err != nil {
		t.Fatalf("Events(%d, %d): %v", after, limit, err)
	}
	return evs
}

func seqsOf(evs []domain.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, e := range evs {
		out = append(out, e.Seq)
	}
	return out
}

// checkEventSeqs requires the events' seqs to be exactly want.
func checkEventSeqs(t *testing.T, what string, got []domain.Event, want ...uint64) {
	t.Helper()
	gs := seqsOf(got)
	if len(gs) != len(want) {
		t.Errorf("%s: seqs %v, want %v", what, gs, want)
		return
	}
	for i := range gs {
		if gs[i] != want[i] {
			t.Errorf("%s: seqs %v, want %v", what, gs, want)
			return
		}
	}
}

// checkEvent compares every field; At at millisecond precision.
func checkEvent(t *testing.T, got, want domain.Event) {
	t.Helper()
	if got.Seq != want.Seq || got.Org != want.Org || got.Kind != want.Kind || got.Name != want.Name ||
		got.Holder != want.Holder || got.Token != want.Token || got.At.UnixMilli() != want.At.UnixMilli() ||
		got.ForcedBy != want.ForcedBy {
		t.Errorf("event %d:\n got %+v\nwant %+v", want.Seq, got, want)
	}
}

func testEventsRoundTrip(t *testing.T, j ports.Journal) {
	if evs := readEvents(t, j, 0, 10); len(evs) != 0 {
		t.Errorf("Events on a new journal = %+v, want none", evs)
	}
	want := recordEvents(t, j, 1, 2)
	// A session event names no lock and no holder.
	session := eventFor(3)
	session.Kind, session.Name, session.Token = domain.EventSessionOpened, "", 0
	freed := eventFor(4)
	freed.Kind, freed.Holder = domain.EventLockFreed, "session:sess-1"
	// The admin's force release says so.
	forced := eventFor(5)
	forced.Kind, forced.ForcedBy = domain.EventLockReleased, domain.ForcedByAdmin
	commit(t, j, 0, domain.EventRecorded{Event: session}, domain.EventRecorded{Event: freed}, domain.EventRecorded{Event: forced})
	want = append(want, session, freed, forced)

	got := readEvents(t, j, 0, 10)
	checkEventSeqs(t, "Events(0, 10)", got, 1, 2, 3, 4, 5)
	for i := range min(len(got), len(want)) {
		checkEvent(t, got[i], want[i])
	}
	// The events returned are copies.
	got[0].Holder = "user:mallory"
	if again := readEvents(t, j, 0, 1); len(again) != 1 || again[0].Holder != want[0].Holder {
		t.Errorf("after changing a returned event, Events(0, 1) = %+v", again)
	}
}

func testEventsLimit(t *testing.T, j ports.Journal) {
	recordEvents(t, j, 1, 2, 3)
	recordEvents(t, j, 4, 5)
	checkEventSeqs(t, "Events(0, 2)", readEvents(t, j, 0, 2), 1, 2)
	checkEventSeqs(t, "Events(2, 2)", readEvents(t, j, 2, 2), 3, 4)
	checkEventSeqs(t, "Events(0, 4)", readEvents(t, j, 0, 4), 1, 2, 3, 4)
	checkEventSeqs(t, "Events(4, 2)", readEvents(t, j, 4, 2), 5)
	checkEventSeqs(t, "Events(0, 1000)", readEvents(t, j, 0, 1000), 1, 2, 3, 4, 5)
	checkEventSeqs(t, "Events(0, 0)", readEvents(t, j, 0, 0))
	checkEventSeqs(t, "Events(0, -1)", readEvents(t, j, 0, -1))
}

func testEventsAfterInsideBatch(t *testing.T, j ports.Journal) {
	recordEvents(t, j, 1, 2, 3, 4, 5)
	recordEvents(t, j, 7, 8)
	checkEventSeqs(t, "Events(2, 10)", readEvents(t, j, 2, 10), 3, 4, 5, 7, 8)
	checkEventSeqs(t, "Events(3, 1)", readEvents(t, j, 3, 1), 4)
	checkEventSeqs(t, "Events(4, 2)", readEvents(t, j, 4, 2), 5, 7)
	// A seq that was never used (6) starts after it.
	checkEventSeqs(t, "Events(6, 10)", readEvents(t, j, 6, 10), 7, 8)
	checkEventSeqs(t, "Events(7, 10)", readEvents(t, j, 7, 10), 8)
}

func testEventsAfterEnd(t *testing.T, j ports.Journal) {
	recordEvents(t, j, 1, 2, 3)
	for _, after := range []uint64{3, 4, 1000, math.MaxInt64, math.MaxUint64} {
		checkEventSeqs(t, "Events after the last seq", readEvents(t, j, after, 10))
	}
}

func testEventsAfterTrim(t *testing.T, j ports.Journal) {
	recordEvents(t, j, 1, 2, 3)
	recordEvents(t, j, 4, 5)
	recordEvents(t, j, 6)
	commit(t, j, 0, domain.EventsTrimmed{Through: 4})
	// A journal may keep trimmed events a while (SQLite keeps event 4 with
	// 5, in one row), but everything above the trim is there, in order,
	// and what went is visible as a gap after 'after'.
	for _, after := range []uint64{0, 1, 2} {
		got := readEvents(t, j, after, 10)
		gs := seqsOf(got)
		if len(gs) == 0 || gs[0] <= after+1 {
			t.Errorf("Events(%d, 10) after trimming through 4 = %v, want a first seq above %d", after, gs, after+1)
			continue
		}
		for i, s := range gs {
			if s <= after || s > 6 || i > 0 && s != gs[i-1]+1 {
				t.Errorf("Events(%d, 10) after trimming through 4 = %v, want consecutive seqs ending in 5, 6", after, gs)
				break
			}
		}
		if gs[len(gs)-1] != 6 || len(gs) < 2 {
			t.Errorf("Events(%d, 10) after trimming through 4 = %v, want 5 and 6 at the end", after, gs)
		}
	}
	checkEventSeqs(t, "Events(5, 10) after the trim", readEvents(t, j, 5, 10), 6)

	// After trimming everything, nothing is left to read, and new events
	// follow.
	commit(t, j, 0, domain.EventsTrimmed{Through: 6})
	checkEventSeqs(t, "Events(0, 10) after trimming everything", readEvents(t, j, 0, 10))
	recordEvents(t, j, 9)
	got := readEvents(t, j, 0, 10)
	checkEventSeqs(t, "Events(0, 10) after a new event", got, 9)
}

// testEventsWhileCommitting reads events while batches of several events
// commit: a read never fails, and it sees whole batches only. With no
// trimming and a limit above the total, the seqs it returns are
// consecutive from after+1 and end on the last seq of a batch.
func testEventsWhileCommitting(t *testing.T, j ports.Journal) {
	const batches = 120
	ends := make(map[uint64]bool) // the last seq of each batch
	var plan [][]uint64
	seq := uint64(0)
	for i := range batches {
		var b []uint64
		for range 1 + i%4 {
			seq++
			b = append(b, seq)
		}
		plan = append(plan, b)
		ends[seq] = true
	}
	total := seq

	done := make(chan struct{})
	var wg sync.WaitGroup
	var commitErr error
	wg.Go(func() {
		defer close(done)
		for _, b := range plan {
			var changes []domain.Change
			for _, s := range b {
				changes = append(changes, domain.EventRecorded{Event: eventFor(s)})
			}
			if err := j.Commit(context.Background(), domain.Batch{Changes: changes}); err != nil {
				commitErr = err
				return
			}
		}
	})
	check := func(after uint64) bool {
		evs, err := j.Events(context.Background(), after, int(total)+10)
		if err != nil {
			t.Errorf("Events(%d) while committing: %v", after, err)
			return false
		}
		gs := seqsOf(evs)
		for i, s := range gs {
			if s != after+1+uint64(i) {
				t.Errorf("Events(%d) while committing = %v, want consecutive seqs from %d", after, gs, after+1)
				return false
			}
		}
		if len(gs) > 0 && !ends[gs[len(gs)-1]] {
			t.Errorf("Events(%d) while committing ends at %d, inside a batch: %v", after, gs[len(gs)-1], gs)
			return false
		}
		return true
	}
	reads := 0
	for running := true; running; reads++ {
		select {
		case <-done:
			running = false
		default:
		}
		if !check(0) || !check(uint64(reads)%(total/2)) {
			break
		}
	}
	wg.Wait()
	if commitErr != nil {
		t.Fatalf("Commit while reading: %v", commitErr)
	}
	if got := readEvents(t, j, 0, int(total)+10); len(got) != int(total) {
		t.Errorf("after the commits: %d events, want %d", len(got), total)
	}
	t.Logf("%d reads during %d commits", reads, batches)
}
