package sqlite_test

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
)

func TestLoadParts(t *testing.T) {
	for _, tc := range []struct {
		count            int64
		procs, conns     int
		want             int
		lowerParallelMin bool
	}{
		{count: 49_999, procs: 8, conns: 4, want: 1},
		{count: 50_000, procs: 1, conns: 4, want: 2},
		{count: 50_000, procs: 2, conns: 4, want: 2},
		{count: 1_000_000, procs: 3, conns: 4, want: 3},
		{count: 1_000_000, procs: 64, conns: 4, want: 4},
		{count: 1_000_000, procs: 64, conns: 8, want: 4},
		{count: 1_000_000, procs: 64, conns: 3, want: 3},
		{count: 1_000_000, procs: 64, conns: 1, want: 1},
		{count: 3, procs: 8, conns: 4, want: 3, lowerParallelMin: true},
		{count: 1, procs: 8, conns: 4, want: 1, lowerParallelMin: true},
	} {
		t.Run(fmt.Sprint(tc.count, "/", tc.procs, "/", tc.conns), func(t *testing.T) {
			if tc.lowerParallelMin {
				sqlite.SetParallelLoadMin(t, 1)
			}
			if got := sqlite.LoadParts(tc.count, tc.procs, tc.conns); got != tc.want {
				t.Errorf("loadParts(%d locks, %d procs, %d conns) = %d, want %d", tc.count, tc.procs, tc.conns, got, tc.want)
			}
		})
	}
}

// TestLockRangeQueriesSeek requires the range queries Load runs to seek on
// the whole primary key, at both ends: a seek on org alone would make each
// part scan its org from the start.
func TestLockRangeQueriesSeek(t *testing.T) {
	db, _ := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	for name, query := range sqlite.LockRangeQueries {
		rows, err := db.Reader.Query("EXPLAIN QUERY PLAN "+query, "a", "b", "c", "d")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := "SEARCH locks USING PRIMARY KEY ((org,name)>(?,?)"
		if name == "ListLocksRange" {
			want += " AND (org,name)<(?,?))"
		}
		if got := strings.Join(plan, "; "); !strings.Contains(got, want) {
			t.Errorf("%s plan = %q, want %q", name, got, want)
		}
	}
}

// partLock is lock i of a table filled by fillParts: three orgs, and names
// whose byte order is not the order of i.
func partLock(i int) domain.Lock {
	tok := domain.FencingToken(i + 1)
	at := time.UnixMilli(1_700_000_000_000 + int64(i))
	return domain.Lock{
		Key:    domain.LockKey{Org: domain.OrgID(fmt.Sprint("org", i%3)), Name: domain.LockName(fmt.Sprintf("jobs/%d/lock-%d", i%7, i))},
		Holder: domain.Holder(fmt.Sprint("user:w", i%5)), Lease: domain.NewLeaseID(tok, "n"),
		Token: tok, AcquiredAt: at, ExpiresAt: at.Add(time.Hour), Metadata: fmt.Sprint("m", i),
	}
}

func lockOrder(a, b domain.Lock) int {
	return cmp.Or(cmp.Compare(a.Key.Org, b.Key.Org), cmp.Compare(a.Key.Name, b.Key.Name))
}

// fillParts commits n locks and folds them into the locks table; it
// returns them in key order.
func fillParts(t *testing.T, db *sqlite.DB, j *sqlite.Journal, n int) []domain.Lock {
	t.Helper()
	ctx := context.Background()
	want := make([]domain.Lock, n)
	changes := make([]domain.Change, n)
	for i := range n {
		want[i] = partLock(i)
		changes[i] = domain.LockSaved{Lock: want[i]}
	}
	if err := j.Commit(ctx, domain.Batch{Counter: domain.FencingToken(n), Changes: changes}); err != nil {
		t.Fatal(err)
	}
	if err := db.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(want, lockOrder)
	return want
}

// checkLocks fails t unless got holds the locks of want, each once, in
// the same order.
func checkLocks(t *testing.T, got, want []domain.Lock) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("loaded %d locks, want %d", len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Key != w.Key || g.Token != w.Token || g.Lease != w.Lease || g.Holder != w.Holder ||
			g.Metadata != w.Metadata || !g.AcquiredAt.Equal(w.AcquiredAt) || !g.ExpiresAt.Equal(w.ExpiresAt) {
			t.Fatalf("lock %d = %+v, want %+v", i, g, w)
		}
	}
}

// forceParts makes Load split even a small table into as many parts as the
// Reader pool has connections (up to 4) until the end of t.
func forceParts(t *testing.T) {
	sqlite.SetParallelLoadMin(t, 2)
	old := runtime.GOMAXPROCS(4)
	t.Cleanup(func() { runtime.GOMAXPROCS(old) })
}

