package application_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

func (f *fixture) sessions() *application.SessionService {
	return application.NewSessionService(f.engine)
}

func (f *fixture) acquireIn(t testing.TB, p domain.Principal, in application.AcquireInput) (domain.Lock, error) {
	t.Helper()
	if in.TTL == 0 {
		in.TTL = time.Minute
	}
	return f.locks.Acquire(context.Background(), p, in)
}

func seconds(n int) *time.Duration { d := time.Duration(n) * time.Second; return &d }

func TestSessionLifecycle(t *testing.T) {
	f := start(t, nil, nil)
	ss := f.sessions()
	s, err := ss.Open(ctx, alice, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ss.Open(ctx, alice, 5*time.Second); domain.CodeOf(err) != "invalid_ttl" {
		t.Fatalf("ttl 5s: %v", err)
	}
	f.clock.Advance(20 * time.Second)
	k, err := ss.KeepAlive(ctx, alice, s.ID)
	if err != nil || !k.ExpiresAt.Equal(f.clock.Now().Add(30*time.Second)) {
		t.Fatalf("keepalive: %+v %v", k, err)
	}
	for _, p := range []domain.Principal{bob, carol} {
		if _, err := ss.KeepAlive(ctx, p, s.ID); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Fatalf("%s keepalive of alice's session: %v", p.User, err)
		}
		if err := ss.Close(ctx, p, s.ID); !errors.Is(err, domain.ErrSessionNotFound) {
			t.Fatalf("%s closed alice's session: %v", p.User, err)
		}
	}
	if _, err := ss.KeepAlive(ctx, alice, "s_nope"); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Fatalf("unknown session: %v", err)
	}
	f.clock.Advance(31 * time.Second)
	if _, err := ss.Get(ctx, alice, s.ID); !errors.Is(err, domain.ErrSessionExpired) {
		t.Fatalf("get expired: %v", err)
	}
	if _, err := ss.KeepAlive(ctx, alice, s.ID); !errors.Is(err, domain.ErrSessionExpired) {
		t.Fatalf("keepalive expired: %v", err)
	}
	// Ended now; its owner is still told "expired", others "not found".
	if _, err := ss.KeepAlive(ctx, alice, s.ID); !errors.Is(err, domain.ErrSessionExpired) {
		t.Fatalf("keepalive after end: %v", err)
	}
	if _, err := ss.Get(ctx, bob, s.ID); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Fatalf("bob get: %v", err)
	}
}

func TestEphemeralLockDiesWithItsSession(t *testing.T) {
	f := start(t, nil, nil)
	ss := f.sessions()
	s, _ := ss.Open(ctx, alice, 10*time.Second)
	l, err := f.acquireIn(t, alice, application.AcquireInput{Name: "leader", Session: s.ID, Ephemeral: true, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !l.ExpiresAt.Equal(s.ExpiresAt) || l.Holder != s.Holder() {
		t.Fatalf("ephemeral lock %+v does not follow session %+v", l, s)
	}
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "plain", Session: s.ID}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(8 * time.Second)
	if _, err := ss.KeepAlive(ctx, alice, s.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(8 * time.Second) // past the lock's first expiry, within the session
	if g, _ := f.locks.Get(ctx, bob, "leader"); !g.Lock.Exists() {
		t.Fatal("keepalive did not keep the ephemeral lock")
	}
	view, _ := ss.Get(ctx, alice, s.ID)
	if len(view.Locks) != 2 {
		t.Fatalf("session locks = %v", view.Locks)
	}
	f.clock.Advance(3 * time.Second) // session expired
	if g, _ := f.locks.Get(ctx, bob, "leader"); g.Lock.Exists() {
		t.Fatal("ephemeral lock outlived its session")
	}
	if err := f.engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "leader"}); err != nil {
		t.Fatalf("bob after session end: %v", err)
	}
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "plain"}); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("non-ephemeral session lock should survive its session: %v", err)
	}
	snap, _ := f.journal.Load(ctx)
	if len(snap.Sessions) != 0 {
		t.Fatalf("expired session still stored: %+v", snap.Sessions)
	}
}

func TestEphemeralNeedsSessionAndSessionsAreContended(t *testing.T) {
	f := start(t, nil, nil)
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "x", Ephemeral: true}); domain.CodeOf(err) != "ephemeral_needs_session" {
		t.Fatalf("ephemeral without session: %v", err)
	}
	ss := f.sessions()
	s1, _ := ss.Open(ctx, alice, time.Minute)
	s2, _ := ss.Open(ctx, alice, time.Minute)
	a, err := f.acquireIn(t, alice, application.AcquireInput{Name: "job", Session: s1.ID})
	if err != nil {
		t.Fatal(err)
	}
	if again, err := f.acquireIn(t, alice, application.AcquireInput{Name: "job", Session: s1.ID}); err != nil || again.Lease != a.Lease {
		t.Fatalf("same session re-acquire: %+v %v", again, err)
	}
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "job", Session: s2.ID}); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("second session of the same user: %v", err)
	}
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "job"}); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("the user without session: %v", err)
	}
	if _, err := f.acquireIn(t, carol, application.AcquireInput{Name: "job", Session: s1.ID}); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Fatalf("org B using org A's session: %v", err)
	}
	if err := ss.Close(ctx, alice, s1.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "other", Session: s1.ID}); !errors.Is(err, domain.ErrSessionNotFound) {
		t.Fatalf("closed session: %v", err)
	}
}

