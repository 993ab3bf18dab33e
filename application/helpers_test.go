package application_test

import (
	"context"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
	"github.com/octostore/octostore/ports/porttest"
)

// fakeClock is the hand-moved clock every test here runs on.
type fakeClock = porttest.Clock

func newFakeClock() *fakeClock {
	return porttest.NewClock(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
}

var (
	alice = domain.Principal{Org: "acme", User: "alice"}
	bob   = domain.Principal{Org: "acme", User: "bob"}
	carol = domain.Principal{Org: "globex", User: "carol"}
)

type fixture struct {
	clock   *fakeClock
	journal ports.Journal
	engine  *application.Engine
	locks   *application.LockService
}

// start runs an engine on j (a fresh memstore when nil) until the test ends.
func start(t testing.TB, j ports.Journal, clk *fakeClock) *fixture {
	t.Helper()
	if j == nil {
		j = memstore.New()
	}
	if clk == nil {
		clk = newFakeClock()
	}
	e := application.NewEngine(j, clk, application.EngineConfig{SweepInterval: time.Hour})
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("start engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return &fixture{clock: clk, journal: j, engine: e, locks: application.NewLockService(e, 0)}
}

func (f *fixture) acquire(t testing.TB, p domain.Principal, name string, ttl time.Duration) (domain.Lock, error) {
	t.Helper()
	return f.locks.Acquire(context.Background(), p, application.AcquireInput{Name: domain.LockName(name), TTL: ttl})
}

func (f *fixture) mustAcquire(t testing.TB, p domain.Principal, name string, ttl time.Duration) domain.Lock {
	t.Helper()
	l, err := f.acquire(t, p, name, ttl)
	if err != nil {
		t.Fatalf("acquire %s by %s: %v", name, p.User, err)
	}
	return l
}