// TestLoadReadsPartsInOrder reads the locks table in 2, 3 and 4 parts and
// requires every lock exactly once, in key order, with the change log
// replayed on top; and requires a bad row in the second part to refuse the
// whole load.
func TestLoadReadsPartsInOrder(t *testing.T) {
	forceParts(t)
	const n = 1000
	for _, parts := range []int{2, 3, 4} {
		t.Run(fmt.Sprint(parts, " parts"), func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "db")
			db, err := sqlite.Open(ctx, sqlite.Config{Path: path, ReadConns: parts})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			j := sqlite.NewJournal(db)
			want := fillParts(t, db, j, n)
			if got := sqlite.LoadParts(n, runtime.GOMAXPROCS(0), parts); got != parts {
				t.Fatalf("loadParts = %d, want %d", got, parts)
			}

			s, err := j.Load(ctx)
			if err != nil {
				t.Fatal(err)
			}
			checkLocks(t, s.Locks, want)

			// Changes still in the change log: one lock of each part
			// deleted, one updated, and a new one.
			var changes []domain.Change
			counter := domain.FencingToken(n)
			for k := range parts {
				i := n*k/parts + 3
				changes = append(changes, domain.LockDeleted{Key: want[i].Key})
				counter++
				up := want[i+1]
				up.Token, up.Lease, up.Metadata = counter, domain.NewLeaseID(counter, "u"), "updated"
				changes = append(changes, domain.LockSaved{Lock: up})
				want[i+1] = up
				want[i].Token = 0 // deleted
			}
			counter++
			added := partLock(n)
			added.Key.Name, added.Token, added.Lease = "zz/new", counter, domain.NewLeaseID(counter, "a")
			changes = append(changes, domain.LockSaved{Lock: added})
			want = append(slices.DeleteFunc(want, func(l domain.Lock) bool { return l.Token == 0 }), added)
			slices.SortFunc(want, lockOrder)
			if err := j.Commit(ctx, domain.Batch{Counter: counter, Changes: changes}); err != nil {
				t.Fatal(err)
			}
			if s, err = j.Load(ctx); err != nil {
				t.Fatal(err)
			}
			checkLocks(t, s.Locks, want)

			// A bad row in the second part refuses the load.
			if err := db.Fold(ctx); err != nil {
				t.Fatal(err)
			}
			bad := want[n/parts+1]
			if _, err := db.Writer.ExecContext(ctx, `UPDATE locks SET lease_id = 'L999999-x' WHERE org = ? AND name = ?`,
				string(bad.Key.Org), string(bad.Key.Name)); err != nil {
				t.Fatal(err)
			}
			s, err = j.Load(ctx)
			if err == nil {
				t.Fatalf("Load with a bad row in the second part = %d locks, want an error", len(s.Locks))
			}
			if !strings.Contains(err.Error(), "does not embed") || !strings.Contains(err.Error(), string(bad.Key.Name)) {
				t.Errorf("Load error = %q, want it to name %s and its lease", err, bad.Key.Name)
			}
			if len(s.Locks) != 0 || s.Counter != 0 {
				t.Errorf("Load returned a partial snapshot with its error: %d locks, counter %d", len(s.Locks), s.Counter)
			}
		})
	}
}

// TestLoadInPartsWhileCommitting loads while another goroutine commits,
// folding often, new tokens for locks all over the table. Every snapshot
// must hold each lock once, one of them with the counter's token (the last
// commit's); a part read at a later commit than the counter would fail the
// load with a token above the counter.
func TestLoadInPartsWhileCommitting(t *testing.T) {
	forceParts(t)
	ctx := context.Background()
	_, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	sqlite.SetFoldEvery(j, 2)
	const n = 400
	lock := func(i int, tok domain.FencingToken) domain.Lock {
		now := time.UnixMilli(1_700_000_000_000)
		return domain.Lock{Key: domain.LockKey{Org: "acme", Name: domain.LockName(fmt.Sprintf("l%06d", i))},
			Holder: "user:w", Lease: domain.NewLeaseID(tok, "n"), Token: tok, AcquiredAt: now, ExpiresAt: now.Add(time.Hour)}
	}
	changes := make([]domain.Change, n)
	for i := range n {
		changes[i] = domain.LockSaved{Lock: lock(i, n)}
	}
	if err := j.Commit(ctx, domain.Batch{Counter: n, Changes: changes}); err != nil {
		t.Fatal(err)
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for tok := domain.FencingToken(n + 1); ; tok++ {
			select {
			case <-stop:
				return
			default:
			}
			b := domain.Batch{Counter: tok, Changes: []domain.Change{domain.LockSaved{Lock: lock(int(tok*37%n), tok)}}}
			if err := j.Commit(ctx, b); err != nil {
				t.Error(err)
				return
			}
		}
	})
	defer wg.Wait()
	defer close(stop)
	for range 100 {
		s, err := j.Load(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(s.Locks) != n {
			t.Fatalf("snapshot with counter %d holds %d locks, want %d", s.Counter, len(s.Locks), n)
		}
		if !slices.ContainsFunc(s.Locks, func(l domain.Lock) bool { return l.Token == s.Counter }) {
			t.Fatalf("snapshot with counter %d lacks the lock of its last commit", s.Counter)
		}
	}
}
