package application

import (
	"context"
	"fmt"

	"github.com/octostore/octostore/domain"
)

// ConfigService holds the config store's use cases: small JSON values under
// lock-style keys, versioned, with a kept history. Writes go through the
// writer like every durable change: a version is committed, with its event,
// the trim of the versions its key no longer keeps (by count, and by the
// org's history bytes) and any purge of a deleted key, before it is
// answered or seen. Current values are read from memory; older versions are read
// from the journal, which holds committed data only.
type ConfigService struct {
	e      *Engine
	events *EventService
}

// NewConfigService returns the config use cases backed by e; events opens
// key watches (nil: Watch is unavailable).
func NewConfigService(e *Engine, events *EventService) *ConfigService {
	return &ConfigService{e: e, events: events}
}

// The ACL actions of config keys: reading is observe, writing (and
// deleting) is acquire, on the key's name as for a lock of that name.
const (
	configObserve = domain.ActionObserve
	configAcquire = domain.ActionAcquire
)

// authorize is the one check every config read and write passes through:
// the admin token acts on no org's data, and the org's ACL rules must
// allow the caller the action on the key (an empty key: the listing, which
// filters per key). It reads the committed rules and runs before anything
// is looked up, so a denied caller learns nothing of the key. Returns
// ErrAdminNotTenant or ErrPermissionDenied.
func (s *ConfigService) authorize(p domain.Principal, key domain.LockName, action domain.Action) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	if key == "" {
		return nil
	}
	return s.e.permit(p, key, action)
}

// authorizeFence checks that the caller may observe the fence's lock: a
// fence reveals whether a token is its holder's.
func (s *ConfigService) authorizeFence(p domain.Principal, f *domain.Fence) error {
	if f == nil {
		return nil
	}
	return s.e.permit(p, f.Lock, configObserve)
}

// ConfigPut is a write of a value.
type ConfigPut struct {
	// Value is the JSON text the client sent; it is stored compact.
	Value       []byte
	Description string
	Cond        domain.ConfigWrite
}

// Put stores a new version of key in the caller's org: one above its
// newest version (a deletion included), or for a key with no record (never
// written, or purged) one above the org's version floor.
// The preconditions are decided by the writer against the newest state.
// Returns ErrAdminNotTenant, ErrPermissionDenied (no acquire on the key,
// or no observe on the fence's lock), ErrInvalidConfigValue, invalid_description, a
// *domain.ValueTooLargeError (nothing stored), a *VersionConflictError
// when Cond's version or absence does not hold, ErrFenceRejected when its
// fence does not admit the write, a *QuotaExceededError (config_keys or
// config_bytes) and ErrUnavailable when the commit failed.
func (s *ConfigService) Put(ctx context.Context, p domain.Principal, key domain.LockName, in ConfigPut) (domain.ConfigEntry, error) {
	if err := s.authorize(p, key, configAcquire); err != nil {
		return domain.ConfigEntry{}, err
	}
	if err := s.authorizeFence(p, in.Cond.Fence); err != nil {
		return domain.ConfigEntry{}, err
	}
	value, err := domain.ParseConfigValue(in.Value)
	if err != nil {
		return domain.ConfigEntry{}, err
	}
	if err := domain.CheckConfigDescription(in.Description); err != nil {
		return domain.ConfigEntry{}, err
	}
	k := domain.LockKey{Org: p.Org, Name: key}
	var out domain.ConfigEntry
	err = s.e.submitSized(ctx, len(value.Bytes()), func(x *txn) error {
		cur := x.config(k)
		if err := in.Cond.Check(cur, x.fenceLock(p.Org, in.Cond.Fence), x.now); err != nil {
			return err
		}
		keys, bytes := x.configUsage(p.Org)
		if !cur.Live() {
			if err := x.within(p.Org, domain.QuotaConfigKeys, keys); err != nil {
				return err
			}
		}
		if n := x.limit(p.Org, domain.QuotaConfigBytes); bytes-cur.Size()+len(value.Bytes()) > n {
			return &domain.QuotaExceededError{Quota: domain.QuotaConfigBytes, Limit: n}
		}
		out = domain.ConfigEntry{Key: k, Version: x.nextConfigVersion(k, cur),
			Description: in.Description, At: x.now, By: p.User}.WithValue(value)
		x.saveConfig(out)
		return nil
	})
	if err != nil {
		return domain.ConfigEntry{}, err
	}
	return out, nil
}

// Delete deletes key in the caller's org, recording the deletion as the
// key's next version. When the org then has more deleted keys than its
// config_keys limit, the one deleted longest ago is purged in the same
// commit. Returns ErrAdminNotTenant, ErrConfigNotFound for a
// key without a value, a *VersionConflictError, ErrFenceRejected and
// ErrUnavailable.
func (s *ConfigService) Delete(ctx context.Context, p domain.Principal, key domain.LockName, cond domain.ConfigWrite) (domain.ConfigEntry, error) {
	if err := s.authorize(p, key, configAcquire); err != nil {
		return domain.ConfigEntry{}, err
	}
	if err := s.authorizeFence(p, cond.Fence); err != nil {
		return domain.ConfigEntry{}, err
	}
	k := domain.LockKey{Org: p.Org, Name: key}
	return do(ctx, s.e, func(x *txn) (domain.ConfigEntry, error) {
		cur := x.config(k)
		if !cur.Live() {
			return domain.ConfigEntry{}, domain.ErrConfigNotFound
		}
		if err := cond.Check(cur, x.fenceLock(p.Org, cond.Fence), x.now); err != nil {
			return domain.ConfigEntry{}, err
		}
		e := domain.ConfigEntry{Key: k, Version: cur.Version + 1, Deleted: true, At: x.now, By: p.User}
		x.saveConfig(e)
		x.purgeTombstones(p.Org)
		return e, nil
	})
}

