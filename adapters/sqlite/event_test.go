package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
)

// insertEventRow stores events (a JSON array of event objects, seqs
// first..last) as one event_batches row behind the adapter's back, as an
// earlier build wrote it, and raises event_seq to last.
func insertEventRow(t *testing.T, db *sqlite.DB, first, last int64, events string) {
	t.Helper()
	if _, err := db.Writer.Exec(`INSERT INTO event_batches (first_seq, last_seq, events) VALUES (?, ?, ?)`,
		first, last, events); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer.Exec(`UPDATE meta SET value = MAX(value, ?) WHERE key = 'event_seq'`, last); err != nil {
		t.Fatal(err)
	}
}

// TestEventsWithoutHolder: rows written before events named their holder
// have no "holder" field; they read as an empty holder, next to rows that
// have one. Neither has "forced_by" (only a force release writes it): it
// reads as empty.
func TestEventsWithoutHolder(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	insertEventRow(t, db, 1, 2, `[{"seq":1,"org":"acme","kind":"lock.acquired","name":"db","token":7,"at_ms":1750000000123},`+
		`{"seq":2,"org":"acme","kind":"lock.released","name":"db","token":7,"at_ms":1750000000456}]`)
	at := time.UnixMilli(1_750_000_001_000)
	named := domain.Event{Seq: 3, Org: "acme", Kind: domain.EventLockAcquired, Name: "db", Holder: "user:bob", Token: 8, At: at}
	forced := domain.Event{Seq: 4, Org: "acme", Kind: domain.EventLockReleased, Name: "db", Holder: "user:bob", Token: 8, At: at,
		ForcedBy: domain.ForcedByAdmin}
	if err := j.Commit(ctx, domain.Batch{Counter: 8, Changes: []domain.Change{domain.EventRecorded{Event: named},
		domain.EventRecorded{Event: forced}}}); err != nil {
		t.Fatal(err)
	}
	got, err := j.Events(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.Event{
		{Seq: 1, Org: "acme", Kind: domain.EventLockAcquired, Name: "db", Token: 7, At: time.UnixMilli(1_750_000_000_123)},
		{Seq: 2, Org: "acme", Kind: domain.EventLockReleased, Name: "db", Token: 7, At: time.UnixMilli(1_750_000_000_456)},
		named, forced,
	}
	if len(got) != len(want) {
		t.Fatalf("Events = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s, err := j.Load(ctx); err != nil || s.EventSeq != 4 {
		t.Errorf("Load = EventSeq %d, %v; want 4", s.EventSeq, err)
	}
}

// TestEventsWhileTrimming reads many pages of event rows while trims
// commit: a trim may remove events before the first one returned, never
// between two returned ones, so checking the first seq finds every gap.
func TestEventsWhileTrimming(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	// One row per event, so that a read takes many pages; written in one
	// transaction, as a commit each would take seconds.
	const n = 3000
	tx, err := db.Writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= n; seq++ {
		if _, err := tx.Exec(`INSERT INTO event_batches (first_seq, last_seq, events) VALUES (?1, ?1, ?2)`, seq,
			fmt.Sprintf(`[{"seq":%d,"org":"acme","kind":"lock.acquired","name":"db","token":1,"at_ms":1000000000000}]`, seq)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(`UPDATE meta SET value = ? WHERE key = 'event_seq'`, n); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		for through := uint64(0); through < n; through += 300 {
			if err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{domain.EventsTrimmed{Through: through}}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for reading := true; reading; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			reading = false
		default:
		}
		evs, err := j.Events(ctx, 0, 2*n)
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i < len(evs); i++ {
			if evs[i].Seq != evs[i-1].Seq+1 {
				t.Fatalf("Events(0) while trimming jumps from %d to %d", evs[i-1].Seq, evs[i].Seq)
			}
		}
	}
}