func TestLockDelayAfterExpiryNotAfterRelease(t *testing.T) {
	f := start(t, nil, nil)
	a, err := f.acquireIn(t, alice, application.AcquireInput{Name: "d", TTL: 5 * time.Second, LockDelay: seconds(10)})
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(6 * time.Second)
	_, err = f.acquireIn(t, bob, application.AcquireInput{Name: "d"})
	var delayed *domain.LockDelayedError
	if !errors.As(err, &delayed) || !delayed.AvailableAt.Equal(a.ExpiresAt.Add(10*time.Second)) {
		t.Fatalf("acquire during delay: %v", err)
	}
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "d"}); !errors.Is(err, domain.ErrLockDelayed) {
		t.Fatalf("former holder during delay: %v", err)
	}
	if err := f.engine.Sweep(ctx); err != nil { // a sweep during the delay keeps it
		t.Fatal(err)
	}
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "d"}); !errors.Is(err, domain.ErrLockDelayed) {
		t.Fatalf("delay lost by a sweep: %v", err)
	}
	f.clock.Advance(9 * time.Second)
	b, err := f.acquireIn(t, bob, application.AcquireInput{Name: "d", LockDelay: seconds(10)})
	if err != nil {
		t.Fatalf("after the delay: %v", err)
	}
	if err := f.locks.Release(ctx, bob, "d", b.Lease); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acquireIn(t, carol, application.AcquireInput{Name: "d"}); err != nil {
		t.Fatalf("explicit release must not delay (other org): %v", err)
	}
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "d"}); err != nil {
		t.Fatalf("explicit release must not delay: %v", err)
	}
}

func TestLockDelayAfterSessionExpiryNotAfterClose(t *testing.T) {
	f := start(t, nil, nil)
	ss := f.sessions()
	s, _ := ss.Open(ctx, alice, 10*time.Second)
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "e", Session: s.ID, Ephemeral: true, LockDelay: seconds(5)}); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(11 * time.Second)
	if err := f.engine.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "e"}); !errors.Is(err, domain.ErrLockDelayed) {
		t.Fatalf("after session expiry: %v", err)
	}
	f.clock.Advance(5 * time.Second)
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "e"}); err != nil {
		t.Fatalf("after the delay: %v", err)
	}
	s2, _ := ss.Open(ctx, alice, 10*time.Second)
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "f", Session: s2.ID, Ephemeral: true, LockDelay: seconds(5)}); err != nil {
		t.Fatal(err)
	}
	if err := ss.Close(ctx, alice, s2.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "f"}); err != nil {
		t.Fatalf("closing a session frees at once: %v", err)
	}
}

func TestBlockingAcquireIsFIFO(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "q", time.Minute)
	users := []domain.Principal{bob, {Org: "acme", User: "dave"}, {Org: "acme", User: "erin"}}
	got := make(chan string, len(users))
	var wg sync.WaitGroup
	for i, p := range users {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l, err := f.acquireIn(t, p, application.AcquireInput{Name: "q", Wait: 10 * time.Second})
			if err != nil {
				t.Errorf("%s: %v", p.User, err)
				return
			}
			got <- p.User
			_ = f.locks.Release(ctx, p, "q", l.Lease)
		}()
		waitQueued(t, f, "q", i+1)
	}
	if err := f.locks.Release(ctx, alice, "q", a.Lease); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(got)
	var order []string
	for u := range got {
		order = append(order, u)
	}
	if len(order) != 3 || order[0] != "bob" || order[1] != "dave" || order[2] != "erin" {
		t.Fatalf("grant order %v, want bob dave erin", order)
	}
}

