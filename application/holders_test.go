package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// gateJournal can hold the writer inside a commit: after arm, the next
// Commit signals entered and waits for open. Tests use it to put a request
// at an exact stage of its path (queued, decided but not committed).
type gateJournal struct {
	*memstore.Journal
	armed   chan struct{}
	entered chan struct{}
	open    chan struct{}
	// thenFail, set before open, makes the commit after the held one fail.
	thenFail error
}

func newGate() *gateJournal {
	return &gateJournal{Journal: memstore.New(), armed: make(chan struct{}, 1),
		entered: make(chan struct{}), open: make(chan struct{})}
}

func (g *gateJournal) arm() { g.armed <- struct{}{} }

func (g *gateJournal) Commit(ctx context.Context, b domain.Batch) error {
	select {
	case <-g.armed:
		g.entered <- struct{}{}
		<-g.open
		err := g.Journal.Commit(ctx, b)
		if g.thenFail != nil {
			g.Journal.FailNextCommit(g.thenFail)
		}
		return err
	default:
	}
	return g.Journal.Commit(ctx, b)
}

// holdWriter keeps the writer inside the commit of an unrelated grant and
// returns a function that lets it go.
func holdWriter(t *testing.T, f *fixture, g *gateJournal) func() {
	t.Helper()
	g.arm()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.mustAcquire(t, carol, "unrelated", time.Minute)
	}()
	<-g.entered
	return func() { g.open <- struct{}{}; <-done }
}

// waitPending waits (bounded) until n requests wait for the writer.
func waitPending(t *testing.T, f *fixture, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.engine.Pending() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d requests never reached the writer's queue", n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestHolderIsAClientNotAPrincipal(t *testing.T) {
	f := start(t, nil, nil)
	owned := func(p domain.Principal, owner string) (domain.Lock, error) {
		return f.acquireIn(t, p, application.AcquireInput{Name: "cron/nightly", TTL: time.Minute, Owner: owner})
	}
	a, err := owned(alice, "host-a:4711")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(time.Second)
	again, err := owned(alice, "host-a:4711")
	if err != nil || again.Lease != a.Lease || again.Token != a.Token || !again.ExpiresAt.After(a.ExpiresAt) {
		t.Fatalf("idempotent re-acquire: %+v, %v; first %+v", again, err, a)
	}
	for _, c := range []struct {
		who   domain.Principal
		owner string
	}{{alice, "host-b:99"}, {alice, ""}, {bob, "host-a:4711"}, {bob, ""}} {
		if _, err := owned(c.who, c.owner); !errors.Is(err, domain.ErrLockHeld) {
			t.Errorf("%s with owner %q: %v, want lock_held", c.who.User, c.owner, err)
		}
	}
	v, _ := f.locks.Get(ctx, bob, "cron/nightly")
	if v.Lock.Holder.User() != "alice" || v.Lock.Holder.Owner() != "host-a:4711" {
		t.Fatalf("holder shown as %q", v.Lock.Holder)
	}
	s, _ := f.sessions().Open(ctx, alice, time.Minute)
	for _, in := range []application.AcquireInput{
		{Name: "x", Owner: "", Session: s.ID, Ephemeral: false, TTL: time.Minute},
	} {
		in.Owner = "host-a"
		if _, err := f.acquireIn(t, alice, in); domain.CodeOf(err) != "owner_with_session" {
			t.Fatalf("owner with session: %v", err)
		}
	}
	for _, bad := range []string{"tab\there", "caf\u00e9", string(make([]byte, 129))} {
		if _, err := owned(alice, bad); domain.CodeOf(err) != "invalid_owner" {
			t.Fatalf("owner %q: %v, want invalid_owner", bad, err)
		}
	}
}

func TestRequestCancelledBeforeDecisionIsNeverQueued(t *testing.T) {
	g := newGate()
	f := start(t, g, nil)
	a := f.mustAcquire(t, alice, "g", time.Minute)
	let := holdWriter(t, f, g)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := f.locks.Acquire(cctx, bob, application.AcquireInput{Name: "g", TTL: time.Hour, Wait: time.Second})
		errc <- err
	}()
	go func() {
		_, err := f.locks.Acquire(cctx, bob, application.AcquireInput{Name: "spare", TTL: time.Hour})
		errc <- err
	}()
	waitPending(t, f, 2) // submitted, not decided: the writer is busy
	cancel()
	let()
	for range 2 {
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Fatalf("acquire of a client that left: %v, want context.Canceled", err)
		}
	}
	// Neither was decided: no fencing token was spent on them.
	if next := f.mustAcquire(t, alice, "next", time.Minute); next.Token != a.Token+2 {
		t.Fatalf("next token %d, want %d: a request of a client that left was granted", next.Token, a.Token+2)
	}
	if n := f.engine.Waiting(domain.LockKey{Org: "acme", Name: "g"}); n != 0 {
		t.Fatalf("%d waiters queued for a client that left", n)
	}
	if err := f.locks.Release(ctx, alice, "g", a.Lease); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.locks.Get(ctx, alice, "g"); v.Status != application.StatusFree {
		t.Fatalf("lock after release: %+v, want free (no ghost grant)", v)
	}
}

