package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// TestAdminOverview: every org the server knows is listed, idle ones too,
// with what it uses now: an expired lock is not held, a queued acquire is a
// waiter, an open watch is a stream.
func TestAdminOverview(t *testing.T) {
	f := start(t, nil, nil)
	events := application.NewEventService(f.engine, application.WatchLimits{})
	idle := domain.Credential{Hash: domain.HashToken("idle-token-0123456789"), Principal: domain.Principal{Org: "initech", User: "dave"}}
	admin := application.NewAdminService(f.engine, events, application.NewAuthService(f.engine, []domain.Credential{idle}))
	f.mustAcquire(t, alice, "a", time.Minute)
	f.mustAcquire(t, alice, "gone", time.Second)
	f.mustAcquire(t, carol, "c", time.Minute)
	f.clock.Advance(2 * time.Second)
	waited := make(chan error, 1)
	go func() {
		_, err := f.locks.Acquire(ctx, bob, application.AcquireInput{Name: "a", TTL: time.Minute, Wait: time.Minute})
		waited <- err
	}()
	waitQueued(t, f, "a", 1)
	w, err := events.Watch(ctx, carol, application.WatchTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()

	if _, err := admin.Overview(ctx, alice); !errors.Is(err, domain.ErrAdminOnly) {
		t.Errorf("a tenant's overview: %v, want admin_only", err)
	}
	got, err := admin.Overview(ctx, application.AdminPrincipal)
	if err != nil {
		t.Fatal(err)
	}
	want := []application.OrgTotals{
		{Org: "acme", LocksHeld: 1, Waiters: 1},
		{Org: "globex", LocksHeld: 1, WatchStreams: 1},
		{Org: "initech"},
	}
	if len(got) != len(want) {
		t.Fatalf("overview %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("org %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if _, err := f.locks.ForceRelease(ctx, application.AdminPrincipal, "acme", "a"); err != nil {
		t.Fatal(err)
	}
	if err := <-waited; err != nil {
		t.Errorf("the waiter after the force release: %v", err)
	}
}

// TestAdminTail: the tail crosses orgs, filters by one, starts at the
// newest events without after, and a wait ends at the next event.
func TestAdminTail(t *testing.T) {
	f := start(t, nil, nil)
	admin := application.NewAdminService(f.engine, nil, nil)
	f.mustAcquire(t, alice, "one", time.Minute)
	f.mustAcquire(t, carol, "two", time.Minute)
	p, err := admin.Tail(ctx, application.AdminPrincipal, application.TailInput{Limit: 10})
	if err != nil || len(p.Events) != 2 || p.Events[0].Org != "acme" || p.Events[1].Org != "globex" {
		t.Fatalf("tail = %+v, %v; want acme's and globex's grants", p, err)
	}
	p, err = admin.Tail(ctx, application.AdminPrincipal, application.TailInput{Newest: true, Limit: 1})
	if err != nil || len(p.Events) != 1 || p.Events[0].Name != "two" {
		t.Fatalf("newest = %+v, %v; want two", p, err)
	}
	p, err = admin.Tail(ctx, application.AdminPrincipal, application.TailInput{Org: "acme", Limit: 10})
	if err != nil || len(p.Events) != 1 || p.Events[0].Name != "one" {
		t.Fatalf("acme's = %+v, %v; want one", p, err)
	}
	next := make(chan application.EventPage, 1)
	go func() {
		p, _ := admin.Tail(ctx, application.AdminPrincipal, application.TailInput{After: p.NextAfter, Org: "acme", Limit: 10, Wait: 30 * time.Second})
		next <- p
	}()
	f.mustAcquire(t, carol, "three", time.Minute) // another org's: the wait goes on
	f.mustAcquire(t, alice, "four", time.Minute)
	select {
	case p := <-next:
		if len(p.Events) != 1 || p.Events[0].Name != "four" {
			t.Errorf("the wait ended with %+v, want four", p)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the wait did not end at acme's next event")
	}
	for _, in := range []application.TailInput{{Limit: 0}, {Limit: 1001}, {Limit: 1, Wait: time.Minute}} {
		if _, err := admin.Tail(ctx, application.AdminPrincipal, in); domain.KindOf(err) != domain.KindInvalid {
			t.Errorf("Tail(%+v): %v, want invalid", in, err)
		}
	}
	if _, err := admin.Tail(ctx, bob, application.TailInput{Limit: 1}); !errors.Is(err, domain.ErrAdminOnly) {
		t.Errorf("a tenant's tail: %v", err)
	}
}
