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
// Commit's transaction and drops the key's versions up to trimThrough (0:
// none). Each is one insert of the value as it is (no re-encoding), so a
// large value costs its bytes once.
func applyConfig(ctx context.Context, q *sqlitedb.Queries, e domain.ConfigEntry, trimThrough uint64) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if trimThrough >= e.Version {
		return fmt.Errorf("config %s: trim through %d would drop version %d", e.Key.Name, trimThrough, e.Version)
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
	if trimThrough > 0 {
		if err := q.TrimConfigVersions(ctx, sqlitedb.TrimConfigVersionsParams{Org: org, Name: name, Through: int64(trimThrough)}); err != nil {
			return fmt.Errorf("trim config %s: %w", name, err)
		}
	}
	return nil
}

// applyConfigPurge drops every version of a key and raises its org's
// floor, refusing a floor below the key's newest version.
func applyConfigPurge(ctx context.Context, q *sqlitedb.Queries, c domain.ConfigPurged) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("purge config: %w", err)
	}
	org, name := string(c.Key.Org), string(c.Key.Name)
	newest, err := q.NewestConfigVersion(ctx, sqlitedb.NewestConfigVersionParams{Org: org, Name: name})
	if err != nil {
		return fmt.Errorf("read config %s: %w", name, err)
	}
	if int64(c.Floor) < newest {
		return fmt.Errorf("purge config %s: floor %d is below its version %d", name, c.Floor, newest)
	}
	if err := q.PurgeConfigKey(ctx, sqlitedb.PurgeConfigKeyParams{Org: org, Name: name}); err != nil {
		return fmt.Errorf("purge config %s: %w", name, err)
	}
	if err := q.RaiseConfigFloor(ctx, sqlitedb.RaiseConfigFloorParams{Org: org, Version: int64(c.Floor)}); err != nil {
		return fmt.Errorf("raise the config floor of %s: %w", org, err)
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

// loadConfigSizes reads the size of every kept config version, grouped per
// key; a key whose versions are not contiguous is refused.
func loadConfigSizes(ctx context.Context, q *sqlitedb.Queries) ([]domain.ConfigSizes, error) {
	rows, err := q.ConfigVersionSizes(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config sizes: %w", err)
	}
	out := []domain.ConfigSizes{}
	for _, r := range rows {
		key := domain.LockKey{Org: domain.OrgID(r.Org), Name: domain.LockName(r.Name)}
		if r.Version <= 0 || r.Size < 0 || r.Size > domain.MaxConfigValueBytes {
			return nil, fmt.Errorf("stored config %q of org %q: version %d of %d bytes", r.Name, r.Org, r.Version, r.Size)
		}
		if n := len(out); n > 0 && out[n-1].Key == key {
			last := &out[n-1]
			if want := last.First + uint64(len(last.Sizes)); uint64(r.Version) != want {
				return nil, fmt.Errorf("stored config %q of org %q: version %d follows %d", r.Name, r.Org, r.Version, want-1)
			}
			last.Sizes = append(last.Sizes, uint32(r.Size))
			continue
		}
		out = append(out, domain.ConfigSizes{Key: key, First: uint64(r.Version), Sizes: []uint32{uint32(r.Size)}})
	}
	return out, nil
}

// loadConfigFloors reads the orgs' config version floors.
func loadConfigFloors(ctx context.Context, q *sqlitedb.Queries) ([]domain.ConfigFloor, error) {
	rows, err := q.ConfigFloors(ctx)
	if err != nil {
		return nil, fmt.Errorf("read config floors: %w", err)
	}
	out := make([]domain.ConfigFloor, 0, len(rows))
	for _, r := range rows {
		if _, err := domain.ParseOrgID(r.Org); err != nil || r.Version <= 0 {
			return nil, fmt.Errorf("stored config floor %d of org %q is invalid", r.Version, r.Org)
		}
		out = append(out, domain.ConfigFloor{Org: domain.OrgID(r.Org), Version: uint64(r.Version)})
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
