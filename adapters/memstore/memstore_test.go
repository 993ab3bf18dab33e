package memstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
	"github.com/octostore/octostore/ports/porttest"
)

func TestJournal(t *testing.T) {
	porttest.TestJournal(t, func(*testing.T) ports.Journal { return memstore.New() })
}

func TestFailNextCommit(t *testing.T) {
	ctx := context.Background()
	j := memstore.New()
	boom := errors.New("disk on fire")
	j.FailNextCommit(boom)

	l := domain.Lock{
		Key:    domain.LockKey{Org: "acme", Name: "db"},
		Holder: "user:alice",
		Lease:  domain.NewLeaseID(1, "n"),
		Token:  1,
	}
	b := domain.Batch{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: l}}}
	if err := j.Commit(ctx, b); !errors.Is(err, boom) {
		t.Fatalf("Commit after FailNextCommit = %v, want %v", err, boom)
	}
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Locks) != 0 || s.Counter != 0 {
		t.Fatalf("failed Commit stored %+v", s)
	}
	// The failure is one-shot.
	if err := j.Commit(ctx, b); err != nil {
		t.Fatalf("second Commit = %v", err)
	}
	if s, _ := j.Load(ctx); len(s.Locks) != 1 || s.Counter != 1 {
		t.Fatalf("after second Commit: %+v", s)
	}
}
