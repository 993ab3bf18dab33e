package application_test

import (
	"errors"
	"testing"
	"time"

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

// TestCreateTokenOffline: a token minted while no engine runs authenticates
// after the next start, only its hash is stored, and the fencing counter and
// last-alive time are left as they were (so restart grace is unchanged).
func TestCreateTokenOffline(t *testing.T) {
	j := memstore.New()
	f := start(t, j, nil)
	f.mustAcquire(t, alice, "held", time.Minute)
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ci := domain.Principal{Org: "acme", User: "ci"}
	g, err := application.CreateToken(ctx, j, ci)
	if err != nil {
		t.Fatal(err)
	}
	if g.Principal != ci || len(g.Token) < domain.MinTokenBytes {
		t.Fatalf("CreateToken = %+v", g)
	}
	after, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after.Counter != before.Counter || !after.AliveAt.Equal(before.AliveAt) || len(after.Locks) != len(before.Locks) {
		t.Errorf("CreateToken changed the state: counter %d -> %d, alive %s -> %s", before.Counter, after.Counter, before.AliveAt, after.AliveAt)
	}
	if len(after.Credentials) != len(before.Credentials)+1 {
		t.Fatalf("credentials %d -> %d, want one more", len(before.Credentials), len(after.Credentials))
	}
	for _, c := range after.Credentials {
		if c.Principal == ci && c.Hash != domain.HashToken(g.Token) {
			t.Error("the stored credential is not the token's hash")
		}
	}
	g2 := start(t, j, nil)
	if p, err := application.NewAuthService(g2.engine, nil).Authenticate(g.Token); err != nil || p != ci {
		t.Fatalf("minted token after restart: %+v, %v", p, err)
	}
	if _, err := application.CreateToken(ctx, memstore.New(), application.AdminPrincipal); err == nil {
		t.Error("CreateToken minted an admin token")
	}
	if _, err := application.CreateToken(ctx, memstore.New(), domain.Principal{Org: "acme"}); err == nil {
		t.Error("CreateToken accepted a principal without a user")
	}
}
