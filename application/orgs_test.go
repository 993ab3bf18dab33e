package application_test

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

func TestOrgsAndUsers(t *testing.T) {
	j := memstore.New()
	f := start(t, j, nil)
	orgs := application.NewOrgService(f.engine, nil)
	auth := application.NewAuthService(f.engine, nil)
	if _, err := orgs.CreateOrg(ctx, alice, "acme"); !errors.Is(err, domain.ErrAdminOnly) {
		t.Fatalf("a tenant creating an org: %v", err)
	}
	if _, _, _, err := orgs.AddUser(ctx, admin, "acme", "alice", "owner"); !errors.Is(err, domain.ErrOrgNotFound) {
		t.Fatalf("a user of an unregistered org: %v", err)
	}
	// Concurrent creates of one org: exactly one wins.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := orgs.CreateOrg(ctx, admin, "acme")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, domain.ErrOrgExists):
			t.Fatal(err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creates of one org won", won)
	}
	m, g, info, err := orgs.AddUser(ctx, admin, "acme", "alice", "owner")
	if err != nil || m.Role != domain.RoleOwner || info.ID == "" {
		t.Fatalf("add user: %+v %v", m, err)
	}
	if p, err := auth.Authenticate(g.Token); err != nil || p != alice {
		t.Fatalf("the first token: %v %v", p, err)
	}
	if _, _, _, err := orgs.AddUser(ctx, admin, "acme", "alice", ""); !errors.Is(err, domain.ErrUserExists) {
		t.Fatalf("adding alice again: %v", err)
	}
	if _, _, _, err := orgs.AddUser(ctx, admin, "acme", "bob", "king"); !errors.Is(err, domain.ErrInvalidRole) {
		t.Fatalf("a bad role: %v", err)
	}
	if _, _, _, err := orgs.AddUser(ctx, admin, "acme", "bob", ""); err != nil {
		t.Fatal(err)
	}
	us, _ := orgs.Users(ctx, admin, "acme")
	if len(us) != 2 || us[0].Member.User != "alice" || us[0].Tokens != 1 || us[1].Member.Role != domain.RoleMember {
		t.Fatalf("users = %+v", us)
	}

	// Everything survives a restart.
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	f = start(t, j, f.clock)
	orgs = application.NewOrgService(f.engine, nil)
	list, _ := orgs.Orgs(ctx, admin)
	if len(list) != 1 || list[0].Org.ID != "acme" || list[0].Members != 2 {
		t.Fatalf("orgs after a restart = %+v", list)
	}
}

// TestOrgsKnownThroughTokens: the org listing also names the orgs that
// only tokens know, configured ones first: a registered org is
// "registered" even when tokens name it too.
func TestOrgsKnownThroughTokens(t *testing.T) {
	f := start(t, nil, nil)
	auth := application.NewAuthService(f.engine, []domain.Credential{
		{Hash: domain.HashToken("alice-token-0123456789"), Principal: alice},
		{Hash: domain.HashToken("carol-token-0123456789"), Principal: domain.Principal{Org: "globex", User: "carol"}},
		{Hash: domain.HashToken("admin-token-0123456789"), Principal: application.AdminPrincipal},
	})
	orgs := application.NewOrgService(f.engine, auth)
	if _, err := orgs.CreateOrg(ctx, admin, "acme"); err != nil {
		t.Fatal(err)
	}
	for _, who := range [][2]string{{"initech", "peter"}, {"globex", "dave"}} {
		if _, _, err := auth.Issue(ctx, admin, who[0], who[1]); err != nil {
			t.Fatal(err)
		}
	}
	list, err := orgs.Orgs(ctx, admin)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range list {
		got = append(got, fmt.Sprintf("%s:%s:%d:%t", o.Org.ID, o.Source, o.Members, o.Org.CreatedAt.IsZero()))
	}
	want := []string{"acme:registered:0:false", "globex:static:0:true", "initech:tokens:0:true"}
	if !slices.Equal(got, want) {
		t.Fatalf("orgs = %v, want %v", got, want)
	}
	if _, err := orgs.Orgs(ctx, alice); !errors.Is(err, domain.ErrAdminOnly) {
		t.Fatalf("a tenant listing orgs: %v", err)
	}
}