func TestGrantToAClientThatLeftDuringCommitIsRevoked(t *testing.T) {
	g := newGate()
	f := start(t, g, nil)
	g.arm()
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := f.locks.Acquire(cctx, bob, application.AcquireInput{Name: "h", TTL: time.Hour})
		errc <- err
	}()
	<-g.entered // the grant is decided and being committed
	cancel()
	g.open <- struct{}{}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("acquire: %v, want context.Canceled", err)
	}
	if v, _ := f.locks.Get(ctx, alice, "h"); v.Status != application.StatusFree {
		t.Fatalf("grant nobody can use was kept: %+v", v)
	}

	// With an owner the client can retry and gets its lease back, so the
	// grant stands (a revoke could race that retry).
	g.arm()
	cctx, cancel = context.WithCancel(ctx)
	go func() {
		_, err := f.locks.Acquire(cctx, bob, application.AcquireInput{Name: "h", TTL: time.Hour, Owner: "host-b"})
		errc <- err
	}()
	<-g.entered
	cancel()
	g.open <- struct{}{}
	<-errc
	kept, _ := f.locks.Get(ctx, alice, "h")
	retry, err := f.acquireIn(t, bob, application.AcquireInput{Name: "h", TTL: time.Hour, Owner: "host-b"})
	if err != nil || kept.Status != application.StatusHeld || retry.Lease != kept.Lock.Lease {
		t.Fatalf("retry with the owner: %+v %v; kept %+v", retry, err, kept)
	}
}

func TestWaiterThatLeftIsNeverGranted(t *testing.T) {
	g := newGate()
	f := start(t, g, nil)
	a := f.mustAcquire(t, alice, "w", time.Minute)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := f.locks.Acquire(cctx, bob, application.AcquireInput{Name: "w", TTL: time.Hour, Wait: time.Minute})
		errc <- err
	}()
	waitQueued(t, f, "w", 1)
	// Hold the writer, then let bob leave and alice release while it is
	// busy: whichever the writer decides first, bob is never granted.
	let := holdWriter(t, f, g)
	cancel()
	relc := make(chan error, 1)
	go func() { relc <- f.locks.Release(ctx, alice, "w", a.Lease) }()
	waitPending(t, f, 1)
	let()
	if err := <-relc; err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("waiter: %v", err)
	}
	if v, _ := f.locks.Get(ctx, alice, "w"); v.Status != application.StatusFree || v.Waiters != 0 {
		t.Fatalf("after a waiter left: %+v, want free with no waiters", v)
	}
}

func TestFailedCommitLeavesNoWaiterQueued(t *testing.T) {
	g := newGate()
	f := start(t, g, nil)
	a := f.mustAcquire(t, alice, "q", time.Minute)
	// Bob's blocking acquire shares a batch with a grant whose commit fails.
	let := holdWriter(t, f, g)
	errc := make(chan error, 2)
	go func() {
		_, err := f.acquireIn(t, bob, application.AcquireInput{Name: "q", TTL: time.Hour, Wait: time.Minute})
		errc <- err
	}()
	go func() {
		_, err := f.acquire(t, alice, "other", time.Minute)
		errc <- err
	}()
	waitPending(t, f, 2)
	g.thenFail = errors.New("disk full")
	let()
	for range 2 {
		if err := <-errc; domain.KindOf(err) != domain.KindUnavailable {
			t.Fatalf("request in a failed batch: %v, want unavailable", err)
		}
	}
	if v, _ := f.locks.Get(ctx, alice, "q"); v.Waiters != 0 {
		t.Fatalf("%d waiters left queued by a refused batch", v.Waiters)
	}
	if err := f.locks.Release(ctx, alice, "q", a.Lease); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.locks.Get(ctx, alice, "q"); v.Status != application.StatusFree {
		t.Fatalf("lock granted to a refused waiter: %+v", v)
	}
}

func TestLockViewTellsDelayedAndWaiters(t *testing.T) {
	f := start(t, nil, nil)
	delay := 5 * time.Second
	l, err := f.acquireIn(t, alice, application.AcquireInput{Name: "d", TTL: time.Second, LockDelay: &delay})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = f.acquireIn(t, bob, application.AcquireInput{Name: "d", TTL: time.Minute, Wait: time.Minute})
	}()
	waitQueued(t, f, "d", 1)
	v, _ := f.locks.Get(ctx, carol, "d")
	if v.Status != application.StatusFree {
		t.Fatalf("another org sees %+v", v)
	}
	v, _ = f.locks.Get(ctx, bob, "d")
	if v.Status != application.StatusHeld || v.Waiters != 1 || v.Lock.Token != l.Token {
		t.Fatalf("held lock with a waiter: %+v", v)
	}
	f.clock.Advance(time.Second) // expired without a release: delayed
	v, _ = f.locks.Get(ctx, bob, "d")
	if v.Status != application.StatusDelayed || !v.AvailableAt.Equal(l.ExpiresAt.Add(delay)) || v.Lock.Exists() {
		t.Fatalf("lock in its delay: %+v", v)
	}
	page, _ := f.locks.List(ctx, bob, domain.Prefix{}, "", 10)
	if len(page.Locks) != 0 {
		t.Fatalf("a delayed lock is listed as held: %+v", page.Locks)
	}
}

func TestHealthTellsAFailedCommit(t *testing.T) {
	j := memstore.New()
	f := start(t, j, nil)
	if h := f.engine.Health(); !h.CommitFailedAt.IsZero() {
		t.Fatalf("fresh engine: %+v", h)
	}
	j.FailNextCommit(errors.New("disk full"))
	if _, err := f.acquire(t, alice, "a", time.Minute); err == nil {
		t.Fatal("acquire succeeded in a failed commit")
	}
	if h := f.engine.Health(); !h.CommitFailedAt.Equal(f.clock.Now()) {
		t.Fatalf("after a failed commit: %+v", h)
	}
	f.mustAcquire(t, alice, "a", time.Minute)
	if h := f.engine.Health(); !h.CommitFailedAt.IsZero() {
		t.Fatalf("after a good commit: %+v", h)
	}
}
