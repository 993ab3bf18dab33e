package application_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/clock"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// restoreLocks is the number of held locks BenchmarkRestore loads; set
// OCTOSTORE_BENCH_LOCKS to change it (the target is 1,000,000).
func restoreLocks() int {
	if n, err := strconv.Atoi(os.Getenv("OCTOSTORE_BENCH_LOCKS")); err == nil && n > 0 {
		return n
	}
	return 1_000_000
}

// BenchmarkRestore measures start-up: loading N held locks from SQLite into
// memory. It reports the restore time, the heap per lock and the process's
// resident memory with the locks loaded (which includes what filling the
// database left behind in this process; `octostore serve` on the kept file
// measures it alone).
//
//	go test -run '^$' -bench Restore -benchtime 1x ./application/
//	OCTOSTORE_BENCH_DB=/tmp/1m.db go test -run '^$' -bench Restore -benchtime 1x ./application/
func BenchmarkRestore(b *testing.B) {
	ctx := context.Background()
	n := restoreLocks()
	// OCTOSTORE_BENCH_DB keeps the database at that path (filled only if it
	// does not exist yet), so that `octostore serve --db` can be measured
	// on the same file.
	path := os.Getenv("OCTOSTORE_BENCH_DB")
	if path == "" {
		path = filepath.Join(b.TempDir(), "restore.db")
	}
	if _, err := os.Stat(path); err != nil {
		fill(b, path, n)
	}
	b.ResetTimer()
	for b.Loop() {
		db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		began := time.Now()
		e := application.NewEngine(sqlite.NewJournal(db), clock.System{}, application.EngineConfig{})
		if err := e.Start(ctx); err != nil {
			b.Fatal(err)
		}
		took := time.Since(began)
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if got := e.Stats().LockRecords; got != n {
			b.Fatalf("restored %d locks, want %d", got, n)
		}
		b.ReportMetric(took.Seconds(), "restore-s")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(n), "heap-B/lock")
		b.ReportMetric(float64(rssBytes())/(1<<20), "rss-MiB")
		_ = e.Stop(ctx)
		_ = db.Close()
	}
}

// fill commits n held locks (one hour TTL) in batches, as the server would.
func fill(b *testing.B, path string, n int) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path, Sync: "normal"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	j := sqlite.NewJournal(db)
	now := time.Now()
	const batch = 10_000
	for start := 0; start < n; start += batch {
		changes := make([]domain.Change, 0, batch)
		for i := start; i < min(n, start+batch); i++ {
			tok := domain.FencingToken(i + 1)
			changes = append(changes, domain.LockSaved{Lock: domain.Lock{
				Key:    domain.LockKey{Org: domain.OrgID(fmt.Sprintf("org%d", i%10)), Name: domain.LockName(fmt.Sprintf("jobs/shard-%d/lock-%d", i%100, i))},
				Holder: domain.Holder(fmt.Sprintf("user:worker%d", i%1000)), Lease: domain.NewLeaseID(tok, "0123456789abcdef"),
				Token: tok, AcquiredAt: now, ExpiresAt: now.Add(time.Hour), Metadata: "host-a:5432",
			}})
		}
		if err := j.Commit(ctx, domain.Batch{Changes: changes, Counter: domain.FencingToken(min(n, start+batch))}); err != nil {
			b.Fatal(err)
		}
	}
}

// rssBytes returns the resident set size of this process (Linux), or 0.
func rssBytes() int64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
