package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
	"github.com/octostore/octostore/ports/porttest"
)

func TestJournal(t *testing.T) {
	porttest.TestJournal(t, func(t *testing.T) ports.Journal {
		_, j := openMigrated(t, filepath.Join(t.TempDir(), "octostore.db"))
		return j
	})
}

// openDB opens path and closes it when the test ends.
func openDB(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// openMigrated opens and migrates path and returns a Journal on it.
func openMigrated(t testing.TB, path string) (*sqlite.DB, *sqlite.Journal) {
	t.Helper()
	db := openDB(t, path)
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return db, sqlite.NewJournal(db)
}

func testLock(org, name string, token domain.FencingToken) domain.Lock {
	now := time.Now()
	return domain.Lock{
		Key:        domain.LockKey{Org: domain.OrgID(org), Name: domain.LockName(name)},
		Holder:     "user:tester",
		Lease:      domain.NewLeaseID(token, "nonce"),
		Token:      token,
		AcquiredAt: now,
		ExpiresAt:  now.Add(time.Minute),
	}
}

func TestDataSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "octostore.db")
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	l := testLock("acme", "db/primary", 7)
	cred := domain.Credential{Hash: domain.HashToken("secret-token-0123456789"), Principal: domain.Principal{Org: "acme", User: "alice"}}
	b := domain.Batch{Counter: 9, Changes: []domain.Change{domain.LockSaved{Lock: l}, domain.CredentialAdded{Credential: cred}}}
	if err := sqlite.NewJournal(db).Commit(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() != 0 {
		t.Errorf("WAL left with %d bytes after Close", fi.Size())
	}

	_, j := openMigrated(t, path)
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Counter != 9 || len(s.Locks) != 1 || len(s.Credentials) != 1 {
		t.Fatalf("after reopen: %+v", s)
	}
	got := s.Locks[0]
	if got.Key != l.Key || got.Lease != l.Lease || got.Token != l.Token || got.Holder != l.Holder ||
		got.ExpiresAt.UnixMilli() != l.ExpiresAt.UnixMilli() || got.AcquiredAt.UnixMilli() != l.AcquiredAt.UnixMilli() {
		t.Errorf("lock after reopen = %+v, want %+v", got, l)
	}
	if s.Credentials[0] != cred {
		t.Errorf("credential after reopen = %+v, want %+v", s.Credentials[0], cred)
	}
}

// TestConcurrentCommits checks that concurrent writers queue on the writer
// pool instead of failing with SQLITE_BUSY, while readers load snapshots
// whose counter never goes backwards.
func TestConcurrentCommits(t *testing.T) {
	ctx := context.Background()
	_, j := openMigrated(t, filepath.Join(t.TempDir(), "octostore.db"))
	const writers, commits = 32, 10
	var token atomic.Uint64
	var wg sync.WaitGroup
	errs := make(chan error, writers*commits+8)
	for w := range writers {
		wg.Go(func() {
			for i := range commits {
				tok := domain.FencingToken(token.Add(1))
				l := testLock("acme", fmt.Sprintf("w%02d/l%02d", w, i), tok)
				if err := j.Commit(ctx, domain.Batch{Counter: tok, Changes: []domain.Change{domain.LockSaved{Lock: l}}}); err != nil {
					errs <- err
				}
			}
		})
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			var last domain.FencingToken
			for {
				select {
				case <-stop:
					return
				default:
				}
				s, err := j.Load(ctx)
				if err != nil {
					errs <- err
					return
				}
				if s.Counter < last {
					errs <- fmt.Errorf("counter went back from %d to %d", last, s.Counter)
				}
				last = s.Counter
				time.Sleep(time.Millisecond)
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Locks) != writers*commits || s.Counter != writers*commits {
		t.Fatalf("after concurrent commits: %d locks, counter %d; want %d of each", len(s.Locks), s.Counter, writers*commits)
	}
}

func BenchmarkCommit(b *testing.B) {
	for _, sync := range []string{sqlite.SyncFull, sqlite.SyncNormal} {
		for _, size := range []int{1, 64} {
			b.Run(fmt.Sprintf("sync=%s/changes=%d", sync, size), func(b *testing.B) {
				ctx := context.Background()
				db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db"), Sync: sync})
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				if err := db.Migrate(ctx); err != nil {
					b.Fatal(err)
				}
				j := sqlite.NewJournal(db)
				var token domain.FencingToken
				changes := make([]domain.Change, size)
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					for k := range changes {
						token++
						changes[k] = domain.LockSaved{Lock: testLock("acme", fmt.Sprintf("bench/%d", uint64(token)%4096), token)}
					}
					if err := j.Commit(ctx, domain.Batch{Counter: token, Changes: changes}); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "changes/s")
			})
		}
	}
}