// fenceLock returns the fence's lock as a decision sees it (the zero Lock
// without a fence).
func (x *txn) fenceLock(org domain.OrgID, f *domain.Fence) domain.Lock {
	if f == nil {
		return domain.Lock{}
	}
	return x.lock(domain.LockKey{Org: org, Name: f.Lock})
}

// Get returns the current value of key, or with version > 0 that version
// if it is kept. Returns ErrAdminNotTenant, ErrConfigNotFound for a key
// without a value (version 0) or never written (or purged), and
// ErrConfigVersionNotFound for a version that is not kept or is a
// deletion.
func (s *ConfigService) Get(ctx context.Context, p domain.Principal, key domain.LockName, version uint64) (domain.ConfigEntry, error) {
	if err := s.authorize(p, key, configObserve); err != nil {
		return domain.ConfigEntry{}, err
	}
	k := domain.LockKey{Org: p.Org, Name: key}
	cur := s.e.configs.get(k)
	if version == 0 {
		if !cur.Live() {
			return domain.ConfigEntry{}, domain.ErrConfigNotFound
		}
		return cur, nil
	}
	if !cur.Exists() {
		return domain.ConfigEntry{}, domain.ErrConfigNotFound
	}
	if version == cur.Version && cur.Live() {
		return cur, nil
	}
	if version > cur.Version {
		// Not committed yet as far as readers know; the journal may hold
		// it a moment before memory does, but nothing is shown early.
		return domain.ConfigEntry{}, domain.ErrConfigVersionNotFound
	}
	vs, err := s.e.journal.ConfigHistory(ctx, k, version+1, 1)
	if err != nil {
		return domain.ConfigEntry{}, fmt.Errorf("read config %s version %d: %w", key, version, err)
	}
	if len(vs) == 0 || vs[0].Version != version || vs[0].Deleted {
		return domain.ConfigEntry{}, domain.ErrConfigVersionNotFound
	}
	return vs[0], nil
}

// ConfigHistoryPage is one page of a key's history, newest first.
type ConfigHistoryPage struct {
	Versions []domain.ConfigEntry
	// Next is the version to ask below for the next page; 0 at the end.
	Next uint64
}

// MaxConfigPageBytes bounds the values of one page of a listing or a
// history: a page stops early (after at least one entry) once its values
// would pass it.
const MaxConfigPageBytes = 1 << 20

// History returns up to limit kept versions of key below before (from
// the newest when before is 0), newest first, deletions included, each
// with its value. The history of a deleted key can still be read until it
// is purged. Returns ErrAdminNotTenant and ErrConfigNotFound for a key
// never written or purged (a key whose every version was trimmed cannot
// be: the newest is always kept).
func (s *ConfigService) History(ctx context.Context, p domain.Principal, key domain.LockName, before uint64, limit int) (ConfigHistoryPage, error) {
	if err := s.authorize(p, key, configObserve); err != nil {
		return ConfigHistoryPage{}, err
	}
	k := domain.LockKey{Org: p.Org, Name: key}
	cur := s.e.configs.get(k)
	if !cur.Exists() {
		return ConfigHistoryPage{}, domain.ErrConfigNotFound
	}
	// Nothing newer than what readers see is shown.
	if before == 0 || before > cur.Version {
		before = cur.Version + 1
	}
	vs, err := s.e.journal.ConfigHistory(ctx, k, before, limit+1)
	if err != nil {
		return ConfigHistoryPage{}, fmt.Errorf("read history of config %s: %w", key, err)
	}
	var page ConfigHistoryPage
	size := 0
	for i, v := range vs {
		if i == limit || i > 0 && size+len(v.Value) > MaxConfigPageBytes {
			page.Next = page.Versions[len(page.Versions)-1].Version
			break
		}
		page.Versions = append(page.Versions, v)
		size += len(v.Value)
	}
	return page, nil
}

// ConfigPage is one page of a listing.
type ConfigPage struct {
	Entries []domain.ConfigEntry
	More    bool
}

// List returns up to limit keys of the caller's org with a value whose
// keys match prefix and sort after 'after', in key order, with their
// current values; a page also stops early once its values pass
// MaxConfigPageBytes. Keys the caller may not observe are left out.
// Returns ErrAdminNotTenant.
func (s *ConfigService) List(_ context.Context, p domain.Principal, prefix domain.Prefix, after domain.LockName, limit int) (ConfigPage, error) {
	if err := s.authorize(p, "", configObserve); err != nil {
		return ConfigPage{}, err
	}
	// Keys the caller may not observe are left out; the scan goes on past
	// them.
	es, more := s.e.configs.list(p.Org, prefix, after, limit, MaxConfigPageBytes, func(e *domain.ConfigEntry) bool {
		return s.e.allows(p, e.Key.Name, configObserve)
	})
	return ConfigPage{Entries: es, More: more}, nil
}

// Watch opens a stream of the changes of key (config.updated and
// config.deleted events only) after a snapshot of its current version.
// Returns the errors of EventService.Watch.
func (s *ConfigService) Watch(ctx context.Context, p domain.Principal, key domain.LockName, auth domain.TokenHash, lastEventID *uint64) (*Watch, error) {
	if err := s.authorize(p, key, configObserve); err != nil {
		return nil, err
	}
	if s.events == nil {
		return nil, domain.ErrUnavailable
	}
	return s.events.Watch(ctx, p, WatchTarget{Name: key, Config: true, Auth: auth}, lastEventID)
}
