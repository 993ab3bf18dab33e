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

var admin = application.AdminPrincipal

// startQuotas runs an engine on j with the given server-wide quotas.
func startQuotas(t *testing.T, j *memstore.Journal, defaults domain.Limits) (*application.Engine, *application.QuotaService) {
	t.Helper()
	e := application.NewEngine(j, newFakeClock(), application.EngineConfig{SweepInterval: time.Hour, Quotas: defaults})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return e, application.NewQuotaService(e, nil)
}

// race runs n creators at once and counts successes and quota refusals;
// any other error fails the test.
func race(t *testing.T, n int, create func(i int) error) (ok, refused int) {
	t.Helper()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs <- create(i)
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		var q *domain.QuotaExceededError
		switch {
		case err == nil:
			ok++
		case errors.As(err, &q) && errors.Is(err, domain.ErrQuotaExceeded):
			refused++
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	return ok, refused
}

func usage(t *testing.T, qs *application.QuotaService, org domain.OrgID) map[domain.Quota]application.QuotaUsage {
	t.Helper()
	us, err := qs.Get(context.Background(), admin, org)
	if err != nil {
		t.Fatal(err)
	}
	out := map[domain.Quota]application.QuotaUsage{}
	for _, u := range us {
		out[u.Quota] = u
	}
	return out
}

// TestQuotaLocksConcurrent: 64 concurrent acquires of distinct locks
// against a quota of 10 grant exactly 10; a re-acquire by the holder is not
// a new lock, a release frees a place, and another org is not affected.
func TestQuotaLocksConcurrent(t *testing.T) {
	t.Parallel()
	e, qs := startQuotas(t, memstore.New(), domain.Limits{domain.QuotaLocks: 10})
	locks := application.NewLockService(e, 0)
	ctx := context.Background()
	ok, refused := race(t, 64, func(i int) error {
		_, err := locks.Acquire(ctx, alice, application.AcquireInput{Name: domain.LockName(fmt.Sprintf("q/%d", i)), TTL: time.Minute, Owner: "me"})
		return err
	})
	if ok != 10 || refused != 54 {
		t.Fatalf("granted %d, refused %d; want 10 and 54", ok, refused)
	}
	if u := usage(t, qs, "acme")[domain.QuotaLocks]; u.Used != 10 || u.Limit != 10 || u.Overridden {
		t.Errorf("usage %+v", u)
	}
	page, _ := locks.List(ctx, alice, domain.Prefix{}, "", 100)
	if len(page.Locks) != 10 {
		t.Fatalf("%d locks held, want 10", len(page.Locks))
	}
	held := page.Locks[0].Lock
	// The holder re-acquiring is not a new lock.
	if _, err := locks.Acquire(ctx, alice, application.AcquireInput{Name: held.Key.Name, TTL: time.Minute, Owner: "me"}); err != nil {
		t.Fatalf("re-acquire at the quota: %v", err)
	}
	_, err := locks.Acquire(ctx, bob, application.AcquireInput{Name: "q/new", TTL: time.Minute})
	var q *domain.QuotaExceededError
	if !errors.As(err, &q) || q.Quota != domain.QuotaLocks || q.Limit != 10 || err.Error() != "the org's locks quota is reached (limit 10)" {
		t.Fatalf("acquire past the quota: %v", err)
	}
	if _, err := locks.Acquire(ctx, carol, application.AcquireInput{Name: "q/new", TTL: time.Minute}); err != nil {
		t.Fatalf("another org: %v", err)
	}
	if err := locks.Release(ctx, alice, held.Key.Name, held.Lease); err != nil {
		t.Fatal(err)
	}
	if _, err := locks.Acquire(ctx, bob, application.AcquireInput{Name: "q/new", TTL: time.Minute}); err != nil {
		t.Fatalf("after a release: %v", err)
	}
}

// TestQuotaSessionsConcurrent: 64 concurrent opens against a quota of 10
// open exactly 10; closing one frees a place.
func TestQuotaSessionsConcurrent(t *testing.T) {
	t.Parallel()
	e, qs := startQuotas(t, memstore.New(), nil)
	ctx := context.Background()
	if _, err := qs.Set(ctx, admin, "acme", domain.Limits{domain.QuotaSessions: 10}); err != nil {
		t.Fatal(err)
	}
	sessions := application.NewSessionService(e)
	var mu sync.Mutex
	var opened []domain.Session
	ok, refused := race(t, 64, func(int) error {
		s, err := sessions.Open(ctx, alice, time.Minute)
		if err == nil {
			mu.Lock()
			opened = append(opened, s)
			mu.Unlock()
		}
		return err
	})
	if ok != 10 || refused != 54 {
		t.Fatalf("opened %d, refused %d; want 10 and 54", ok, refused)
	}
	if u := usage(t, qs, "acme")[domain.QuotaSessions]; u.Used != 10 || u.Limit != 10 || !u.Overridden {
		t.Errorf("usage %+v", u)
	}
	if _, err := sessions.Open(ctx, carol, time.Minute); err != nil {
		t.Fatalf("another org: %v", err)
	}
	if err := sessions.Close(ctx, alice, opened[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.Open(ctx, bob, time.Minute); err != nil {
		t.Fatalf("after a close: %v", err)
	}
}

// TestQuotaWaitersConcurrent: 64 blocking acquires of a held lock against
// a waiters quota of 10 queue exactly 10; the rest are refused at once.
func TestQuotaWaitersConcurrent(t *testing.T) {
	t.Parallel()
	e, qs := startQuotas(t, memstore.New(), domain.Limits{domain.QuotaWaiters: 10})
	locks := application.NewLockService(e, 0)
	ctx, cancel := context.WithCancel(context.Background())
	if _, err := locks.Acquire(ctx, alice, application.AcquireInput{Name: "w", TTL: time.Minute}); err != nil {
		t.Fatal(err)
	}
	refusals := make(chan error, 64)
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			_, err := locks.Acquire(ctx, bob, application.AcquireInput{Name: "w", TTL: time.Minute, Wait: time.Minute, Owner: fmt.Sprint(i)})
			refusals <- err
		})
	}
	// 54 are refused at once; the 10 queued wait until cancelled.
	for range 54 {
		if err := <-refusals; !errors.Is(err, domain.ErrQuotaExceeded) {
			t.Fatalf("refusal = %v, want quota_exceeded", err)
		}
	}
	if n := e.Waiting(domain.LockKey{Org: "acme", Name: "w"}); n != 10 {
		t.Errorf("%d waiting, want 10", n)
	}
	if u := usage(t, qs, "acme")[domain.QuotaWaiters]; u.Used != 10 {
		t.Errorf("usage %+v", u)
	}
	cancel()
	wg.Wait()
	if u := usage(t, qs, "acme")[domain.QuotaWaiters]; u.Used != 0 {
		t.Errorf("usage after the waiters left: %+v", u)
	}
}