// waitQueued waits (bounded) until n requests wait on name.
func waitQueued(t *testing.T, f *fixture, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for f.engine.Waiting(domain.LockKey{Org: "acme", Name: domain.LockName(name)}) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters never queued on %s", n, name)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "c", time.Minute)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := f.locks.Acquire(cctx, bob, application.AcquireInput{Name: "c", TTL: time.Minute, Wait: 30 * time.Second})
		errc <- err
	}()
	waitQueued(t, f, "c", 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v", err)
	}
	waitQueued(t, f, "c", 0)
	if err := f.locks.Release(ctx, alice, "c", a.Lease); err != nil {
		t.Fatal(err)
	}
	if g, _ := f.locks.Get(ctx, alice, "c"); g.Lock.Exists() {
		t.Fatalf("lock granted to a waiter that left: %+v", g)
	}
	// A wait that runs out gets the usual answer.
	f.mustAcquire(t, alice, "c", time.Minute)
	began := time.Now()
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "c", Wait: time.Second}); !errors.Is(err, domain.ErrLockHeld) {
		t.Fatalf("timed-out wait: %v", err)
	}
	if time.Since(began) < time.Second {
		t.Fatal("wait returned early")
	}
}

func TestWaiterWhoseSessionExpiredIsNotGranted(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "w", time.Minute)
	s, _ := f.sessions().Open(ctx, bob, 10*time.Second)
	errc := make(chan error, 1)
	go func() {
		_, err := f.acquireIn(t, bob, application.AcquireInput{Name: "w", Session: s.ID, Wait: 30 * time.Second})
		errc <- err
	}()
	waitQueued(t, f, "w", 1)
	f.clock.Advance(11 * time.Second) // bob's session expires while he waits
	if err := f.locks.Release(ctx, alice, "w", a.Lease); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, domain.ErrSessionExpired) {
		t.Fatalf("waiter with an expired session: %v", err)
	}
	if g, _ := f.locks.Get(ctx, alice, "w"); g.Lock.Exists() {
		t.Fatalf("granted to a dead session: %+v", g)
	}
}

func TestValidate(t *testing.T) {
	f := start(t, nil, nil)
	a := f.mustAcquire(t, alice, "v", 2*time.Second)
	if ok, cur, _ := f.locks.Validate(ctx, bob, "v", a.Token); !ok || cur != a.Token {
		t.Fatalf("validate current token: %v %d", ok, cur)
	}
	if ok, _, _ := f.locks.Validate(ctx, bob, "v", a.Token+1); ok {
		t.Fatal("a wrong token validated")
	}
	if ok, _, _ := f.locks.Validate(ctx, carol, "v", a.Token); ok {
		t.Fatal("another org validated the token")
	}
	f.clock.Advance(2 * time.Second)
	if ok, cur, _ := f.locks.Validate(ctx, bob, "v", a.Token); ok || cur != 0 {
		t.Fatalf("validate after expiry: %v %d", ok, cur)
	}
}

func TestRestartGivesGrace(t *testing.T) {
	j := memstore.New()
	clk := newFakeClock()
	f := start(t, j, clk)
	s, _ := f.sessions().Open(ctx, alice, 30*time.Second)
	if _, err := f.acquireIn(t, alice, application.AcquireInput{Name: "eph", Session: s.ID, Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	plain := f.mustAcquire(t, bob, "plain", 5*time.Second)
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Hour) // the outage
	g := start(t, j, clk)
	ready := clk.Now()
	k, err := g.sessions().KeepAlive(ctx, alice, s.ID)
	if err != nil {
		t.Fatalf("session lost in the outage: %v", err)
	}
	if !k.ExpiresAt.Equal(ready.Add(30 * time.Second)) {
		t.Fatalf("keepalive after restart: %v", k.ExpiresAt)
	}
	if l, _ := g.locks.Get(ctx, carol, "eph"); l.Lock.Exists() {
		t.Fatal("other org sees the lock")
	}
	if l, _ := g.locks.Get(ctx, bob, "eph"); !l.Lock.Exists() {
		t.Fatal("ephemeral lock lost in the outage")
	}
	if l, _ := g.locks.Get(ctx, alice, "plain"); !l.Lock.Exists() || !l.Lock.ExpiresAt.Equal(ready.Add(10*time.Second)) || l.Lock.Token != plain.Token {
		t.Fatalf("plain lock after restart: %+v", l)
	}
	clk.Advance(11 * time.Second)
	if l, _ := g.locks.Get(ctx, alice, "plain"); l.Lock.Exists() {
		t.Fatal("grace did not end")
	}
}

func TestDrainAnswersWaitersAtOnce(t *testing.T) {
	f := start(t, nil, nil)
	f.mustAcquire(t, alice, "d", time.Minute)
	errc := make(chan error, 1)
	go func() {
		_, err := f.acquireIn(t, bob, application.AcquireInput{Name: "d", Wait: time.Minute})
		errc <- err
	}()
	waitQueued(t, f, "d", 1)
	if err := f.engine.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; domain.CodeOf(err) != "shutting_down" {
		t.Fatalf("waiter during drain: %v", err)
	}
	if _, err := f.acquireIn(t, bob, application.AcquireInput{Name: "d", Wait: time.Minute}); domain.CodeOf(err) != "shutting_down" {
		t.Fatalf("new waiter after drain: %v", err)
	}
}
