package application_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

func TestOrgsAndUsers(t *testing.T) {
	j := memstore.New()
	f := start(t, j, nil)
	orgs := application.NewOrgService(f.engine)
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
	orgs = application.NewOrgService(f.engine)
	list, _ := orgs.Orgs(ctx, admin)
	if len(list) != 1 || list[0].Org.ID != "acme" || list[0].Members != 2 {
		t.Fatalf("orgs after a restart = %+v", list)
	}
}
