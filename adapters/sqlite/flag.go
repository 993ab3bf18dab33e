package sqlite

import (
	"context"
	"fmt"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// applyFlagChange writes one FlagSaved or FlagDeleted change through q,
// inside Commit's transaction. Flag changes are rare, so each is a plain
// statement rather than a change-log entry.
func applyFlagChange(ctx context.Context, q *sqlitedb.Queries, c domain.Change) error {
	switch c := c.(type) {
	case domain.FlagSaved:
		f := c.Flag
		if err := f.Validate(); err != nil {
			return err
		}
		enabled := int64(0)
		if f.Enabled {
			enabled = 1
		}
		return q.UpsertFlag(ctx, sqlitedb.UpsertFlagParams{Org: string(f.Key.Org), Name: string(f.Key.Name),
			Enabled: enabled, Percentage: int64(f.Percentage), Description: f.Description, Version: int64(f.Version),
			UpdatedAtMs: f.UpdatedAt.UnixMilli(), UpdatedBy: f.UpdatedBy})
	case domain.FlagDeleted:
		return q.DeleteFlag(ctx, sqlitedb.DeleteFlagParams{Org: string(c.Key.Org), Name: string(c.Key.Name)})
	}
	return fmt.Errorf("unknown flag change type %T", c)
}

// loadFlags reads every flag, by org and name, and checks each as Commit
// does.
func loadFlags(ctx context.Context, q *sqlitedb.Queries) ([]domain.Flag, error) {
	rows, err := q.ListFlags(ctx)
	if err != nil {
		return nil, fmt.Errorf("read flags: %w", err)
	}
	out := make([]domain.Flag, 0, len(rows))
	for _, r := range rows {
		if r.Version < 1 || r.Enabled < 0 || r.Enabled > 1 {
			return nil, fmt.Errorf("flag %q of org %q: version %d, enabled %d", r.Name, r.Org, r.Version, r.Enabled)
		}
		f := domain.Flag{
			Key:     domain.FlagKey{Org: domain.OrgID(r.Org), Name: domain.FlagName(r.Name)},
			Enabled: r.Enabled == 1, Percentage: int(r.Percentage), Description: r.Description,
			Version: uint64(r.Version), UpdatedAt: time.UnixMilli(r.UpdatedAtMs), UpdatedBy: r.UpdatedBy,
		}
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("flag %q of org %q: %w", r.Name, r.Org, err)
		}
		out = append(out, f)
	}
	return out, nil
}
