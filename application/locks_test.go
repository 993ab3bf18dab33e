package application_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

var ctx = context.Background()

func TestAcquireConflictRelease(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "db/primary", time.Minute)
	if a.Token != 1 {
		t.Fatalf("first token = %d, want 1", a.Token)
	}
	if _, err := f.acquire(t, bob, "db/primary", time.Minute); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("bob acquire: %v, want lock_held", err)
	}
	if _, err := f.acquire(t, alice, "db/primary", time.Minute); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("second acquire by the taker without owner or session: %v, want lock_held", err)
	}
	if err := f.locks.Release(ctx, bob, "db/primary", "nope"); !errors.Is(err, domain.ErrLeaseNotCurrent) {
		t.Fatalf("release by wrong lease: %v", err)
	}
	if err := f.locks.Release(ctx, alice, "db/primary", a.Lease); err != nil {
		t.Fatal(err)
	}
	if err := f.locks.Release(ctx, alice, "db/primary", "garbage"); !errors.Is(err, domain.ErrLockNotFound) {
		t.Fatalf("release of free lock: %v", err)
	}
	b := f.mustAcquire(t, bob, "db/primary", time.Minute)
	if !a.Token.Less(b.Token) {
		t.Fatalf("token did not grow: %d then %d", a.Token, b.Token)
	}
}

func TestExpiryIsDecidedWithoutSweep(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "job", time.Second)
	f.clock.Advance(time.Second)
	if l, _ := f.locks.Get(ctx, alice, "job"); l.Status != application.StatusFree {
		t.Fatalf("expired lock still shown as held: %+v", l)
	}
	if _, err := f.locks.Renew(ctx, alice, "job", a.Lease, time.Minute); !errors.Is(err, domain.ErrLeaseNotCurrent) {
		t.Fatalf("renew of expired lease: %v, want lease_not_current", err)
	}
	b := f.mustAcquire(t, bob, "job", time.Minute) // no sweep has run
	if b.Token <= a.Token {
		t.Fatalf("token %d not above %d", b.Token, a.Token)
	}
	if err := f.locks.Release(ctx, alice, "job", a.Lease); !errors.Is(err, domain.ErrLeaseNotCurrent) {
		t.Fatalf("old lease released the new holder's lock: %v", err)
	}
}

func TestSweepDeletesExpiredLocks(t *testing.T) {
	f := start(t, nil, nil)
	f.mustAcquire(t, alice, "a", time.Second)
	f.mustAcquire(t, alice, "b", time.Minute)
	l := f.mustAcquire(t, alice, "c", time.Second)
	if _, err := f.locks.Renew(ctx, alice, "c", l.Lease, time.Minute); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Second)
	if err := f.engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if n := f.engine.Stats().LockRecords; n != 2 {
		t.Fatalf("records after sweep = %d, want 2 (b and renewed c)", n)
	}
	snap, err := f.journal.Load(ctx)
	if err != nil || len(snap.Locks) != 2 {
		t.Fatalf("stored locks after sweep = %d (%v), want 2", len(snap.Locks), err)
	}
}

func TestTenantsAreIsolated(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "db/primary", time.Minute)
	if l, _ := f.locks.Get(ctx, carol, "db/primary"); l.Status != application.StatusFree {
		t.Fatal("globex sees acme's lock")
	}
	if err := f.locks.Release(ctx, carol, "db/primary", a.Lease); err == nil {
		t.Fatal("globex released acme's lock")
	}
	if _, err := f.locks.Renew(ctx, carol, "db/primary", a.Lease, time.Minute); err == nil {
		t.Fatal("globex renewed acme's lock")
	}
	c := f.mustAcquire(t, carol, "db/primary", time.Minute)
	if c.Lease == a.Lease {
		t.Fatal("same lease across orgs")
	}
	page, _ := f.locks.List(ctx, carol, domain.Prefix{}, "", 10)
	if len(page.Locks) != 1 || page.Locks[0].Lock.Holder.User() != "carol" {
		t.Fatalf("carol's listing: %+v", page.Locks)
	}
	if l, _ := f.locks.Get(ctx, alice, "db/primary"); l.Lock.Lease != a.Lease {
		t.Fatal("acme's lock was touched")
	}
}

