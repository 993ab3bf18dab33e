package porttest

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

func testFlag(org domain.OrgID, name domain.FlagName, version uint64) domain.Flag {
	return domain.Flag{Key: domain.FlagKey{Org: org, Name: name}, Enabled: version%2 == 1, Percentage: int(version * 10 % 101),
		Description: "rollout of " + string(name), Version: version, UpdatedAt: time.UnixMilli(1_800_000_000_000 + int64(version)),
		UpdatedBy: "alice"}
}

// checkFlags requires the snapshot's flags to be exactly want, in that
// order (by org and name).
func checkFlags(t *testing.T, s domain.Snapshot, want ...domain.Flag) {
	t.Helper()
	if s.Flags == nil {
		t.Error("Load returned nil Flags, want a non-nil slice")
	}
	if len(s.Flags) != len(want) {
		t.Errorf("Load returned flags %+v, want %+v", s.Flags, want)
		return
	}
	for i, w := range want {
		g := s.Flags[i]
		if g.Key != w.Key || g.Enabled != w.Enabled || g.Percentage != w.Percentage || g.Description != w.Description ||
			g.Version != w.Version || !g.UpdatedAt.Equal(w.UpdatedAt) || g.UpdatedBy != w.UpdatedBy {
			t.Errorf("Load returned flag %d %+v, want %+v (by org and name)", i, g, w)
		}
	}
}

// testFlagRoundTrip: flags are stored per org and name, a later FlagSaved
// replaces the earlier one (also within one batch), FlagDeleted removes
// one (deleting a flag that is not stored changes nothing), and the same
// name in two orgs is two flags.
func testFlagRoundTrip(t *testing.T, j ports.Journal) {
	checkFlags(t, load(t, j))
	a1, b1, z1 := testFlag("acme", "checkout", 1), testFlag("beta", "checkout", 1), testFlag("acme", "zeta/x", 1)
	commit(t, j, 0, domain.FlagSaved{Flag: z1}, domain.FlagSaved{Flag: b1}, domain.FlagSaved{Flag: a1})
	checkFlags(t, load(t, j), a1, z1, b1)

	a3 := testFlag("acme", "checkout", 3)
	commit(t, j, 0, domain.FlagSaved{Flag: testFlag("acme", "checkout", 2)}, domain.FlagSaved{Flag: a3},
		domain.FlagDeleted{Key: b1.Key}, domain.FlagDeleted{Key: domain.FlagKey{Org: "acme", Name: "never"}})
	checkFlags(t, load(t, j), a3, z1)
}

// testRefusedFlags: a FlagSaved that breaks Flag.Validate fails the whole
// batch.
func testRefusedFlags(t *testing.T, j ports.Journal) {
	stored := testFlag("acme", "checkout", 1)
	commit(t, j, 0, domain.FlagSaved{Flag: stored})
	bad := func(f func(*domain.Flag)) domain.Flag { x := testFlag("acme", "checkout", 2); f(&x); return x }
	for name, f := range map[string]domain.Flag{
		"bad org":        bad(func(x *domain.Flag) { x.Key.Org = "no/slash" }),
		"bad name":       bad(func(x *domain.Flag) { x.Key.Name = "a//b" }),
		"percentage":     bad(func(x *domain.Flag) { x.Percentage = 101 }),
		"version 0":      bad(func(x *domain.Flag) { x.Version = 0 }),
		"version":        bad(func(x *domain.Flag) { x.Version = 1 << 63 }),
		"no writer":      bad(func(x *domain.Flag) { x.UpdatedBy = "" }),
		"description":    bad(func(x *domain.Flag) { x.Description = "\xff" }),
		"negative pct":   bad(func(x *domain.Flag) { x.Percentage = -1 }),
		"long desc":      bad(func(x *domain.Flag) { x.Description = string(make([]byte, domain.MaxFlagDescriptionBytes+1)) }),
		"empty org":      bad(func(x *domain.Flag) { x.Key.Org = "" }),
		"empty name":     bad(func(x *domain.Flag) { x.Key.Name = "" }),
		"dot component":  bad(func(x *domain.Flag) { x.Key.Name = "a/../b" }),
		"space in name":  bad(func(x *domain.Flag) { x.Key.Name = "a b" }),
		"unicode in org": bad(func(x *domain.Flag) { x.Key.Org = "café" }),
	} {
		b := domain.Batch{Changes: []domain.Change{domain.FlagDeleted{Key: stored.Key}, domain.FlagSaved{Flag: f}}}
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	checkFlags(t, load(t, j), stored)
}

// testFlagEvents: a flag event keeps its version and writer.
func testFlagEvents(t *testing.T, j ports.Journal) {
	at := time.UnixMilli(1_800_000_000_123)
	up := domain.Event{Seq: 1, Org: "acme", Kind: domain.EventFlagUpdated, Name: "checkout", Version: 7, By: "alice", At: at}
	del := domain.Event{Seq: 2, Org: "acme", Kind: domain.EventFlagDeleted, Name: "checkout", Version: 7, By: "bob", At: at}
	commit(t, j, 0, domain.EventRecorded{Event: up}, domain.EventRecorded{Event: del})
	evs, err := j.Events(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || !reflect.DeepEqual(evs[0], up) || !reflect.DeepEqual(evs[1], del) {
		t.Errorf("Events = %+v, want %+v and %+v", evs, up, del)
	}
	bad := domain.Event{Seq: 3, Org: "acme", Kind: domain.EventFlagUpdated, Name: "x", Version: 1 << 63, By: "alice", At: at}
	if err := j.Commit(context.Background(), domain.Batch{Changes: []domain.Change{domain.EventRecorded{Event: bad}}}); err == nil {
		t.Error("Commit of an event whose version is out of range = nil, want an error")
	}
}
