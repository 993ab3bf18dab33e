package application_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// TestForceRelease: the admin frees alice's lock; her lease and fencing
// token are dead at once, the waiting bob gets the lock with a newer token
// (no lock delay), and the event says the admin forced it.
func TestForceRelease(t *testing.T) {
	f := start(t, nil, nil)
	events := application.NewEventService(f.engine, application.WatchLimits{})
	a, err := f.locks.Acquire(ctx, alice, application.AcquireInput{Name: "db/primary", TTL: time.Hour,
		LockDelay: new(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan domain.Lock, 1)
	errc := make(chan error, 1)
	go func() {
		l, err := f.locks.Acquire(ctx, bob, application.AcquireInput{Name: "db/primary", TTL: time.Hour, Wait: time.Minute})
		got <- l
		errc <- err
	}()
	waitQueued(t, f, "db/primary", 1)

	if _, err := f.locks.ForceRelease(ctx, alice, "acme", "db/primary"); !errors.Is(err, domain.ErrAdminOnly) {
		t.Fatalf("a tenant's force release: %v, want admin_only", err)
	}
	was, err := f.locks.ForceRelease(ctx, application.AdminPrincipal, "acme", "db/primary")
	if err != nil {
		t.Fatal(err)
	}
	if was.Token != a.Token || was.Lease != a.Lease {
		t.Errorf("force release returned %+v, want alice's lock %+v", was, a)
	}
	b := <-got
	if err := <-errc; err != nil {
		t.Fatalf("bob's blocking acquire: %v", err)
	}
	if b.Token <= a.Token || b.Holder.User() != "bob" {
		t.Errorf("bob got %+v, want a token above %d", b, a.Token)
	}
	if _, err := f.locks.Renew(ctx, alice, "db/primary", a.Lease, time.Hour); !errors.Is(err, domain.ErrLeaseNotCurrent) {
		t.Errorf("alice's renew after the force release: %v, want lease_not_current", err)
	}
	if err := f.locks.Release(ctx, alice, "db/primary", a.Lease); !errors.Is(err, domain.ErrLeaseNotCurrent) {
		t.Errorf("alice's release after the force release: %v, want lease_not_current", err)
	}
	if ok, cur, err := f.locks.Validate(ctx, alice, "db/primary", a.Token); err != nil || ok || cur != b.Token {
		t.Errorf("validate alice's token = %v, %d, %v; want false, %d", ok, cur, err, b.Token)
	}

	page, err := events.Page(ctx, alice, 0, domain.Prefix{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	var forced []domain.Event
	for _, e := range page.Events {
		if e.ForcedBy != "" {
			forced = append(forced, e)
		}
	}
	if len(forced) != 1 || forced[0].Kind != domain.EventLockReleased || forced[0].ForcedBy != domain.ForcedByAdmin ||
		forced[0].Token != a.Token || forced[0].Holder.User() != "alice" {
		t.Errorf("forced events %+v, want one lock.released of alice's token by the admin", forced)
	}

	// Free, unknown, other org's or expired: not held, 404.
	if _, err := f.locks.ForceRelease(ctx, application.AdminPrincipal, "globex", "db/primary"); !errors.Is(err, domain.ErrLockNotFound) {
		t.Errorf("another org's name: %v, want lock_not_found", err)
	}
	f.mustAcquire(t, carol, "short", time.Second)
	f.clock.Advance(2 * time.Second)
	if _, err := f.locks.ForceRelease(ctx, application.AdminPrincipal, "globex", "short"); !errors.Is(err, domain.ErrLockNotFound) {
		t.Errorf("an expired lock: %v, want lock_not_found", err)
	}
}

// TestForceReleaseEphemeral: an ephemeral lock is freed while its session
// lives on.
func TestForceReleaseEphemeral(t *testing.T) {
	f := start(t, nil, nil)
	sessions := application.NewSessionService(f.engine)
	s, err := sessions.Open(ctx, alice, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.locks.Acquire(ctx, alice, application.AcquireInput{Name: "e", TTL: time.Minute, Session: s.ID, Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.locks.ForceRelease(ctx, application.AdminPrincipal, "acme", "e"); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.locks.Get(ctx, alice, "e"); v.Status != application.StatusFree {
		t.Errorf("after the force release: %+v, want free", v)
	}
	view, err := sessions.Get(ctx, alice, s.ID)
	if err != nil || len(view.Locks) != 0 {
		t.Errorf("the session after its lock was forced free: %+v, %v; want alive with no locks", view, err)
	}
}

// TestForceReleaseIsLogged: the force release writes one audit line at
// Info naming the org, the lock, the holder's user and the token.
func TestForceReleaseIsLogged(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	e := application.NewEngine(memstore.New(), newFakeClock(), application.EngineConfig{SweepInterval: time.Hour, Logger: log})
	if err := e.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(ctx) })
	locks := application.NewLockService(e, 0)
	l, err := locks.Acquire(ctx, alice, application.AcquireInput{Name: "db/primary", TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := locks.ForceRelease(ctx, application.AdminPrincipal, "acme", "db/primary"); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	for _, raw := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		var m map[string]any
		if json.Unmarshal(raw, &m) == nil && m["msg"] == "lock force-released by the admin" {
			line = m
		}
	}
	if line == nil || line["level"] != "INFO" || line["org"] != "acme" || line["lock"] != "db/primary" ||
		line["holder_user"] != "alice" || line["fencing_token"] != float64(l.Token) {
		t.Errorf("audit line %v in log:\n%s", line, buf.String())
	}
}
