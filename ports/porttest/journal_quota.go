package porttest

import (
	"context"
	"maps"
	"testing"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// checkQuotas requires the snapshot's quota overrides to be exactly want,
// in that order (by org).
func checkQuotas(t *testing.T, s domain.Snapshot, want ...domain.QuotaSet) {
	t.Helper()
	if s.Quotas == nil {
		t.Error("Load returned nil Quotas, want a non-nil slice")
	}
	if len(s.Quotas) != len(want) {
		t.Errorf("Load returned quotas %v, want %v", s.Quotas, want)
		return
	}
	for i, w := range want {
		if g := s.Quotas[i]; g.Org != w.Org || !maps.Equal(g.Limits, w.Limits) {
			t.Errorf("Load returned quotas %v, want %v (one per org, by org)", s.Quotas, want)
			return
		}
	}
}

// testQuotaRoundTrip: overrides are stored per org, a later QuotaSet of the
// same org replaces the earlier one as a whole (also within one batch),
// and an empty one removes the org's overrides.
func testQuotaRoundTrip(t *testing.T, j ports.Journal) {
	checkQuotas(t, load(t, j))
	acme := domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: 10, domain.QuotaWatchStreams: 0}}
	beta := domain.QuotaSet{Org: "beta", Limits: domain.Limits{domain.QuotaSessions: 3}}
	zed := domain.QuotaSet{Org: "zed", Limits: domain.Limits{domain.QuotaWebhooks: 1}}
	commit(t, j, 0, zed, beta, acme)
	checkQuotas(t, load(t, j), acme, beta, zed)

	acme2 := domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaWaiters: 7}}
	commit(t, j, 0, domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: 1}}, acme2,
		domain.QuotaSet{Org: "beta"})
	checkQuotas(t, load(t, j), acme2, zed)
}

// testRefusedQuotas: a QuotaSet with a bad org, an unknown quota or a limit
// out of range fails the whole batch.
func testRefusedQuotas(t *testing.T, j ports.Journal) {
	stored := domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: 5}}
	commit(t, j, 0, stored)
	for name, bad := range map[string]domain.QuotaSet{
		"bad org":       {Org: "no/slash", Limits: domain.Limits{domain.QuotaLocks: 1}},
		"empty org":     {Org: "", Limits: domain.Limits{domain.QuotaLocks: 1}},
		"unknown quota": {Org: "acme", Limits: domain.Limits{"cpu": 1}},
		"negative":      {Org: "acme", Limits: domain.Limits{domain.QuotaLocks: -1}},
		"too high":      {Org: "acme", Limits: domain.Limits{domain.QuotaLocks: domain.MaxQuotaLimit + 1}},
	} {
		b := domain.Batch{Changes: []domain.Change{domain.QuotaSet{Org: "beta", Limits: domain.Limits{domain.QuotaLocks: 2}}, bad}}
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	checkQuotas(t, load(t, j), stored)
}

// testQuotaCopiesData: the journal keeps its own copy of the limits.
func testQuotaCopiesData(t *testing.T, j ports.Journal) {
	l := domain.Limits{domain.QuotaLocks: 5}
	commit(t, j, 0, domain.QuotaSet{Org: "acme", Limits: l})
	l[domain.QuotaLocks] = 6
	s := load(t, j)
	checkQuotas(t, s, domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: 5}})
	s.Quotas[0].Limits[domain.QuotaLocks] = 7
	checkQuotas(t, load(t, j), domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: 5}})
}
