package application_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

func TestTokenRotateRevokeIssue(t *testing.T) {
	f := start(t, nil, nil)
	static := domain.Credential{Hash: domain.HashToken("static-token-0123456789"), Principal: alice}
	auth := application.NewAuthService(f.engine, []domain.Credential{static})
	if _, _, err := auth.Rotate(ctx, "static-token-0123456789"); !errors.Is(err, domain.ErrStaticToken) {
		t.Fatalf("rotating a configured token: %v, want static_token", err)
	}
	g, info, err := auth.Issue(ctx, admin, "acme", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := auth.Issue(ctx, bob, "acme", "bob"); !errors.Is(err, domain.ErrAdminOnly) {
		t.Fatalf("a tenant issuing: %v", err)
	}
	if p, err := auth.Authenticate(g.Token); err != nil || p != bob {
		t.Fatalf("issued token: %v %v", p, err)
	}
	tokens, _ := auth.Tokens(ctx, admin, "acme", "bob")
	if len(tokens) != 1 || tokens[0].ID != info.ID || tokens[0].LastUsedAt.IsZero() || !tokens[0].CreatedAt.Equal(f.clock.Now()) {
		t.Fatalf("tokens = %+v", tokens)
	}

	rotated, _, err := auth.Rotate(ctx, g.Token)
	if err != nil || rotated.Principal != bob {
		t.Fatalf("rotate: %v %v", rotated, err)
	}
	if _, err := auth.Authenticate(g.Token); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("the old token after rotation: %v", err)
	}
	if _, _, err := auth.Rotate(ctx, g.Token); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("rotating the old token again: %v", err)
	}
	if p, err := auth.Authenticate(rotated.Token); err != nil || p != bob {
		t.Fatalf("the new token: %v %v", p, err)
	}

	tokens, _ = auth.Tokens(ctx, admin, "", "")
	if len(tokens) != 1 || tokens[0].ID == info.ID {
		t.Fatalf("after rotation: %+v", tokens)
	}
	if err := auth.Revoke(ctx, admin, tokens[0].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := auth.Authenticate(rotated.Token); !errors.Is(err, domain.ErrUnauthenticated) {
		t.Fatalf("a revoked token: %v", err)
	}
	if err := auth.Revoke(ctx, admin, tokens[0].ID); !errors.Is(err, domain.ErrTokenNotFound) {
		t.Fatalf("revoking twice: %v", err)
	}
}

// TestRevokedTokenEndsItsWatch: a stream opened with a token ends when the
// token is revoked (or rotated); others go on.
func TestRevokedTokenEndsItsWatch(t *testing.T) {
	f, ev := startEvents(t, nil, 0, 0, application.WatchLimits{})
	auth := application.NewAuthService(f.engine, nil)
	g, _, err := auth.Issue(ctx, admin, "acme", "bob")
	if err != nil {
		t.Fatal(err)
	}
	w, err := ev.Watch(ctx, bob, application.WatchTarget{Auth: domain.HashToken(g.Token)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ev.Watch(ctx, bob, application.WatchTarget{}, nil)
	next(t, w)
	next(t, other)
	if _, _, err := auth.Rotate(ctx, g.Token); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := w.Next(c); !errors.Is(err, application.ErrWatchEnded) {
		t.Fatalf("the stream of a rotated token: %v, want it ended", err)
	}
	f.mustAcquire(t, bob, "x", time.Minute)
	if got := frames(next(t, other)); got != "[1:lock.acquired:x]" {
		t.Fatalf("another stream: %s", got)
	}
}
