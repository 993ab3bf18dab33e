package application_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/clock"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// benchService runs the lock use cases on a real SQLite file with
// synchronous=FULL, as in production.
func benchService(b *testing.B) *application.LockService { return benchServiceWith(b, nil) }

// benchServiceWith is benchService on a database that holds changes.
func benchServiceWith(b *testing.B, changes []domain.Change) *application.LockService {
	b.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(b.TempDir(), "bench.db"), Sync: "full"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	if err := db.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	j := sqlite.NewJournal(db)
	if len(changes) > 0 {
		if err := j.Commit(ctx, domain.Batch{Changes: changes}); err != nil {
			b.Fatal(err)
		}
	}
	e := application.NewEngine(j, clock.System{}, application.EngineConfig{})
	if err := e.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = e.Stop(ctx) })
	return application.NewLockService(e, 0)
}

func acquireRelease(b *testing.B, s *application.LockService, p domain.Principal, name domain.LockName) {
	l, err := s.Acquire(context.Background(), p, application.AcquireInput{Name: name, TTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.Release(context.Background(), p, name, l.Lease); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAcquireRelease is one client doing acquire+release cycles: every
// operation pays its own fsync.
func BenchmarkAcquireRelease(b *testing.B) {
	s := benchService(b)
	p := domain.Principal{Org: "acme", User: "bench"}
	b.ResetTimer()
	for b.Loop() {
		acquireRelease(b, s, p, "bench/serial")
	}
}

// BenchmarkAcquireReleaseParallel is 64 clients (32 per core on the 2-core
// reference machine), each cycling on its own lock: group commit shares
// fsyncs between them. The idle=10000 case holds 10,000 other locks: the
// cost of an operation must not grow with the number of locks.
func BenchmarkAcquireReleaseParallel(b *testing.B) {
	for _, idle := range []int{0, 10_000} {
		b.Run(fmt.Sprintf("idle=%d", idle), func(b *testing.B) { benchParallel(b, idle) })
	}
}

// BenchmarkAcquireReleaseACL is the parallel cycle with the org's 1,000
// ACL rules (every check decided through a team, at depth 2) against none,
// in one process, so the two differ only by the rules.
func BenchmarkAcquireReleaseACL(b *testing.B) {
	for _, rules := range []int{0, 1000} {
		b.Run(fmt.Sprintf("rules=%d", rules), func(b *testing.B) {
			var changes []domain.Change
			if rules > 0 {
				members := make([]string, 0, 256)
				for i := range 256 {
					members = append(members, fmt.Sprintf("u%d", i))
				}
				team, _ := domain.NewTeam("acme", "load", members, time.Now())
				changes = append(changes, domain.TeamSaved{Team: team})
				acl, _ := domain.NewACL("acme", "bench", []string{"team:load"}, nil, "owner", time.Now())
				changes = append(changes, domain.ACLSaved{ACL: acl})
				for i := 1; i < rules; i++ {
					acl, _ := domain.NewACL("acme", fmt.Sprintf("other/r%d", i), []string{"user:owner"}, nil, "owner", time.Now())
					changes = append(changes, domain.ACLSaved{ACL: acl})
				}
			}
			benchParallelOn(b, benchServiceWith(b, changes), 0)
		})
	}
}

func benchParallel(b *testing.B, idle int) { benchParallelOn(b, benchService(b), idle) }

func benchParallelOn(b *testing.B, s *application.LockService, idle int) {
	holder := domain.Principal{Org: "acme", User: "idle"}
	for i := range idle {
		name := domain.LockName(fmt.Sprintf("idle/%d", i))
		if _, err := s.Acquire(context.Background(), holder, application.AcquireInput{Name: name, TTL: time.Hour}); err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	b.SetParallelism(32)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := next.Add(1)
		p := domain.Principal{Org: "acme", User: fmt.Sprintf("u%d", i)}
		name := domain.LockName(fmt.Sprintf("bench/%d", i))
		for pb.Next() {
			acquireRelease(b, s, p, name)
		}
	})
}
