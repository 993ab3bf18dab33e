package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	l.LockDelay = 1500 * time.Millisecond
	cred := domain.Credential{Hash: domain.HashToken("secret-token-0123456789"), Principal: domain.Principal{Org: "acme", User: "alice"}}
	sess := domain.Session{ID: "s1", Org: "acme", Owner: "alice", TTL: time.Minute, CreatedAt: time.UnixMilli(1e12), ExpiresAt: time.UnixMilli(1e12 + 6e4)}
	alive := time.UnixMilli(1_750_000_000_123)
	b := domain.Batch{Counter: 9, AliveAt: alive, Changes: []domain.Change{
		domain.LockSaved{Lock: l}, domain.CredentialAdded{Credential: cred}, domain.SessionSaved{Session: sess},
		domain.EventRecorded{Event: domain.Event{Seq: 41, Org: "acme", Kind: domain.EventSessionOpened, At: alive}},
	}}
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
	if s.Counter != 9 || len(s.Locks) != 1 || len(s.Credentials) != 1 || len(s.Sessions) != 1 ||
		s.EventSeq != 41 || !s.AliveAt.Equal(alive) {
		t.Fatalf("after reopen: %+v", s)
	}
	if s.Sessions[0] != sess {
		t.Errorf("session after reopen = %+v, want %+v", s.Sessions[0], sess)
	}
	got := s.Locks[0]
	if got.Key != l.Key || got.Lease != l.Lease || got.Token != l.Token || got.Holder != l.Holder || got.LockDelay != l.LockDelay ||
		got.ExpiresAt.UnixMilli() != l.ExpiresAt.UnixMilli() || got.AcquiredAt.UnixMilli() != l.AcquiredAt.UnixMilli() {
		t.Errorf("lock after reopen = %+v, want %+v", got, l)
	}
	if s.Credentials[0] != cred {
		t.Errorf("credential after reopen = %+v, want %+v", s.Credentials[0], cred)
	}
}