func TestListPagesInNameOrder(t *testing.T) {
	f := start(t, nil, nil)
	for _, n := range []string{"db/b", "db", "dbx", "db/a", "db/c/d", "app"} {
		f.mustAcquire(t, alice, n, time.Minute)
	}
	p, _ := domain.ParsePrefix("db")
	var names []string
	var after domain.LockName
	for range 10 {
		page, err := f.locks.List(ctx, alice, p, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range page.Locks {
			names = append(names, string(l.Lock.Key.Name))
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if got, want := fmt.Sprint(names), "[db db/a db/b db/c/d]"; got != want {
		t.Fatalf("listing = %s, want %s", got, want)
	}
}

func TestAdminCannotHoldLocks(t *testing.T) {
	f := start(t, nil, nil)
	if _, err := f.acquire(t, application.AdminPrincipal, "x", time.Minute); !errors.Is(err, domain.ErrAdminNotTenant) {
		t.Fatalf("admin acquire: %v", err)
	}
}

func TestFailedCommitChangesNothingAndBurnsTheToken(t *testing.T) {
	j := memstore.New()
	f := start(t, j, nil)
	first := f.mustAcquire(t, alice, "a", time.Minute)
	j.FailNextCommit(errors.New("disk full"))
	_, err := f.acquire(t, alice, "b", time.Minute)
	if domain.KindOf(err) != domain.KindUnavailable {
		t.Fatalf("acquire during failed commit: %v, want unavailable", err)
	}
	if l, _ := f.locks.Get(ctx, alice, "b"); l.Status != application.StatusFree {
		t.Fatal("a refused grant is visible")
	}
	next := f.mustAcquire(t, alice, "b", time.Minute)
	if next.Token <= first.Token+1 {
		t.Fatalf("token %d may reuse the refused batch's token", next.Token)
	}
}

func TestRaceHasExactlyOneWinnerPerRound(t *testing.T) {
	f := start(t, nil, nil)
	var last domain.FencingToken
	for round := range 10 {
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			winners []domain.Lock
		)
		for i := range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := domain.Principal{Org: "acme", User: fmt.Sprintf("u%d", i)}
				l, err := f.acquire(t, p, "leader", time.Minute)
				if err == nil {
					mu.Lock()
					winners = append(winners, l)
					mu.Unlock()
				} else if !errors.Is(err, domain.ErrLockHeld) {
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners", round, len(winners))
		}
		w := winners[0]
		if w.Token <= last {
			t.Fatalf("round %d: token %d not above %d", round, w.Token, last)
		}
		last = w.Token
		owner := domain.Principal{Org: "acme", User: w.Holder.User()}
		if err := f.locks.Release(ctx, owner, "leader", w.Lease); err != nil {
			t.Fatal(err)
		}
	}
}

// slowJournal makes commits take a while, so that concurrent requests
// queue up behind one another and must share commits.
type slowJournal struct {
	*memstore.Journal
	delay time.Duration
}

func (s slowJournal) Commit(ctx context.Context, b domain.Batch) error {
	time.Sleep(s.delay)
	return s.Journal.Commit(ctx, b)
}

func TestConcurrentWritesShareCommits(t *testing.T) {
	f := start(t, slowJournal{memstore.New(), 5 * time.Millisecond}, nil)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.mustAcquire(t, alice, fmt.Sprintf("n%d", i), time.Minute)
		}()
	}
	wg.Wait()
	s := f.engine.Stats()
	if s.Requests < 64 || s.Batches >= 32 {
		t.Fatalf("64 acquires took %d commits (requests %d); want far fewer than 64", s.Batches, s.Requests)
	}
	t.Logf("64 concurrent acquires: %d commits", s.Batches)
}

func TestRestartRestoresLocksAndCounter(t *testing.T) {
	j := memstore.New()
	clk := newFakeClock()
	f := start(t, j, clk)
	a := f.mustAcquire(t, alice, "a", time.Minute)
	b := f.mustAcquire(t, carol, "a", time.Minute)
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	g := start(t, j, clk)
	if l, _ := g.locks.Get(ctx, alice, "a"); l.Lock.Lease != a.Lease || l.Lock.Token != a.Token {
		t.Fatalf("restored %+v, want %+v", l, a)
	}
	if _, err := g.acquire(t, bob, "a", time.Minute); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("restored lock not held: %v", err)
	}
	c := g.mustAcquire(t, bob, "fresh", time.Minute)
	if c.Token <= b.Token {
		t.Fatalf("token after restart %d not above %d", c.Token, b.Token)
	}
}

func TestStoppedEngineRefusesWrites(t *testing.T) {
	f := start(t, nil, nil)
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acquire(t, alice, "a", time.Minute); !errors.Is(err, domain.ErrUnavailable) {
		t.Fatalf("acquire after stop: %v", err)
	}
}
