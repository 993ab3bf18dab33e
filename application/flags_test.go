package application_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// TestFlagsLifecycle: versions grow by one per write, reads and
// evaluations come from memory, deletion is an event, and every change is
// an event carrying the name, version and writer.
func TestFlagsLifecycle(t *testing.T) {
	t.Parallel()
	f := start(t, nil, nil)
	flags := application.NewFlagService(f.engine)
	ctx := context.Background()
	got, err := flags.Put(ctx, alice, "new-checkout", domain.FlagSettings{Enabled: true, Percentage: 27, Description: "new checkout"})
	if err != nil || got.Version != 1 || got.UpdatedBy != "alice" || !got.UpdatedAt.Equal(f.clock.Now()) {
		t.Fatalf("first Put = %+v, %v", got, err)
	}
	f.clock.Advance(time.Second)
	got, err = flags.Put(ctx, bob, "new-checkout", domain.FlagSettings{Enabled: true, Percentage: 26})
	if err != nil || got.Version != 2 || got.UpdatedBy != "bob" || got.Description != "" {
		t.Fatalf("second Put = %+v, %v", got, err)
	}
	// The vector of domain's test: user-1 is in bucket 2648.
	if on, err := flags.Evaluate(ctx, alice, "new-checkout", "user-1"); err != nil || on {
		t.Errorf("Evaluate at 26 %% = %v, %v", on, err)
	}
	if _, err := flags.Put(ctx, alice, "new-checkout", domain.FlagSettings{Enabled: true, Percentage: 27}); err != nil {
		t.Fatal(err)
	}
	if on, err := flags.Evaluate(ctx, alice, "new-checkout", "user-1"); err != nil || !on {
		t.Errorf("Evaluate at 27 %% = %v, %v", on, err)
	}
	rs, err := flags.EvaluateMany(ctx, bob, "user-1", []domain.FlagName{"nope", "new-checkout"})
	if err != nil || len(rs) != 2 || rs[0].Found || rs[0].Enabled || !rs[1].Found || !rs[1].Enabled || rs[1].Name != "new-checkout" {
		t.Errorf("EvaluateMany = %+v, %v", rs, err)
	}
	if _, err := flags.Evaluate(ctx, alice, "new-checkout", ""); !errors.Is(err, domain.ErrInvalidSubject) {
		t.Errorf("empty subject: %v", err)
	}
	if _, err := flags.Put(ctx, alice, "x", domain.FlagSettings{Percentage: 101}); !errors.Is(err, domain.ErrInvalidPercentage) {
		t.Errorf("percentage 101: %v", err)
	}
	// Org isolation and the admin's place.
	if _, err := flags.Get(ctx, carol, "new-checkout"); !errors.Is(err, domain.ErrFlagNotFound) {
		t.Errorf("carol's Get = %v, want flag_not_found", err)
	}
	if err := flags.Delete(ctx, carol, "new-checkout"); !errors.Is(err, domain.ErrFlagNotFound) {
		t.Errorf("carol's Delete = %v, want flag_not_found", err)
	}
	if _, err := flags.Get(ctx, application.AdminPrincipal, "new-checkout"); !errors.Is(err, domain.ErrAdminNotTenant) {
		t.Errorf("admin Get = %v", err)
	}
	if _, err := flags.Put(ctx, alice, "a/b", domain.FlagSettings{Percentage: 100}); err != nil {
		t.Fatal(err)
	}
	if l, err := flags.List(ctx, alice, mustPrefix(t, "a")); err != nil || len(l) != 1 || l[0].Key.Name != "a/b" {
		t.Errorf("List(a) = %+v, %v", l, err)
	}
	if l, _ := flags.List(ctx, alice, domain.Prefix{}); len(l) != 2 || l[0].Key.Name != "a/b" || l[1].Key.Name != "new-checkout" {
		t.Errorf("List = %+v", l)
	}
	if err := flags.Delete(ctx, bob, "new-checkout"); err != nil {
		t.Fatal(err)
	}
	if _, err := flags.Get(ctx, alice, "new-checkout"); !errors.Is(err, domain.ErrFlagNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	evs, err := f.journal.Events(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var got2 []string
	for _, e := range evs {
		got2 = append(got2, fmt.Sprintf("%s %s v%d by %s", e.Kind, e.Name, e.Version, e.By))
	}
	want := []string{"flag.updated new-checkout v1 by alice", "flag.updated new-checkout v2 by bob", "flag.updated new-checkout v3 by alice",
		"flag.updated a/b v1 by alice", "flag.deleted new-checkout v3 by bob"}
	if fmt.Sprint(got2) != fmt.Sprint(want) {
		t.Errorf("events:\n%q\nwant\n%q", got2, want)
	}
}

func mustPrefix(t *testing.T, s string) domain.Prefix {
	t.Helper()
	p, err := domain.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFlagsQuotaConcurrent: 64 concurrent creations against a flags quota
// of 10 create exactly 10; rewriting an existing flag is not a new one.
func TestFlagsQuotaConcurrent(t *testing.T) {
	t.Parallel()
	e, qs := startQuotas(t, memstore.New(), domain.Limits{domain.QuotaFlags: 10})
	flags := application.NewFlagService(e)
	ctx := context.Background()
	ok, refused := race(t, 64, func(i int) error {
		_, err := flags.Put(ctx, alice, domain.FlagName(fmt.Sprintf("f%d", i)), domain.FlagSettings{Percentage: 100})
		return err
	})
	if ok != 10 || refused != 54 {
		t.Fatalf("%d created, %d refused; want 10 and 54", ok, refused)
	}
	l, _ := flags.List(ctx, alice, domain.Prefix{})
	if _, err := flags.Put(ctx, alice, l[0].Key.Name, domain.FlagSettings{Enabled: true, Percentage: 50}); err != nil {
		t.Errorf("rewrite at the quota: %v", err)
	}
	if _, err := flags.Put(ctx, carol, "f1", domain.FlagSettings{Percentage: 100}); err != nil {
		t.Errorf("another org at acme's quota: %v", err)
	}
	if u := usage(t, qs, "acme")[domain.QuotaFlags]; u.Used != 10 || u.Limit != 10 {
		t.Errorf("acme flags usage: %+v", u)
	}
}

// TestFlagsSurviveRestart: flags are durable in a real SQLite file.
func TestFlagsSurviveRestart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	open := func() (*sqlite.DB, *sqlite.Journal) {
		db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db, sqlite.NewJournal(db)
	}
	db, j := open()
	f := start(t, j, nil)
	flags := application.NewFlagService(f.engine)
	want, err := flags.Put(ctx, alice, "billing/v2", domain.FlagSettings{Enabled: true, Percentage: 40, Description: "v2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := flags.Put(ctx, alice, "gone", domain.FlagSettings{}); err != nil {
		t.Fatal(err)
	}
	if err := flags.Delete(ctx, alice, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, j2 := open()
	t.Cleanup(func() { _ = db2.Close() })
	f2 := start(t, j2, nil)
	flags2 := application.NewFlagService(f2.engine)
	got, err := flags2.Get(ctx, alice, "billing/v2")
	if err != nil || got.Version != want.Version || got.Percentage != 40 || !got.Enabled || got.Description != "v2" ||
		got.UpdatedBy != "alice" || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Fatalf("after restart: %+v, %v; want %+v", got, err, want)
	}
	if _, err := flags2.Get(ctx, alice, "gone"); !errors.Is(err, domain.ErrFlagNotFound) {
		t.Errorf("deleted flag after restart: %v", err)
	}
	if got, err := flags2.Put(ctx, bob, "billing/v2", domain.FlagSettings{Percentage: 100}); err != nil || got.Version != want.Version+1 {
		t.Errorf("write after restart: %+v, %v", got, err)
	}
}

// TestLimitsExactly: a limit allows exactly limit checks in a window and
// refuses the next with the time to wait; the clock is moved by hand.
func TestLimitsExactly(t *testing.T) {
	t.Parallel()
	f := start(t, nil, nil)
	limits := application.NewLimitService(f.engine)
	ctx := context.Background()
	l := domain.RateLimit{Limit: 5, Window: 10 * time.Second}
	for i := range 5 {
		v, err := limits.Check(ctx, alice, "api/search", l, 1)
		if err != nil || !v.Allowed || v.Remaining != uint64(4-i) || !v.ResetAt.Equal(f.clock.Now().Add(time.Duration(i+1)*2*time.Second)) {
			t.Fatalf("check %d: %+v, %v", i+1, v, err)
		}
	}
	v, err := limits.Check(ctx, bob, "api/search", l, 1)
	if err != nil || v.Allowed || v.Remaining != 0 || v.RetryAfter != 2*time.Second {
		t.Fatalf("sixth check: %+v, %v; want refused, retry after 2s", v, err)
	}
	if v, _ := limits.Check(ctx, carol, "api/search", l, 1); !v.Allowed {
		t.Error("another org's limit of the same name is not separate")
	}
	f.clock.Advance(2*time.Second - time.Millisecond)
	if v, _ := limits.Check(ctx, alice, "api/search", l, 1); v.Allowed {
		t.Error("allowed before retry_after")
	}
	f.clock.Advance(time.Millisecond)
	if v, _ := limits.Check(ctx, alice, "api/search", l, 1); !v.Allowed {
		t.Error("refused at retry_after")
	}
	if g, err := limits.Get(ctx, alice, "api/search"); err != nil || g.Remaining != 0 || g.Limit != l {
		t.Errorf("Get = %+v, %v", g, err)
	}
	if err := limits.Reset(ctx, alice, "api/search"); err != nil {
		t.Fatal(err)
	}
	if _, err := limits.Get(ctx, alice, "api/search"); !errors.Is(err, domain.ErrLimitNotFound) {
		t.Errorf("Get after Reset = %v", err)
	}
	if _, err := limits.Check(ctx, alice, "x", domain.RateLimit{Limit: 5, Window: time.Second}, 6); !errors.Is(err, domain.ErrInvalidCost) {
		t.Errorf("cost above the limit: %v", err)
	}
}

// TestLimitsQuota: an org keeps at most its limits quota of names; names
// idle for their whole window make room.
func TestLimitsQuota(t *testing.T) {
	t.Parallel()
	clk := newFakeClock()
	e := application.NewEngine(memstore.New(), clk, application.EngineConfig{SweepInterval: time.Hour, Quotas: domain.Limits{domain.QuotaLimits: 3}})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	limits := application.NewLimitService(e)
	ctx := context.Background()
	l := domain.RateLimit{Limit: 1, Window: time.Minute}
	for i := range 3 {
		if _, err := limits.Check(ctx, alice, domain.LockName(fmt.Sprintf("n%d", i)), l, 1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := limits.Check(ctx, alice, "n3", l, 1); !errors.Is(err, domain.ErrQuotaExceeded) {
		t.Fatalf("fourth name = %v, want quota_exceeded", err)
	}
	if _, err := limits.Check(ctx, alice, "n0", l, 1); err != nil {
		t.Errorf("an existing name at the quota: %v", err)
	}
	clk.Advance(time.Minute)
	if v, err := limits.Check(ctx, alice, "n3", l, 1); err != nil || !v.Allowed {
		t.Errorf("after the idle names' window: %+v, %v", v, err)
	}
	if vs, _ := limits.List(ctx, alice, domain.Prefix{}); len(vs) != 1 || vs[0].Name != "n3" {
		t.Errorf("List = %+v", vs)
	}
}

// TestFlagEventsReachWatches: a prefix watch streams the flag changes of
// its org below its prefix, with version and writer; a watch of one lock of
// the same name does not.
func TestFlagEventsReachWatches(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 0, application.WatchLimits{})
	flags := application.NewFlagService(f.engine)
	prefix, _ := domain.ParsePrefix("ui")
	w, err := ev.Watch(ctx, bob, application.WatchTarget{Prefix: prefix}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	one, err := ev.Watch(ctx, bob, application.WatchTarget{Name: "ui/dark"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	if got := frames(next(t, w)); got != "[snapshot@0]" {
		t.Fatalf("first frames = %s", got)
	}
	next(t, one) // its snapshot
	for _, c := range []struct {
		p    domain.Principal
		name domain.FlagName
	}{{alice, "ui/dark"}, {carol, "ui/dark"}, {alice, "api/x"}} {
		if _, err := flags.Put(ctx, c.p, c.name, domain.FlagSettings{Enabled: true, Percentage: 100}); err != nil {
			t.Fatal(err)
		}
	}
	if err := flags.Delete(ctx, bob, "ui/dark"); err != nil {
		t.Fatal(err)
	}
	f.mustAcquire(t, alice, "ui/dark", time.Minute) // a lock of the same name: 5
	var got []application.Frame
	for len(got) < 3 {
		got = append(got, next(t, w)...)
	}
	if s := frames(got); s != "[1:flag.updated:ui/dark 4:flag.deleted:ui/dark 5:lock.acquired:ui/dark]" {
		t.Fatalf("prefix watch frames = %s", s)
	}
	if e := got[1].Event; e.Version != 1 || e.By != "bob" {
		t.Errorf("deletion event: %+v", e)
	}
	if s := frames(next(t, one)); s != "[5:lock.acquired:ui/dark]" {
		t.Errorf("one-lock watch frames = %s, want only the lock's event", s)
	}
}
