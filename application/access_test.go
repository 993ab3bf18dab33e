package application_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// withOwner returns a journal where acme is registered with alice as its
// owner and bob as a member.
func withOwner(t *testing.T) *memstore.Journal {
	t.Helper()
	j := memstore.New()
	now := time.Now()
	if err := j.Commit(context.Background(), domain.Batch{Changes: []domain.Change{
		domain.OrgCreated{Org: domain.Org{ID: "acme", CreatedAt: now}},
		domain.MemberSaved{Member: domain.Member{Org: "acme", User: "alice", Role: domain.RoleOwner, AddedAt: now}},
		domain.MemberSaved{Member: domain.Member{Org: "acme", User: "bob", Role: domain.RoleMember, AddedAt: now}},
	}}); err != nil {
		t.Fatal(err)
	}
	return j
}

var dave = domain.Principal{Org: "acme", User: "dave"}

func TestOnlyOwnersChangeTeamsAndACLs(t *testing.T) {
	f := start(t, withOwner(t), nil)
	acc := application.NewAccessService(f.engine)
	for _, p := range []domain.Principal{bob, dave, carol} {
		if _, err := acc.PutTeam(ctx, p, "dba", []string{"bob"}); !errors.Is(err, domain.ErrOwnerOnly) {
			t.Errorf("PutTeam by %s: %v, want permission_denied", p.User, err)
		}
		if _, err := acc.PutACL(ctx, p, "db", nil, nil); !errors.Is(err, domain.ErrOwnerOnly) {
			t.Errorf("PutACL by %s: %v, want permission_denied", p.User, err)
		}
	}
	if _, err := acc.PutTeam(ctx, domain.Principal{Admin: true}, "dba", nil); !errors.Is(err, domain.ErrAdminNotTenant) {
		t.Errorf("PutTeam by the admin: %v", err)
	}
	if _, err := acc.PutACL(ctx, alice, "db", []string{"team:dba"}, nil); domain.CodeOf(err) != "invalid_principal" {
		t.Errorf("a rule naming a missing team: %v, want invalid_principal", err)
	}
	if _, err := acc.PutTeam(ctx, alice, "dba", []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.PutACL(ctx, alice, "db", []string{"team:dba"}, nil); err != nil {
		t.Fatal(err)
	}
	var inUse *domain.TeamInUseError
	if err := acc.DeleteTeam(ctx, alice, "dba"); !errors.As(err, &inUse) || !slices.Equal(inUse.Prefixes, []domain.LockName{"db"}) {
		t.Errorf("deleting a team a rule names: %v", err)
	}
	// Members read teams and rules; other orgs see none of them.
	if ts, _ := acc.Teams(ctx, bob); len(ts) != 1 || ts[0].Name != "dba" {
		t.Errorf("bob's view of the teams: %+v", ts)
	}
	if ts, _ := acc.Teams(ctx, carol); len(ts) != 0 {
		t.Errorf("globex sees acme's teams: %+v", ts)
	}
	if _, err := acc.ACL(ctx, carol, "db"); !errors.Is(err, domain.ErrACLNotFound) {
		t.Errorf("globex reads acme's rule: %v", err)
	}
	if err := acc.DeleteACL(ctx, alice, "db"); err != nil {
		t.Fatal(err)
	}
	if err := acc.DeleteACL(ctx, alice, "db"); !errors.Is(err, domain.ErrACLNotFound) {
		t.Errorf("deleting a missing rule: %v", err)
	}
	if err := acc.DeleteTeam(ctx, alice, "dba"); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.Team(ctx, alice, "dba"); !errors.Is(err, domain.ErrTeamNotFound) {
		t.Errorf("deleted team: %v", err)
	}
}

// TestACLsAreEnforced: acquire covers acquire, renew, release and
// validate; observe covers status, listing, watches and the events page;
// a change takes effect for the next request, and survives a restart.
func TestACLsAreEnforced(t *testing.T) {
	j := withOwner(t)
	f, ev := startEvents(t, j, 0, 0, application.WatchLimits{})
	acc := application.NewAccessService(f.engine)
	lb := f.mustAcquire(t, bob, "db/primary", time.Minute)
	f.mustAcquire(t, bob, "db/replica", time.Minute)
	if _, err := acc.PutTeam(ctx, alice, "dba", []string{"dave"}); err != nil {
		t.Fatal(err)
	}
	// db: only dba acquires, every member observes; db/replica: bob
	// may observe nothing (a narrower deny).
	if _, err := acc.PutACL(ctx, alice, "db", []string{"team:dba"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := acc.PutACL(ctx, alice, "db/replica", []string{"team:dba"}, []string{"team:dba"}); err != nil {
		t.Fatal(err)
	}
	denied := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, domain.ErrPermissionDenied) {
			t.Errorf("%s: %v, want permission_denied", what, err)
		}
	}
	_, err := f.acquire(t, bob, "db/other", time.Minute)
	denied("bob acquires db/other", err)
	_, err = f.locks.Renew(ctx, bob, "db/primary", lb.Lease, time.Minute)
	denied("bob renews", err)
	denied("bob releases", f.locks.Release(ctx, bob, "db/primary", lb.Lease))
	_, _, err = f.locks.Validate(ctx, bob, "db/primary", lb.Token)
	denied("bob validates", err)
	_, err = f.locks.Get(ctx, bob, "db/replica")
	denied("bob reads db/replica", err)
	if v, err := f.locks.Get(ctx, bob, "db/primary"); err != nil || v.Status != application.StatusHeld {
		t.Errorf("bob reads db/primary: %+v, %v", v, err)
	}
	_, err = ev.Watch(ctx, bob, application.WatchTarget{Name: "db/replica"}, nil)
	denied("bob watches db/replica", err)
	f.mustAcquire(t, dave, "db/other", time.Minute)
	f.mustAcquire(t, bob, "free", time.Minute) // no rule: everyone

	page, err := f.locks.List(ctx, bob, domain.Prefix{}, "", 2)
	if err != nil {
		t.Fatal(err)
	}
	var names []domain.LockName
	for _, l := range page.Locks {
		names = append(names, l.Lock.Key.Name)
	}
	if !slices.Equal(names, []domain.LockName{"db/other", "db/primary"}) || page.Next != "db/primary" {
		t.Errorf("bob's first page: %v next %q", names, page.Next)
	}
	page, _ = f.locks.List(ctx, bob, domain.Prefix{}, page.Next, 2)
	if len(page.Locks) != 1 || page.Locks[0].Lock.Key.Name != "free" || page.Next != "" {
		t.Errorf("bob's second page skips db/replica: %+v", page)
	}
	if page, _ := f.locks.List(ctx, dave, domain.Prefix{}, "", 10); len(page.Locks) != 4 {
		t.Errorf("dave lists %d locks, want 4", len(page.Locks))
	}

	w, err := ev.Watch(ctx, bob, application.WatchTarget{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if got := frames(next(t, w)); got != "[snapshot@4 db/other=held db/primary=held free=held]" {
		t.Errorf("bob's snapshot: %s", got)
	}
	// Revoking bob's observe on db/primary stops its events at once.
	if _, err := acc.PutACL(ctx, alice, "db/primary", []string{"team:dba"}, []string{}); err != nil {
		t.Fatal(err)
	}
	f.mustAcquire(t, dave, "db/replica2", time.Minute)
	f.mustAcquire(t, dave, "db/primary/x", time.Minute)
	f.mustAcquire(t, bob, "free2", time.Minute)
	var got []application.Frame
	for len(got) == 0 || got[len(got)-1].Seq < 7 { // bounded by next's timeout
		got = append(got, next(t, w)...)
	}
	if frames(got) != "[5:lock.acquired:db/replica2 7:lock.acquired:free2]" {
		t.Errorf("bob's events: %s (db/primary/x must be hidden)", frames(got))
	}
	evs, err := ev.Page(ctx, bob, 0, domain.Prefix{}, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs.Events {
		if e.Name == "db/replica" || e.Name == "db/primary/x" || e.Name == "db/primary" {
			t.Errorf("bob's events page shows %s", e.Name)
		}
	}
	if len(evs.Events) != 4 { // db/other, free, db/replica2, free2
		t.Errorf("bob's events page: %d events, want 4", len(evs.Events))
	}

	// The rules survive a restart.
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	g := start(t, j, nil)
	if _, err := g.acquire(t, bob, "db/new", time.Minute); !errors.Is(err, domain.ErrPermissionDenied) {
		t.Errorf("after restart bob acquires db/new: %v", err)
	}
	if _, err := g.acquire(t, dave, "db/new", time.Minute); err != nil {
		t.Errorf("after restart dave acquires db/new: %v", err)
	}
}

// TestWebhooksFollowTheirOwnersObserve: a webhook gets only events of
// names its creator may observe, decided when each event is delivered.
func TestWebhooksFollowTheirOwnersObserve(t *testing.T) {
	f := start(t, withOwner(t), nil)
	acc := application.NewAccessService(f.engine)
	send := newFakeSender(ok)
	svc, _ := startHooks(t, f, send, application.DispatchConfig{})
	w := createHook(t, svc, bob, "", "lock.acquired")
	if w.Owner != "bob" {
		t.Errorf("owner = %q, want bob", w.Owner)
	}
	if _, err := acc.PutACL(ctx, alice, "secret", nil, []string{"user:alice"}); err != nil {
		t.Fatal(err)
	}
	f.mustAcquire(t, alice, "secret/a", time.Minute) // hidden from bob
	f.mustAcquire(t, alice, "open", time.Minute)
	send.await(t, 1)
	if got := send.seqs(); !slices.Equal(got, []string{"2:lock.acquired"}) {
		t.Errorf("bob's webhook got %v, want only event 2 (open)", got)
	}
	awaitDelivery(t, svc, bob, w, 2, domain.DeliveryDelivered)
}

// TestAccessLimits: an org has at most 1,000 teams and 10,000 rules;
// replacing one is always allowed.
func TestAccessLimits(t *testing.T) {
	j := withOwner(t)
	var changes []domain.Change
	for i := range domain.MaxTeamsPerOrg {
		tm, _ := domain.NewTeam("acme", "t"+strconv.Itoa(i), nil, time.Now())
		changes = append(changes, domain.TeamSaved{Team: tm})
	}
	for i := range domain.MaxRulesPerOrg {
		a, _ := domain.NewACL("acme", "p"+strconv.Itoa(i), nil, nil, "alice", time.Now())
		changes = append(changes, domain.ACLSaved{ACL: a})
	}
	if err := j.Commit(ctx, domain.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	f := start(t, j, nil)
	acc := application.NewAccessService(f.engine)
	var q *domain.QuotaExceededError
	if _, err := acc.PutTeam(ctx, alice, "one-more", nil); !errors.As(err, &q) || q.Quota != "teams" || q.Limit != 1000 {
		t.Errorf("team 1,001: %v", err)
	}
	if _, err := acc.PutTeam(ctx, alice, "t7", []string{"bob"}); err != nil {
		t.Errorf("replacing a team at the limit: %v", err)
	}
	if _, err := acc.PutACL(ctx, alice, "one/more", nil, nil); !errors.As(err, &q) || q.Quota != "acls" || q.Limit != 10000 {
		t.Errorf("rule 10,001: %v", err)
	}
	if _, err := acc.PutACL(ctx, alice, "p7", []string{"team:t7"}, nil); err != nil {
		t.Errorf("replacing a rule at the limit: %v", err)
	}
	if _, err := f.acquire(t, bob, "p7/x", time.Minute); err != nil {
		t.Errorf("bob is in t7: %v", err)
	}
	if _, err := f.acquire(t, dave, "p7/x", time.Minute); !errors.Is(err, domain.ErrPermissionDenied) {
		t.Errorf("dave is not in t7: %v", err)
	}
}
