package memstore

import (
	"context"
	"slices"
	"testing"

	"github.com/octostore/octostore/domain"
)

// TestEventsTrimmed checks the stored outbox, which Load does not return.
func TestEventsTrimmed(t *testing.T) {
	ctx := context.Background()
	j := New()
	var changes []domain.Change
	for seq := uint64(1); seq <= 5; seq++ {
		changes = append(changes, domain.EventRecorded{Event: domain.Event{Seq: seq, Org: "acme", Kind: domain.EventLockAcquired}})
	}
	changes = append(changes, domain.EventsTrimmed{Through: 3},
		domain.EventRecorded{Event: domain.Event{Seq: 6, Org: "acme", Kind: domain.EventLockReleased}})
	if err := j.Commit(ctx, domain.Batch{Changes: changes}); err != nil {
		t.Fatal(err)
	}
	seqs := func() []uint64 {
		var s []uint64
		for _, e := range j.events {
			s = append(s, e.Seq)
		}
		return s
	}
	if got := seqs(); !slices.Equal(got, []uint64{4, 5, 6}) {
		t.Errorf("events after trimming through 3: %v", got)
	}
	if err := j.Commit(ctx, domain.Batch{Changes: []domain.Change{domain.EventsTrimmed{Through: ^uint64(0)}}}); err != nil {
		t.Fatal(err)
	}
	if got := seqs(); len(got) != 0 {
		t.Errorf("events after trimming everything: %v", got)
	}
	if s, _ := j.Load(ctx); s.EventSeq != 6 {
		t.Errorf("EventSeq = %d, want 6", s.EventSeq)
	}
}
