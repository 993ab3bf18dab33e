package application_test

import (
	"errors"
	"testing"
	"time"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// TestSignIn: a first sign-in registers the org and makes the user its
// owner; a later one finds both and issues another token; each code gives
// its token once, within a minute of the engine's clock.
func TestSignIn(t *testing.T) {
	f := start(t, nil, nil)
	orgs := application.NewOrgService(f.engine)
	auth := application.NewAuthService(f.engine, nil)
	login := application.NewLoginService(f.engine, orgs)

	code, err := login.SignIn(ctx, "Octocat")
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
	again, err := login.SignIn(ctx, "Octocat")
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
	late, err := login.SignIn(ctx, "Octocat")
	if err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(application.ExchangeCodeTTL - time.Millisecond)
	inTime, _ := login.SignIn(ctx, "Octocat")
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
	orgs := application.NewOrgService(f.engine)
	login := application.NewLoginService(f.engine, orgs)
	if _, err := login.SignIn(ctx, "a b"); domain.KindOf(err) != domain.KindInvalid {
		t.Fatalf("sign-in of %q: %v", "a b", err)
	}
	if os, _ := orgs.Orgs(ctx, admin); len(os) != 0 {
		t.Fatalf("orgs after a refused sign-in: %+v", os)
	}
}