// TestQuotaWebhooksOverride: the webhooks quota follows an override set
// by the admin, and a lowered limit refuses new webhooks only.
func TestQuotaWebhooksOverride(t *testing.T) {
	t.Parallel()
	e, qs := startQuotas(t, memstore.New(), nil)
	ctx := context.Background()
	hooks := application.NewWebhookService(e, true)
	if _, err := qs.Set(ctx, admin, "acme", domain.Limits{domain.QuotaWebhooks: 3}); err != nil {
		t.Fatal(err)
	}
	ok, refused := race(t, 64, func(i int) error {
		_, err := hooks.Create(ctx, alice, application.WebhookInput{URL: fmt.Sprintf("https://h.example/%d", i), Events: []string{"*"}})
		return err
	})
	if ok != 3 || refused != 61 {
		t.Fatalf("created %d, refused %d; want 3 and 61", ok, refused)
	}
	if _, err := qs.Set(ctx, admin, "acme", domain.Limits{domain.QuotaWebhooks: 1}); err != nil {
		t.Fatal(err)
	}
	if list, _ := hooks.List(ctx, alice); len(list) != 3 {
		t.Errorf("lowering the quota removed webhooks: %d left", len(list))
	}
	if u := usage(t, qs, "acme")[domain.QuotaWebhooks]; u.Used != 3 || u.Limit != 1 {
		t.Errorf("usage %+v", u)
	}
}

// TestQuotaOverridesAreDurable: Set commits through the journal, an empty
// override restores the defaults, bad limits and non-admins are refused,
// and a restarted engine enforces what was stored.
func TestQuotaOverridesAreDurable(t *testing.T) {
	t.Parallel()
	j := memstore.New()
	e, qs := startQuotas(t, j, nil)
	ctx := context.Background()
	if _, err := qs.Set(ctx, alice, "acme", domain.Limits{domain.QuotaLocks: 1}); !errors.Is(err, domain.ErrAdminOnly) {
		t.Errorf("tenant Set = %v, want admin_only", err)
	}
	if _, err := qs.Get(ctx, alice, "acme"); !errors.Is(err, domain.ErrAdminOnly) {
		t.Errorf("tenant Get = %v, want admin_only", err)
	}
	if _, err := qs.Set(ctx, admin, "acme", domain.Limits{domain.QuotaLocks: -1}); domain.CodeOf(err) != "invalid_quota" {
		t.Errorf("negative limit = %v", err)
	}
	if _, err := qs.Set(ctx, admin, "acme", domain.Limits{domain.QuotaLocks: 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := qs.Set(ctx, admin, "globex", domain.Limits{domain.QuotaSessions: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := qs.Set(ctx, admin, "globex", nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	e2, qs2 := startQuotas(t, j, nil)
	locks := application.NewLockService(e2, 0)
	if _, err := locks.Acquire(ctx, alice, application.AcquireInput{Name: "x", TTL: time.Minute}); !errors.Is(err, domain.ErrQuotaExceeded) {
		t.Errorf("acquire with a stored quota of 0 = %v", err)
	}
	if u := usage(t, qs2, "globex")[domain.QuotaSessions]; u.Overridden || u.Limit != application.DefaultQuotas[domain.QuotaSessions] {
		t.Errorf("globex sessions after removing its override: %+v", u)
	}
}

// TestQuotaAfterTheRequestsOwnChecks: at the quota, a request that is
// wrong anyway gets its own error, not quota_exceeded.
func TestQuotaAfterTheRequestsOwnChecks(t *testing.T) {
	t.Parallel()
	e, _ := startQuotas(t, memstore.New(), domain.Limits{domain.QuotaLocks: 0})
	locks := application.NewLockService(e, 0)
	_, err := locks.Acquire(context.Background(), alice, application.AcquireInput{Name: "x", TTL: 2 * domain.MaxTTL})
	if domain.CodeOf(err) != "invalid_ttl" {
		t.Errorf("acquire with a bad TTL at the quota = %v, want invalid_ttl", err)
	}
}
