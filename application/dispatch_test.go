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
	"github.com/octostore/octostore/ports"
)

// fakeSender is a webhook receiver stand-in: it records every attempt and
// answers with respond.
type fakeSender struct {
	mu      sync.Mutex
	calls   []ports.WebhookRequest
	respond func(r ports.WebhookRequest, attempt int) (int, error)
	called  chan struct{} // receives one value per call
}

func newFakeSender(respond func(r ports.WebhookRequest, attempt int) (int, error)) *fakeSender {
	return &fakeSender{respond: respond, called: make(chan struct{}, 1000)}
}

func (s *fakeSender) Send(_ context.Context, r ports.WebhookRequest) (int, error) {
	s.mu.Lock()
	s.calls = append(s.calls, r)
	n := 0
	for _, c := range s.calls {
		if c.DeliveryID == r.DeliveryID {
			n++
		}
	}
	s.mu.Unlock()
	defer func() { s.called <- struct{}{} }()
	return s.respond(r, n)
}

// await waits for n more calls.
func (s *fakeSender) await(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-s.called:
		case <-time.After(20 * time.Second):
			t.Fatal("the webhook receiver was not called")
		}
	}
}

func (s *fakeSender) seqs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.calls))
	for i, c := range s.calls {
		out[i] = fmt.Sprintf("%d:%s", c.Event.Seq, c.Event.Kind)
	}
	return out
}

func (s *fakeSender) first() ports.WebhookRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[0]
}

func ok(ports.WebhookRequest, int) (int, error) { return 204, nil }

// startHooks runs a dispatcher with send on f's engine until the test ends.
func startHooks(t *testing.T, f *fixture, send ports.WebhookSender, cfg application.DispatchConfig) (*application.WebhookService, *application.Dispatcher) {
	t.Helper()
	d := application.NewDispatcher(f.engine, send, cfg)
	d.Start()
	t.Cleanup(func() { _ = d.Stop(context.Background()) })
	return application.NewWebhookService(f.engine, true), d
}

func createHook(t *testing.T, svc *application.WebhookService, p domain.Principal, prefix string, events ...string) domain.Webhook {
	t.Helper()
	w, err := svc.Create(ctx, p, application.WebhookInput{URL: "https://hooks.example/" + p.User, Events: events, Prefix: prefix, Secret: "s3cret"})
	if err != nil {
		t.Fatalf("create webhook: %v", err)
	}
	return w
}

// awaitDelivery waits until the record of seq for w is in state want.
func awaitDelivery(t *testing.T, svc *application.WebhookService, p domain.Principal, w domain.Webhook, seq uint64, want domain.DeliveryState) domain.Delivery {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		ds, err := svc.Deliveries(ctx, p, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range ds {
			if d.Seq == seq && d.State == want {
				return d
			}
		}
		time.Sleep(time.Millisecond) // polls stored state; ordering does not depend on it
	}
	t.Fatalf("delivery of %d never became %s", seq, want)
	return domain.Delivery{}
}

func TestWebhookDeliversWantedEventsInOrder(t *testing.T) {
	f := start(t, nil, nil)
	send := newFakeSender(ok)
	svc, _ := startHooks(t, f, send, application.DispatchConfig{})
	f.cycle(t, alice, "db/a", 1) // 1, 2: before the webhook existed
	w := createHook(t, svc, alice, "db", "lock.acquired", "lock.released")
	f.cycle(t, alice, "db/a", 1) // 3, 4
	f.cycle(t, carol, "db/a", 1) // 5, 6: another org
	f.cycle(t, alice, "dbx", 1)  // 7, 8: not below db
	f.cycle(t, bob, "db", 1)     // 9, 10
	send.await(t, 4)
	if got := fmt.Sprint(send.seqs()); got != "[3:lock.acquired 4:lock.released 9:lock.acquired 10:lock.released]" {
		t.Fatalf("delivered %s", got)
	}
	c := send.first()
	if c.URL != w.URL || c.Secret != "s3cret" || c.DeliveryID != domain.DeliveryID(w.ID, 3) || c.Event.Holder.User() != "alice" {
		t.Fatalf("first request = %+v", c)
	}
	d := awaitDelivery(t, svc, alice, w, 10, domain.DeliveryDelivered)
	if d.Attempts != 1 || d.LastStatus != 204 {
		t.Fatalf("record = %+v", d)
	}
	if _, err := svc.Deliveries(ctx, carol, w.ID); !errors.Is(err, domain.ErrWebhookNotFound) {
		t.Fatalf("another org reads the deliveries: %v", err)
	}
}

