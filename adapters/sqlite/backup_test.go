package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/octostore/octostore/domain"
)

// TestBackupWhileCommitting copies a database that is being written to and
// checks that the copy is a consistent, loadable prefix of the history.
func TestBackupWhileCommitting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, j := openMigrated(t, filepath.Join(dir, "live.db"))
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// The backup starts once some commits are in (it must copy a non-empty
	// prefix) and runs while more are being made.
	const before = 20
	started, done := make(chan struct{}), make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := 1; i <= 1_000_000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			l := testLock("acme", fmt.Sprintf("n%d", i), domain.FencingToken(i))
			if err := j.Commit(ctx, domain.Batch{Changes: []domain.Change{domain.LockSaved{Lock: l}}, Counter: l.Token}); err != nil {
				t.Error(err)
				return
			}
			if i == before {
				close(started)
			}
		}
	}()
	select {
	case <-started:
	case <-done:
		t.Fatalf("the writer stopped before %d commits", before)
	}
	dest := filepath.Join(dir, "copy.db")
	if err := db.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if err := db.Backup(ctx, dest); err == nil {
		t.Fatal("backup overwrote an existing file")
	}

	_, copyJournal := openMigrated(t, dest)
	snap, err := copyJournal.Load(ctx)
	if err != nil {
		t.Fatalf("load backup: %v", err)
	}
	if len(snap.Locks) < before || uint64(snap.Counter) != uint64(len(snap.Locks)) {
		t.Fatalf("backup has %d locks and counter %d; want a consistent prefix", len(snap.Locks), snap.Counter)
	}
}
