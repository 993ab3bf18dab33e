package sqlite

import (
	"context"
	"fmt"
	"slices"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// applyQuotaSet replaces the stored overrides of one org, inside Commit's
// transaction. Quota changes are rare, so they are plain statements.
func applyQuotaSet(ctx context.Context, q *sqlitedb.Queries, s domain.QuotaSet) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := q.DeleteOrgQuotas(ctx, string(s.Org)); err != nil {
		return fmt.Errorf("delete quotas of org %s: %w", s.Org, err)
	}
	// Sorted, so that the statements do not depend on map order.
	quotas := make([]domain.Quota, 0, len(s.Limits))
	for k := range s.Limits {
		quotas = append(quotas, k)
	}
	slices.Sort(quotas)
	for _, k := range quotas {
		if err := q.InsertQuota(ctx, sqlitedb.InsertQuotaParams{Org: string(s.Org), Quota: string(k),
			QuotaLimit: int64(s.Limits[k])}); err != nil {
			return fmt.Errorf("store quota %s of org %s: %w", k, s.Org, err)
		}
	}
	return nil
}

// loadQuotas reads the stored overrides, one QuotaSet per org in org
// order, each checked with QuotaSet.Validate.
func loadQuotas(ctx context.Context, q *sqlitedb.Queries) ([]domain.QuotaSet, error) {
	rows, err := q.ListQuotas(ctx)
	if err != nil {
		return nil, fmt.Errorf("read quotas: %w", err)
	}
	out := []domain.QuotaSet{}
	for _, r := range rows {
		if r.QuotaLimit < 0 || r.QuotaLimit > domain.MaxQuotaLimit {
			return nil, fmt.Errorf("quota %s of org %q: limit %d is out of range", r.Quota, r.Org, r.QuotaLimit)
		}
		if n := len(out); n == 0 || out[n-1].Org != domain.OrgID(r.Org) {
			out = append(out, domain.QuotaSet{Org: domain.OrgID(r.Org), Limits: domain.Limits{}})
		}
		out[len(out)-1].Limits[domain.Quota(r.Quota)] = int(r.QuotaLimit)
	}
	for _, s := range out {
		if err := s.Validate(); err != nil {
			return nil, fmt.Errorf("quotas of org %q: %w", s.Org, err)
		}
	}
	return out, nil
}
