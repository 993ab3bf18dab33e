package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

var octocat = domain.ExternalAccount{Login: "Octocat"}

// TestSignIn: a first sign-in registers the org and makes the user its
// owner; a later one finds both and issues another token; each code gives
// its token once, within a minute of the engine's clock.
func TestSignIn(t *testing.T) {
	f := start(t, nil, nil)
	orgs := application.NewOrgService(f.engine, nil)
	auth := application.NewAuthService(f.engine, nil)
	login := application.NewLoginService(f.engine, orgs, domain.OrgMapping{})

	code, err := login.SignIn(ctx, octocat)
	if err != nil {
		t.Fatal(err)
	}
	g, info, err := login.Exchange(ctx, code)
	want := domain.Principal{Org: "octocat", User: "Octocat"}
	if err != nil || g.Principal != want || info.ID == "" {
		t.Fatalf("exchange: %+v %+v %v", g, info, err)
	}
	if p, err := auth.Authenticate(g.Token); err != nil || p != want {
		t.Fatalf("the signed-in token authenticates as %+v, %v", p, err)
	}
	if _, _, err := login.Exchange(ctx, code); !errors.Is(err, domain.ErrInvalidExchangeCode) {
		t.Fatalf("a replayed code: %v", err)
	}
	users, err := orgs.Users(ctx, admin, "octocat")
	if err != nil || len(users) != 1 || users[0].Member.Role != domain.RoleOwner || users[0].Tokens != 1 {
		t.Fatalf("users after the first sign-in: %+v %v", users, err)
	}

	// Signing in again finds the org and the user: another token.
	again, err := login.SignIn(ctx, octocat)
	if err != nil {
		t.Fatal(err)
	}
	g2, _, err := login.Exchange(ctx, again)
	if err != nil || g2.Token == g.Token || g2.Principal != want {
		t.Fatalf("second sign-in: %+v %v", g2, err)
	}
	if users, _ := orgs.Users(ctx, admin, "octocat"); len(users) != 1 || users[0].Tokens != 2 {
		t.Fatalf("users after the second sign-in: %+v", users)
	}

	// A code expires after a minute of the engine's clock.
	late, err := login.SignIn(ctx, octocat)
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(application.ExchangeCodeTTL - time.Millisecond)
	inTime, _ := login.SignIn(ctx, octocat)
	f.clock.Advance(time.Millisecond)
	if _, _, err := login.Exchange(ctx, late); !errors.Is(err, domain.ErrInvalidExchangeCode) {
		t.Fatalf("an expired code: %v", err)
	}
	if _, _, err := login.Exchange(ctx, inTime); err != nil {
		t.Fatalf("a code within its minute: %v", err)
	}
	if _, _, err := login.Exchange(ctx, "no-such-code"); !errors.Is(err, domain.ErrInvalidExchangeCode) {
		t.Fatalf("an unknown code: %v", err)
	}
}

// TestSignInRefusesBadLogins: a login that is no valid name creates
// nothing.
func TestSignInRefusesBadLogins(t *testing.T) {
	f := start(t, nil, nil)
	orgs := application.NewOrgService(f.engine, nil)
	login := application.NewLoginService(f.engine, orgs, domain.OrgMapping{})
	if _, err := login.SignIn(ctx, domain.ExternalAccount{Login: "a b"}); domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("sign-in of %q: %v", "a b", err)
	}
	if os, _ := orgs.Orgs(ctx, admin); len(os) != 0 {
		t.Fatalf("orgs after a refused sign-in: %+v", os)
	}
}

// TestSignInMapsOrgs: with a mapping, an account lands in the org of the
// first rule whose GitHub org it is in, as an owner when it administers
// that GitHub org; an existing member keeps its role; an account in none
// goes to its personal org, or is refused when the mapping is strict.
func TestSignInMapsOrgs(t *testing.T) {
	f := start(t, nil, nil)
	orgs := application.NewOrgService(f.engine, nil)
	rules := []domain.OrgRule{{External: "Acme-Corp", Org: "acme"}, {External: "globex-gh", Org: "globex"}}
	login := application.NewLoginService(f.engine, orgs, domain.OrgMapping{Rules: rules})
	strict := application.NewLoginService(f.engine, orgs, domain.OrgMapping{Rules: rules, Strict: true})
	signIn := func(l *application.LoginService, a domain.ExternalAccount) (domain.Principal, error) {
		t.Helper()
		code, err := l.SignIn(ctx, a)
		if err != nil {
			return domain.Principal{}, err
		}
		g, _, err := l.Exchange(ctx, code)
		if err != nil {
			t.Fatal(err)
		}
		return g.Principal, nil
	}
	role := func(org domain.OrgID, user string) domain.Role {
		t.Helper()
		users, err := orgs.Users(ctx, admin, string(org))
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users {
			if u.Member.User == user {
				return u.Member.Role
			}
		}
		return ""
	}

	// Configuration order decides, not the order GitHub lists the orgs;
	// GitHub org names ignore case.
	p, err := signIn(login, domain.ExternalAccount{Login: "Alice", Orgs: []domain.ExternalOrg{{Name: "globex-gh", Admin: true}, {Name: "acme-corp"}}})
	if err != nil || p != (domain.Principal{Org: "acme", User: "Alice"}) || role("acme", "Alice") != domain.RoleMember {
		t.Fatalf("a member of acme-corp: %+v %v, role %q", p, err, role("acme", "Alice"))
	}
	p, err = signIn(login, domain.ExternalAccount{Login: "Bob", Orgs: []domain.ExternalOrg{{Name: "other"}, {Name: "globex-gh", Admin: true}}})
	if err != nil || p != (domain.Principal{Org: "globex", User: "Bob"}) || role("globex", "Bob") != domain.RoleOwner {
		t.Fatalf("an admin of globex-gh: %+v %v, role %q", p, err, role("globex", "Bob"))
	}
	// Alice became a GitHub admin since: her role stays what it was.
	if p, err = signIn(login, domain.ExternalAccount{Login: "Alice", Orgs: []domain.ExternalOrg{{Name: "acme-corp", Admin: true}}}); err != nil ||
		p.Org != "acme" || role("acme", "Alice") != domain.RoleMember {
		t.Fatalf("Alice again: %+v %v, role %q", p, err, role("acme", "Alice"))
	}
	// In none of the mapped orgs: the personal org, or refused.
	outsider := domain.ExternalAccount{Login: "Mallory", Orgs: []domain.ExternalOrg{{Name: "other", Admin: true}}}
	if p, err = signIn(login, outsider); err != nil || p != (domain.Principal{Org: "mallory", User: "Mallory"}) || role("mallory", "Mallory") != domain.RoleOwner {
		t.Fatalf("an outsider: %+v %v", p, err)
	}
	if _, err = signIn(strict, domain.ExternalAccount{Login: "Eve"}); !errors.Is(err, domain.ErrNoMappedOrg) || domain.KindOf(err) != domain.KindPermissionDenied {
		t.Fatalf("an outsider with personal orgs off: %v", err)
	}
	if _, err := orgs.Users(ctx, admin, "eve"); !errors.Is(err, domain.ErrOrgNotFound) {
		t.Fatalf("the refused sign-in registered org eve: %v", err)
	}
}