// TestCommitSkipsIdleBatch checks that a batch with no changes that raises
// neither the counter nor the last-alive time writes nothing, while the
// heartbeat that does raise it is written.
func TestCommitSkipsIdleBatch(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	changes := func() int64 {
		t.Helper()
		var n int64
		if err := db.Writer.QueryRowContext(ctx, `SELECT total_changes()`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	now := time.Now()
	for _, tc := range []struct {
		name  string
		b     domain.Batch
		write bool
	}{
		{"first heartbeat", domain.Batch{AliveAt: now}, true},
		{"same heartbeat", domain.Batch{AliveAt: now}, false},
		{"older heartbeat", domain.Batch{AliveAt: now.Add(-time.Second)}, false},
		{"zero batch", domain.Batch{}, false},
		{"newer heartbeat", domain.Batch{AliveAt: now.Add(time.Millisecond)}, true},
		{"counter raised", domain.Batch{Counter: 3, AliveAt: now}, true},
		{"counter and heartbeat unchanged", domain.Batch{Counter: 3, AliveAt: now.Add(time.Millisecond)}, false},
	} {
		before := changes()
		if err := j.Commit(ctx, tc.b); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if wrote := changes() != before; wrote != tc.write {
			t.Errorf("%s: wrote = %v, want %v", tc.name, wrote, tc.write)
		}
	}
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Counter != 3 || s.AliveAt.UnixMilli() != now.Add(time.Millisecond).UnixMilli() {
		t.Errorf("after heartbeats: counter %d, alive at %v", s.Counter, s.AliveAt)
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

// BenchmarkCommitWithEvents commits what an acquire produces since sessions
// and events exist: each decision saves a lock and records its event, and
// every batch carries AliveAt. A decision counts as one change.
func BenchmarkCommitWithEvents(b *testing.B) {
	for _, mode := range []string{sqlite.SyncFull, sqlite.SyncNormal} {
		for _, size := range []int{1, 64} {
			benchCommitWithEvents(b, mode, size)
		}
	}
}

func benchCommitWithEvents(b *testing.B, mode string, size int) {
	b.Run(fmt.Sprintf("sync=%s/decisions=%d", mode, size), func(b *testing.B) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db"), Sync: mode})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		if err := db.Migrate(ctx); err != nil {
			b.Fatal(err)
		}
		j := sqlite.NewJournal(db)
		var token domain.FencingToken
		changes := make([]domain.Change, 0, 2*size+1)
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			changes = changes[:0]
			for range size {
				token++
				l := testLock("acme", fmt.Sprintf("bench/%d", uint64(token)%4096), token)
				changes = append(changes, domain.LockSaved{Lock: l}, domain.EventRecorded{Event: domain.Event{
					Seq: uint64(token), Org: l.Key.Org, Kind: domain.EventLockAcquired, Name: l.Key.Name, Token: token, At: l.AcquiredAt}})
			}
			// Keep the outbox bounded, as the application does.
			if token > 4096 {
				changes = append(changes, domain.EventsTrimmed{Through: uint64(token) - 4096})
			}
			if err := j.Commit(ctx, domain.Batch{Counter: token, AliveAt: time.Now(), Changes: changes}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "decisions/s")
	})
}

// TestEventsStoredAndTrimmed checks the rows behind EventRecorded and
// EventsTrimmed, which Load does not return: one event_batches row per
// batch, trimmed a whole row at a time.
func TestEventsStoredAndTrimmed(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	at := time.UnixMilli(1_750_000_000_123)
	event := func(seq uint64) domain.Change {
		return domain.EventRecorded{Event: domain.Event{
			Seq: seq, Org: "acme", Kind: domain.EventLockAcquired, Name: domain.LockName(fmt.Sprintf("l%d", seq)),
			Token: domain.FencingToken(seq * 10), At: at.Add(time.Duration(seq) * time.Millisecond)}}
	}
	for _, b := range []domain.Batch{
		{Counter: 30, Changes: []domain.Change{event(1), event(2), event(3)}},
		{Counter: 50, Changes: []domain.Change{event(4), event(5)}},
		{Counter: 50, Changes: []domain.Change{domain.EventsTrimmed{Through: 4},
			domain.EventRecorded{Event: domain.Event{Seq: 6, Org: "beta", Kind: domain.EventSessionClosed, At: at}}}},
	} {
		if err := j.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	rows, err := db.Reader.QueryContext(ctx, `
		SELECT e.value ->> 'seq', e.value ->> 'org', e.value ->> 'kind', e.value ->> 'name', e.value ->> 'token', e.value ->> 'at_ms'
		FROM event_batches AS b, json_each(b.events) AS e ORDER BY b.first_seq, e.key`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var seq, token, atMs int64
		var org, kind, name string
		if err := rows.Scan(&seq, &org, &kind, &name, &token, &atMs); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%d %s %s %q %d %d", seq, org, kind, name, token, atMs-at.UnixMilli()))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{ // 4 is trimmed, but its batch holds 5
		`4 acme lock.acquired "l4" 40 4`,
		`5 acme lock.acquired "l5" 50 5`,
		`6 beta session.closed "" 0 0`,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events rows:\n got %q\nwant %q", got, want)
	}
	if s, err := j.Load(ctx); err != nil || s.EventSeq != 6 {
		t.Errorf("Load = EventSeq %d, %v; want 6", s.EventSeq, err)
	}
}

// TestCommitMetaErrors: the one statement that raises the meta values
// still tells which claim failed and which row is missing, and rolls the
// batch back.
func TestCommitMetaErrors(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	ev := func(seq uint64) domain.Change {
		return domain.EventRecorded{Event: domain.Event{Seq: seq, Org: "acme", Kind: domain.EventSessionOpened, At: time.UnixMilli(1e12)}}
	}
	if err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{ev(5)}}); err != nil {
		t.Fatal(err)
	}
	err := j.Commit(ctx, domain.Batch{Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: testLock("acme", "a", 2)}, ev(4), ev(6)}})
	if err == nil || !strings.Contains(err.Error(), "event seq 4 is not above the stored 5") {
		t.Errorf("Commit of a used event seq = %v, want it refused", err)
	}
	if s, err := j.Load(ctx); err != nil || s.Counter != 1 || len(s.Locks) != 0 || s.EventSeq != 5 {
		t.Errorf("after the refused batch: %+v, %v; want nothing of it stored", s, err)
	}
	if _, err := db.Writer.ExecContext(ctx, `DELETE FROM meta WHERE key = 'alive_ms'`); err != nil {
		t.Fatal(err)
	}
	err = j.Commit(ctx, domain.Batch{Counter: 3, AliveAt: time.Now()})
	if err == nil || !strings.Contains(err.Error(), "the alive_ms row is missing") {
		t.Errorf("Commit without the alive_ms row = %v, want it refused", err)
	}
}
