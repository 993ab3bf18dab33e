package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// applyConfig stores one config version (a value or a deletion) inside
// Commit's transaction and trims the key's versions beyond keep. Each is
// one insert of the value as it is (no re-encoding), so a large value
// costs its bytes once.
func applyConfig(ctx context.Context, q *sqlitedb.Queries, e domain.ConfigEntry, keep int) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if keep < 1 {
		return fmt.Errorf("config %s: keep %d is below 1", e.Key.Name, keep)
	}
	org, name := string(e.Key.Org), string(e.Key.Name)
	newest, err := q.NewestConfigVersion(ctx, sqlitedb.NewestConfigVersionParams{Org: org, Name: name})
	if err != nil {
		return fmt.Errorf("read config %s: %w", name, err)
	}
	if int64(e.Version) <= newest {
		return fmt.Errorf("config %s version %d is not above the stored %d", name, e.Version, newest)
	}
	row := sqlitedb.InsertConfigVersionParams{Org: org, Name: name, Version: int64(e.Version),
		Description: e.Description, UpdatedAtMs: e.At.UnixMilli(), UpdatedBy: e.By}
	if e.Deleted {
		row.Deleted = 1
	} else {
		v := string(e.Value)
		row.Value = &v
	}
	if err := q.InsertConfigVersion(ctx, row); err != nil {
		return fmt.Errorf("store config %s version %d: %w", name, e.Version, err)
	}
	if through := int64(e.Version) - int64(keep); through > 0 {
		if err := q.TrimConfigVersions(ctx, sqlitedb.TrimConfigVersionsParams{Org: org, Name: name, Through: through}); err != nil {
			return fmt.Errorf("trim config %s: %w", name, err)
		}
	}
	return nil
}

// configEntry converts a row back, checking it with Validate.
func configEntry(r sqlitedb.ConfigVersion) (domain.ConfigEntry, error) {
	e := domain.ConfigEntry{
		Key:     domain.LockKey{Org: domain.OrgID(r.Org), Name: domain.LockName(r.Name)},
		Version: uint64(max(r.Version, 0)), Description: r.Description, Deleted: r.Deleted == 1,
		At: time.UnixMilli(r.UpdatedAtMs), By: r.UpdatedBy,
	}
	if r.Value != nil {
		e.Value = []byte(*r.Value)
	}
	if err := e.Validate(); err != nil {
		return domain.ConfigEntry{}, fmt.Errorf("stored config %q of org %q: %w", r.Name, r.Org, err)
	}
	return e, nil
}

// loadConfigs reads the newest version of every config key.
func loadConfigs(ctx context.Context, q *sqlitedb.Queries) ([]domain.ConfigEntry, error) {
	rows, err := q.CurrentConfigs(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	out := make([]domain.ConfigEntry, 0, len(rows))
	for _, r := range rows {
		e, err := configEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// ConfigHistory reads up to limit versions of key below before (all when
// before is 0), newest first, on the Reader: committed data only.
func (j *Journal) ConfigHistory(ctx context.Context, key domain.LockKey, before uint64, limit int) ([]domain.ConfigEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	if before == 0 || before > math.MaxInt64 {
		before = math.MaxInt64
	}
	rows, err := sqlitedb.New(j.db.Reader).ConfigHistory(ctx, sqlitedb.ConfigHistoryParams{
		Org: string(key.Org), Name: string(key.Name), Before: int64(before), MaxRows: int64(limit)})
	if err != nil && err != sql.ErrNoRows {
		return nil, fmt.Errorf("read history of config %s: %w", key.Name, err)
	}
	out := make([]domain.ConfigEntry, 0, len(rows))
	for _, r := range rows {
		e, err := configEntry(r)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}
