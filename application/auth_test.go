package application_test

import (
	"errors"
	"testing"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

func TestFirstStartGeneratesCredentialsOnce(t *testing.T) {
	j := memstore.New()
	f := start(t, j, nil)
	auth := application.NewAuthService(f.engine, nil)
	gen, err := auth.EnsureCredentials(ctx)
	if err != nil || len(gen) != 2 {
		t.Fatalf("generated %d tokens, err %v", len(gen), err)
	}
	for _, g := range gen {
		p, err := auth.Authenticate(g.Token)
		if err != nil || p != g.Principal {
			t.Fatalf("generated token does not authenticate: %v %+v", err, p)
		}
	}
	snap, _ := j.Load(ctx)
	for _, c := range snap.Credentials {
		for _, g := range gen {
			if string(c.Hash[:]) == g.Token {
				t.Fatal("token stored in plaintext")
			}
		}
	}
	if again, err := auth.EnsureCredentials(ctx); err != nil || again != nil {
		t.Fatalf("second start generated again: %v %v", again, err)
	}
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	g := start(t, j, nil)
	auth2 := application.NewAuthService(g.engine, nil)
	if _, err := auth2.Authenticate(gen[1].Token); err != nil {
		t.Fatalf("stored token lost across restart: %v", err)
	}
}

func TestConfiguredTokensSkipGeneration(t *testing.T) {
	f := start(t, nil, nil)
	tok := "0123456789abcdef"
	auth := application.NewAuthService(f.engine, []domain.Credential{{Hash: domain.HashToken(tok), Principal: alice}})
	if gen, err := auth.EnsureCredentials(ctx); err != nil || gen != nil {
		t.Fatalf("generated with configured tokens: %v %v", gen, err)
	}
	if p, err := auth.Authenticate(tok); err != nil || p != alice {
		t.Fatalf("authenticate: %+v %v", p, err)
	}
	for _, bad := range []string{"", "0123456789abcdeF", tok + " "} {
		if _, err := auth.Authenticate(bad); !errors.Is(err, domain.ErrUnauthenticated) {
			t.Fatalf("token %q accepted", bad)
		}
	}
}