func TestWebhookRetriesWithBackoffThenGivesUp(t *testing.T) {
	f := start(t, nil, nil)
	var svc *application.WebhookService
	var hook domain.Webhook
	gaps := make(chan time.Duration, 10)
	send := newFakeSender(func(r ports.WebhookRequest, attempt int) (int, error) {
		if r.Event.Seq != 1 {
			return 200, nil
		}
		if attempt > 1 { // the previous attempt's record says when this one is due
			ds, _ := svc.Deliveries(ctx, alice, hook.ID)
			gaps <- ds[0].NextAt.Sub(ds[0].UpdatedAt)
		}
		if attempt == 2 {
			return 0, errors.New("connection refused")
		}
		return 503, nil
	})
	svc, _ = startHooks(t, f, send, application.DispatchConfig{Attempts: 3, Backoff: 20 * time.Millisecond})
	hook = createHook(t, svc, alice, "", "*")
	f.cycle(t, alice, "job", 1)
	send.await(t, 4) // three attempts of 1, then 2
	d := awaitDelivery(t, svc, alice, hook, 1, domain.DeliveryFailed)
	if d.Attempts != 3 || d.LastStatus != 503 || d.LastError == "" || !d.NextAt.IsZero() {
		t.Fatalf("failed record = %+v", d)
	}
	for i, base := range []time.Duration{20 * time.Millisecond, 40 * time.Millisecond} {
		g := <-gaps
		if g < base*8/10 || g > base*12/10 {
			t.Fatalf("retry %d waits %v, want %v ±20%%", i+1, g, base)
		}
	}
	if got := fmt.Sprint(send.seqs()); got != "[1:lock.acquired 1:lock.acquired 1:lock.acquired 2:lock.released]" {
		t.Fatalf("attempts %s: the next event goes once the first is given up", got)
	}
	awaitDelivery(t, svc, alice, hook, 2, domain.DeliveryDelivered)
}

func TestWebhookDeliveryResumesAfterRestart(t *testing.T) {
	j := memstore.New()
	clk := newFakeClock()
	f := start(t, j, clk)
	failing := newFakeSender(func(ports.WebhookRequest, int) (int, error) { return 500, nil })
	svc, d := startHooks(t, f, failing, application.DispatchConfig{Backoff: time.Hour})
	w := createHook(t, svc, alice, "", "lock.*")
	f.mustAcquire(t, alice, "job", time.Hour) // 1
	failing.await(t, 1)
	awaitDelivery(t, svc, alice, w, 1, domain.DeliveryPending)
	if err := d.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	clk.Advance(2 * time.Hour) // past the stored next attempt
	f = start(t, j, clk)
	good := newFakeSender(ok)
	svc, _ = startHooks(t, f, good, application.DispatchConfig{})
	good.await(t, 1)
	rec := awaitDelivery(t, svc, alice, w, 1, domain.DeliveryDelivered)
	if rec.Attempts != 2 {
		t.Fatalf("after the restart: %+v, want the second attempt", rec)
	}
	if g, f := good.first().DeliveryID, failing.first().DeliveryID; g != f {
		t.Fatalf("delivery id changed across the restart: %s vs %s", g, f)
	}
}

func TestUndeliveredEventsAreNotTrimmed(t *testing.T) {
	j := memstore.New()
	clk := newFakeClock()
	e := application.NewEngine(j, clk, application.EngineConfig{SweepInterval: time.Hour, KeepEvents: 10, EventBuffer: 4})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	f := &fixture{clock: clk, journal: j, engine: e, locks: application.NewLockService(e, 0)}
	stuck := newFakeSender(func(ports.WebhookRequest, int) (int, error) { return 503, nil })
	svc, _ := startHooks(t, f, stuck, application.DispatchConfig{Backoff: time.Hour})
	w := createHook(t, svc, alice, "", "*")
	f.cycle(t, alice, "job", 20) // 40 events; the webhook is stuck on 1
	evs, err := j.Events(ctx, 0, 1)
	if err != nil || len(evs) != 1 || evs[0].Seq != 1 {
		t.Fatalf("first stored event = %v %v, want 1 (kept for the webhook)", evs, err)
	}
	if err := svc.Delete(ctx, alice, w.ID); err != nil {
		t.Fatal(err)
	}
	f.cycle(t, alice, "job", 1)
	evs, _ = j.Events(ctx, 0, 1)
	if len(evs) != 1 || evs[0].Seq < 30 {
		t.Fatalf("first stored event after the webhook went = %v, want the last 10 or so", evs)
	}
}

func TestWebhookCapIsAtomic(t *testing.T) {
	f := start(t, nil, nil)
	svc := application.NewWebhookService(f.engine, true)
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := svc.Create(ctx, alice, application.WebhookInput{URL: fmt.Sprintf("https://h.example/%d", i), Events: []string{"*"}})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	created, refused := 0, 0
	for err := range errs {
		switch {
		case err == nil:
			created++
		case errors.Is(err, domain.ErrQuotaExceeded):
			refused++
		default:
			t.Fatal(err)
		}
	}
	if created != application.DefaultQuotas[domain.QuotaWebhooks] || refused != 5 {
		t.Fatalf("created %d, refused %d", created, refused)
	}
	if _, err := svc.Create(ctx, carol, application.WebhookInput{URL: "https://h.example/c", Events: []string{"*"}}); err != nil {
		t.Fatalf("another org's cap is its own: %v", err)
	}
	hooks, _ := svc.List(ctx, alice)
	if len(hooks) != 25 {
		t.Fatalf("list = %d", len(hooks))
	}
}
