package application_test

import (
	"context"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// gatedJournal holds every Commit while its gate is closed and records,
// per committed batch, how many config values it carried and how many
// lock records.
type gatedJournal struct {
	*memstore.Journal
	mu      sync.Mutex
	gate    chan struct{} // nil: open
	entered chan struct{} // a Commit is waiting at the gate
	batches [][2]int      // config values, lock records
}

func (j *gatedJournal) Commit(ctx context.Context, b domain.Batch) error {
	j.mu.Lock()
	gate := j.gate
	j.mu.Unlock()
	if gate != nil {
		j.entered <- struct{}{}
		<-gate
	}
	var n [2]int
	for _, c := range b.Changes {
		switch c.(type) {
		case domain.ConfigSaved:
			n[0]++
		case domain.LockSaved:
			n[1]++
		}
	}
	j.mu.Lock()
	j.batches = append(j.batches, n)
	j.mu.Unlock()
	return j.Journal.Commit(ctx, b)
}

// TestBigValuesAreSpreadOverBatches: while a commit runs, 8 writes of
// 256 KiB values and 8 acquires queue up; the writer then commits at most
// MaxBatchBytes (1 MiB: four values) of values per batch, and the first
// batch after the gate already carries every queued acquire, so lock
// requests never wait behind more than one bounded commit of values.
func TestBigValuesAreSpreadOverBatches(t *testing.T) {
	j := &gatedJournal{Journal: memstore.New(), entered: make(chan struct{}, 1)}
	e := application.NewEngine(j, newFakeClock(), application.EngineConfig{SweepInterval: time.Hour, Heartbeat: time.Hour})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	locks := application.NewLockService(e, 0)
	cfg := application.NewConfigService(e, nil)
	big := []byte(`"` + strings.Repeat("v", domain.MaxConfigValueBytes-2) + `"`)

	gate := make(chan struct{})
	j.mu.Lock()
	j.gate = gate
	j.batches = nil
	j.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	wg.Go(func() { // occupies the writer at the gate
		_, err := locks.Acquire(context.Background(), alice, application.AcquireInput{Name: "first", TTL: time.Minute})
		errs <- err
	})
	<-j.entered
	j.mu.Lock()
	j.gate = nil // later commits pass; the one waiting is released below
	j.mu.Unlock()
	for i := range 8 {
		wg.Go(func() {
			_, err := cfg.Put(context.Background(), alice, domain.LockName("big/"+string(rune('a'+i))), application.ConfigPut{Value: big})
			errs <- err
		})
		wg.Go(func() {
			_, err := locks.Acquire(context.Background(), bob, application.AcquireInput{Name: domain.LockName("l/" + string(rune('a'+i))), TTL: time.Minute})
			errs <- err
		})
	}
	for i := 0; e.Pending() < 16; i++ { // every request queued behind the gate
		if i > 10_000_000 {
			t.Fatalf("%d requests queued, want 16", e.Pending())
		}
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	values, batches := 0, j.batches[1:] // [0] is the gated acquire's
	for _, b := range batches {
		if b[0] > 1 {
			t.Errorf("a batch committed %d values of 256 KiB, want at most 1 (MaxBatchBytes 256 KiB)", b[0])
		}
		values += b[0]
	}
	if values != 8 || len(batches) < 8 {
		t.Errorf("batches %v: want the 8 values over at least 8 batches", batches)
	}
	// Acquires are taken in arrival order with the values; none waits for
	// a third batch.
	locksSeen := 0
	for _, b := range batches[:2] {
		locksSeen += b[1]
	}
	if locksSeen != 8 {
		t.Errorf("batches %v: the 8 acquires are not all in the first two batches", batches)
	}
}
