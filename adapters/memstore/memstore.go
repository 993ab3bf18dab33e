// Package memstore is an in-memory ports.Journal, for tests and for running
// without a database file (--store=memory). Nothing survives the process.
//
// It keeps the SQLite adapter's semantics where a caller could notice them:
// times and durations are stored at millisecond precision (times without a
// monotonic reading), a batch is all-or-nothing, the same invalid batches
// are refused, and the event seq and last-alive time never go down.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

var _ ports.Journal = (*Journal)(nil)

// Journal is an in-memory ports.Journal. It is safe for concurrent use and
// copies data in and out, so callers may reuse their slices.
type Journal struct {
	mu          sync.Mutex
	locks       map[domain.LockKey]domain.Lock
	sessions    map[domain.SessionID]domain.Session
	counter     domain.FencingToken
	events      []domain.Event // ascending Seq
	eventSeq    uint64         // highest Seq ever stored; survives trimming
	aliveMs     int64          // last-alive time in Unix ms; 0 means never
	credentials []domain.Credential
	orgs        []domain.Org    // by id
	members     []domain.Member // by org and user
	hashes      map[domain.TokenHash]struct{}
	webhooks    map[domain.WebhookID]domain.Webhook
	deliveries  map[domain.WebhookID][]domain.Delivery // per webhook, ascending Seq
	quotas      map[domain.OrgID]domain.Limits
	configs     map[domain.LockKey][]domain.ConfigEntry // kept versions, ascending
	floors      map[domain.OrgID]uint64                 // config version floors
	flags       map[domain.FlagKey]domain.Flag
	teams       map[string]domain.Team // by org and name
	acls        map[string]domain.ACL  // by org and prefix
	failNext    error
}

// New returns an empty Journal: no locks, sessions, events, credentials or
// webhooks, counter 0 and no last-alive time.
func New() *Journal {
	return &Journal{
		locks:      make(map[domain.LockKey]domain.Lock),
		sessions:   make(map[domain.SessionID]domain.Session),
		hashes:     make(map[domain.TokenHash]struct{}),
		webhooks:   make(map[domain.WebhookID]domain.Webhook),
		deliveries: make(map[domain.WebhookID][]domain.Delivery),
		quotas:     make(map[domain.OrgID]domain.Limits),
		configs:    make(map[domain.LockKey][]domain.ConfigEntry),
		floors:     make(map[domain.OrgID]uint64),
		flags:      make(map[domain.FlagKey]domain.Flag),
		teams:      make(map[string]domain.Team),
		acls:       make(map[string]domain.ACL),
	}
}

// FailNextCommit makes the next Commit return err (wrapped) and store
// nothing, to test how callers handle a failed commit. A nil err cancels a
// pending failure.
func (j *Journal) FailNextCommit(err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.failNext = err
}

// Load returns a copy of everything committed: locks sorted by org and name,
// sessions sorted by id, credentials in the order they were added, webhooks
// sorted by org, creation time and id, and delivery records sorted by
// webhook and seq, and quota overrides sorted by org. It returns ctx's
// error if ctx is done, and no other error.
func (j *Journal) Load(ctx context.Context) (domain.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return domain.Snapshot{}, fmt.Errorf("load: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	snap := domain.Snapshot{
		Locks:       make([]domain.Lock, 0, len(j.locks)),
		Sessions:    make([]domain.Session, 0, len(j.sessions)),
		Counter:     j.counter,
		EventSeq:    j.eventSeq,
		Credentials: slices.Clone(j.credentials),
	}
	if j.aliveMs != 0 {
		snap.AliveAt = time.UnixMilli(j.aliveMs)
	}
	for _, l := range j.locks {
		snap.Locks = append(snap.Locks, l)
	}
	slices.SortFunc(snap.Locks, func(a, b domain.Lock) int {
		return cmp.Or(cmp.Compare(a.Key.Org, b.Key.Org), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	for _, s := range j.sessions {
		snap.Sessions = append(snap.Sessions, s)
	}
	slices.SortFunc(snap.Sessions, func(a, b domain.Session) int { return cmp.Compare(a.ID, b.ID) })
	if snap.Credentials == nil {
		snap.Credentials = []domain.Credential{}
	}
	snap.Webhooks, snap.Deliveries = j.webhookRecords()
	snap.Orgs, snap.Members = slices.Clone(j.orgs), slices.Clone(j.members)
	if snap.Orgs == nil {
		snap.Orgs = []domain.Org{}
	}
	if snap.Members == nil {
		snap.Members = []domain.Member{}
	}
	snap.Quotas = make([]domain.QuotaSet, 0, len(j.quotas))
	for org, l := range j.quotas {
		snap.Quotas = append(snap.Quotas, domain.QuotaSet{Org: org, Limits: maps.Clone(l)})
	}
	slices.SortFunc(snap.Quotas, func(a, b domain.QuotaSet) int { return cmp.Compare(a.Org, b.Org) })
	snap.Configs = make([]domain.ConfigEntry, 0, len(j.configs))
	for _, vs := range j.configs {
		snap.Configs = append(snap.Configs, copyConfig(vs[len(vs)-1]))
	}
	slices.SortFunc(snap.Configs, func(a, b domain.ConfigEntry) int {
		return cmp.Or(cmp.Compare(a.Key.Org, b.Key.Org), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	snap.ConfigSizes = make([]domain.ConfigSizes, 0, len(snap.Configs))
	for _, e := range snap.Configs {
		vs := j.configs[e.Key]
		sz := domain.ConfigSizes{Key: e.Key, First: vs[0].Version, Sizes: make([]uint32, len(vs))}
		for i, v := range vs {
			sz.Sizes[i] = uint32(v.Size())
		}
		snap.ConfigSizes = append(snap.ConfigSizes, sz)
	}
	snap.ConfigFloors = make([]domain.ConfigFloor, 0, len(j.floors))
	for org, v := range j.floors {
		snap.ConfigFloors = append(snap.ConfigFloors, domain.ConfigFloor{Org: org, Version: v})
	}
	slices.SortFunc(snap.ConfigFloors, func(a, b domain.ConfigFloor) int { return cmp.Compare(a.Org, b.Org) })
	snap.Flags = make([]domain.Flag, 0, len(j.flags))
	for _, f := range j.flags {
		snap.Flags = append(snap.Flags, f)
	}
	slices.SortFunc(snap.Flags, func(a, b domain.Flag) int {
		return cmp.Or(cmp.Compare(a.Key.Org, b.Key.Org), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	snap.Teams = make([]domain.Team, 0, len(j.teams))
	for _, t := range j.teams {
		t.Members = slices.Clone(t.Members)
		snap.Teams = append(snap.Teams, t)
	}
	slices.SortFunc(snap.Teams, func(a, b domain.Team) int { return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.Name, b.Name)) })
	snap.ACLs = make([]domain.ACL, 0, len(j.acls))
	for _, a := range j.acls {
		a.Acquire, a.Observe = slices.Clone(a.Acquire), slices.Clone(a.Observe)
		snap.ACLs = append(snap.ACLs, a)
	}
	slices.SortFunc(snap.ACLs, func(a, b domain.ACL) int { return cmp.Or(cmp.Compare(a.Org, b.Org), cmp.Compare(a.Prefix, b.Prefix)) })
	return snap, nil
}

// webhookRecords returns copies of the webhooks, sorted by org, creation
// time and id, and of the delivery records, sorted by webhook and seq.
func (j *Journal) webhookRecords() ([]domain.Webhook, []domain.Delivery) {
	hooks := make([]domain.Webhook, 0, len(j.webhooks))
	for _, w := range j.webhooks {
		w.Events = slices.Clone(w.Events)
		hooks = append(hooks, w)
	}
	slices.SortFunc(hooks, func(a, b domain.Webhook) int {
		return cmp.Or(cmp.Compare(a.Org, b.Org), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	ids := make([]domain.WebhookID, 0, len(j.deliveries))
	n := 0
	for id, ds := range j.deliveries {
		ids = append(ids, id)
		n += len(ds)
	}
	slices.Sort(ids)
	deliveries := make([]domain.Delivery, 0, n)
	for _, id := range ids {
		deliveries = append(deliveries, j.deliveries[id]...)
	}
	return hooks, deliveries
}

// Commit applies the changes of b in order, raises the counter to
// b.Counter and the last-alive time to b.AliveAt when it is not zero (never
// lowering either). It checks the whole batch before changing anything, so
// on error nothing is stored. It refuses, with an error, a done ctx, a
// change of unknown type (including nil), an invalid lock (bad org or name,
// empty holder, lease id not embedding its token, lock delay outside
// [0, domain.MaxLockDelay], ephemeral without a "session:<id>" holder), a
// lock whose token is above the resulting counter, an invalid session
// (empty or over-long id, bad org, no owner, TTL under a millisecond), an
// event with seq 0, an empty kind, or a seq not above every event stored or
// recorded before it, a credential whose hash is already stored or added
// earlier in the batch, a webhook or delivery record that breaks its
// Validate, a webhook cursor above math.MaxInt64, a config version that
// breaks ConfigEntry.Validate, is not above the key's newest version, would
// trim itself or whose Deleted does not match its change type, a config
// purge of an invalid key or with a floor of 0, above math.MaxInt64 or
// below the key's newest version, and a batch after FailNextCommit.
//
// WebhookSaved keeps the webhook's delivery records; WebhookDeleted drops
// them; WebhookAdvanced never lowers a cursor. WebhookAdvanced and
// DeliveryRecorded for a webhook that is not stored (deleted earlier in
// the batch) do nothing. Each webhook keeps its domain.MaxDeliveryRecords
// newest delivery records.
func (j *Journal) Commit(ctx context.Context, b domain.Batch) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.failNext; err != nil {
		j.failNext = nil
		return fmt.Errorf("commit batch: %w", err)
	}
	if err := j.check(b); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	for _, c := range b.Changes {
		switch c := c.(type) {
		case domain.LockSaved:
			l := c.Lock
			l.AcquiredAt = storedTime(l.AcquiredAt)
			l.ExpiresAt = storedTime(l.ExpiresAt)
			l.LockDelay = l.LockDelay.Truncate(time.Millisecond)
			j.locks[l.Key] = l
		case domain.LockDeleted:
			delete(j.locks, c.Key)
		case domain.SessionSaved:
			s := c.Session
			s.TTL = s.TTL.Truncate(time.Millisecond)
			s.CreatedAt = storedTime(s.CreatedAt)
			s.ExpiresAt = storedTime(s.ExpiresAt)
			j.sessions[s.ID] = s
		case domain.SessionDeleted:
			delete(j.sessions, c.ID)
		case domain.CredentialAdded:
			cr := c.Credential
			if !cr.CreatedAt.IsZero() {
				cr.CreatedAt = storedTime(cr.CreatedAt)
			}
			j.credentials = append(j.credentials, cr)
			j.hashes[c.Credential.Hash] = struct{}{}
		case domain.OrgCreated:
			o := c.Org
			o.CreatedAt = storedTime(o.CreatedAt)
			i, _ := slices.BinarySearchFunc(j.orgs, o.ID, func(x domain.Org, id domain.OrgID) int { return cmp.Compare(x.ID, id) })
			j.orgs = slices.Insert(j.orgs, i, o)
		case domain.MemberSaved:
			m := c.Member
			m.AddedAt = storedTime(m.AddedAt)
			key := func(x domain.Member) string { return string(x.Org) + "\x00" + x.User }
			i, found := slices.BinarySearchFunc(j.members, key(m), func(x domain.Member, k string) int { return cmp.Compare(key(x), k) })
			if found {
				j.members[i].Role = m.Role
			} else {
				j.members = slices.Insert(j.members, i, m)
			}
		case domain.CredentialRevoked:
			j.credentials = slices.DeleteFunc(j.credentials, func(x domain.Credential) bool { return x.Hash == c.Hash })
			delete(j.hashes, c.Hash)
		case domain.EventRecorded:
			e := c.Event
			e.At = storedTime(e.At)
			j.events = append(j.events, e)
			j.eventSeq = e.Seq
		case domain.EventsTrimmed:
			// Never "found": n is the index of the first event above Through.
			n, _ := slices.BinarySearchFunc(j.events, c.Through, func(e domain.Event, through uint64) int {
				if e.Seq <= through {
					return -1
				}
				return 1
			})
			j.events = slices.Delete(j.events, 0, n)
		case domain.WebhookSaved:
			w := c.Webhook
			w.Events = slices.Clone(w.Events)
			w.CreatedAt = storedTime(w.CreatedAt)
			j.webhooks[w.ID] = w
		case domain.WebhookDeleted:
			delete(j.webhooks, c.ID)
			delete(j.deliveries, c.ID)
		case domain.WebhookAdvanced:
			// The webhook may have been deleted earlier in the batch.
			if w, ok := j.webhooks[c.ID]; ok {
				w.Cursor = max(w.Cursor, c.Cursor)
				j.webhooks[c.ID] = w
			}
		case domain.DeliveryRecorded:
			j.recordDelivery(c.Delivery)
		case domain.FlagSaved:
			f := c.Flag
			f.UpdatedAt = storedTime(f.UpdatedAt)
			j.flags[f.Key] = f
		case domain.FlagDeleted:
			delete(j.flags, c.Key)
		case domain.TeamSaved:
			t := c.Team
			t.Members = slices.Clone(t.Members)
			t.UpdatedAt = storedTime(t.UpdatedAt)
			j.teams[string(t.Org)+"\x00"+t.Name] = t
		case domain.TeamDeleted:
			delete(j.teams, string(c.Org)+"\x00"+c.Name)
		case domain.ACLSaved:
			a := c.ACL
			a.Acquire, a.Observe = slices.Clone(a.Acquire), slices.Clone(a.Observe)
			a.UpdatedAt = storedTime(a.UpdatedAt)
			j.acls[string(a.Org)+"\x00"+string(a.Prefix)] = a
		case domain.ACLDeleted:
			delete(j.acls, string(c.Org)+"\x00"+string(c.Prefix))
		case domain.QuotaSet:
			if len(c.Limits) == 0 {
				delete(j.quotas, c.Org)
			} else {
				j.quotas[c.Org] = maps.Clone(c.Limits)
			}
		case domain.ConfigSaved:
			j.storeConfig(c.Entry, c.TrimThrough)
		case domain.ConfigDeleted:
			j.storeConfig(c.Entry, c.TrimThrough)
		case domain.ConfigPurged:
			delete(j.configs, c.Key)
			j.floors[c.Key.Org] = max(j.floors[c.Key.Org], c.Floor)
		}
	}
	j.counter = max(j.counter, b.Counter)
	if !b.AliveAt.IsZero() {
		j.aliveMs = max(j.aliveMs, b.AliveAt.UnixMilli())
	}
	return nil
}

// recordDelivery creates or replaces the record of d and drops the oldest
// records of its webhook beyond domain.MaxDeliveryRecords. A record for a
// webhook that is not stored (deleted earlier in the batch) is dropped.
func (j *Journal) recordDelivery(d domain.Delivery) {
	if _, ok := j.webhooks[d.Webhook]; !ok {
		return
	}
	d.NextAt = storedTime(d.NextAt)
	d.UpdatedAt = storedTime(d.UpdatedAt)
	ds := j.deliveries[d.Webhook]
	i, found := slices.BinarySearchFunc(ds, d.Seq, func(e domain.Delivery, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	if found {
		ds[i] = d
	} else {
		ds = slices.Insert(ds, i, d)
	}
	if extra := len(ds) - domain.MaxDeliveryRecords; extra > 0 {
		ds = slices.Delete(ds, 0, extra)
	}
	j.deliveries[d.Webhook] = ds
}

// check validates b against the stored state without changing it.
func (j *Journal) check(b domain.Batch) error {
	counter := max(j.counter, b.Counter)
	if counter > math.MaxInt64 {
		return fmt.Errorf("counter %d is out of range", counter)
	}
	var added map[domain.TokenHash]struct{}
	lastSeq := j.eventSeq
	// configTop is the newest version of each config key added earlier
	// in the batch.
	configTop := make(map[domain.LockKey]uint64)
	for i, c := range b.Changes {
		var err error
		switch c := c.(type) {
		case domain.LockSaved:
			err = checkLock(c.Lock, counter)
		case domain.LockDeleted, domain.SessionDeleted, domain.EventsTrimmed, domain.WebhookDeleted, domain.CredentialRevoked,
			domain.TeamDeleted, domain.ACLDeleted:
		case domain.TeamSaved:
			err = c.Team.Validate()
		case domain.ACLSaved:
			err = c.ACL.Validate()
		case domain.OrgCreated:
			if _, err = domain.ParseOrgID(string(c.Org.ID)); err == nil {
				_, dup := slices.BinarySearchFunc(j.orgs, c.Org.ID, func(x domain.Org, id domain.OrgID) int { return cmp.Compare(x.ID, id) })
				if dup {
					err = fmt.Errorf("org %s is stored already", c.Org.ID)
				}
			}
		case domain.MemberSaved:
			if _, err = domain.ParsePrincipal(string(c.Member.Org), c.Member.User); err == nil && c.Member.Role != domain.RoleMember && c.Member.Role != domain.RoleOwner {
				err = fmt.Errorf("member role %q", c.Member.Role)
			}
		case domain.SessionSaved:
			err = checkSession(c.Session)
		case domain.EventRecorded:
			if err = c.Event.Follows(lastSeq); err == nil {
				lastSeq = c.Event.Seq
			}
		case domain.CredentialAdded:
			err = c.Credential.Validate()
			h := c.Credential.Hash
			if _, dup := j.hashes[h]; dup {
				err = errors.New("credential hash is already stored")
			} else if _, dup := added[h]; dup {
				err = errors.New("credential hash is added twice")
			}
			if added == nil {
				added = make(map[domain.TokenHash]struct{})
			}
			added[h] = struct{}{}
		case domain.WebhookSaved:
			err = c.Webhook.Validate()
		case domain.WebhookAdvanced:
			if c.Cursor > math.MaxInt64 {
				err = fmt.Errorf("webhook %s cursor %d is out of range", c.ID, c.Cursor)
			}
		case domain.DeliveryRecorded:
			err = c.Delivery.Validate()
		case domain.QuotaSet:
			err = c.Validate()
		case domain.ConfigSaved:
			if c.Entry.Deleted {
				err = fmt.Errorf("config %s: a saved value marked deleted", c.Entry.Key.Name)
			} else {
				err = j.checkConfig(configTop, c.Entry, c.TrimThrough)
			}
		case domain.ConfigDeleted:
			if !c.Entry.Deleted {
				err = fmt.Errorf("config %s: a deletion not marked deleted", c.Entry.Key.Name)
			} else {
				err = j.checkConfig(configTop, c.Entry, c.TrimThrough)
			}
		case domain.ConfigPurged:
			err = j.checkPurge(configTop, c)
		case domain.FlagSaved:
			err = c.Flag.Validate()
		case domain.FlagDeleted:
		default:
			err = fmt.Errorf("unknown change type %T", c)
		}
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
	}
	return nil
}

// checkLock adds to Lock.Validate what needs the batch: the token is not
// above the fencing counter.
func checkLock(l domain.Lock, counter domain.FencingToken) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if counter < l.Token {
		return fmt.Errorf("lock token %d is above the fencing counter %d", l.Token, counter)
	}
	return nil
}

// checkSession adds to Session.Validate SQLite's millisecond precision: a
// TTL under a millisecond would be stored as zero.
func checkSession(s domain.Session) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.TTL < time.Millisecond {
		return fmt.Errorf("session ttl %v is under a millisecond", s.TTL)
	}
	return nil
}

// storedTime drops what SQLite does not keep: sub-millisecond precision and
// the monotonic reading.
func storedTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }

// Ping returns ctx's error if ctx is done, and nil otherwise.
func (j *Journal) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	return nil
}

// Events returns up to limit stored events with a seq above after, in seq
// order. It returns ctx's error if ctx is done, and no other error.
func (j *Journal) Events(ctx context.Context, after uint64, limit int) ([]domain.Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	if after == math.MaxUint64 { // no seq is above it, and after+1 would wrap
		return nil, nil
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	i, _ := slices.BinarySearchFunc(j.events, after+1, func(e domain.Event, seq uint64) int { return cmp.Compare(e.Seq, seq) })
	end := min(len(j.events), i+max(limit, 0))
	return slices.Clone(j.events[i:end]), nil
}

// checkConfig validates a config version against the newest version of its
// key, stored or in top (added or purged earlier in the batch), and
// records it in top.
func (j *Journal) checkConfig(top map[domain.LockKey]uint64, e domain.ConfigEntry, trimThrough uint64) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if trimThrough >= e.Version {
		return fmt.Errorf("config %s: trim through %d would drop version %d", e.Key.Name, trimThrough, e.Version)
	}
	newest := j.newestConfig(top, e.Key)
	if e.Version <= newest {
		return fmt.Errorf("config %s version %d is not above the stored %d", e.Key.Name, e.Version, newest)
	}
	top[e.Key] = e.Version
	return nil
}

// checkPurge validates a purge as SQLite does and records in top that the
// key has no version left.
func (j *Journal) checkPurge(top map[domain.LockKey]uint64, c domain.ConfigPurged) error {
	if err := c.Validate(); err != nil {
		return fmt.Errorf("purge config: %w", err)
	}
	if newest := j.newestConfig(top, c.Key); c.Floor < newest {
		return fmt.Errorf("purge config %s: floor %d is below its version %d", c.Key.Name, c.Floor, newest)
	}
	top[c.Key] = 0
	return nil
}

// newestConfig is the newest version of key, as top (the batch so far) or
// the stored versions have it; 0 if none.
func (j *Journal) newestConfig(top map[domain.LockKey]uint64, key domain.LockKey) uint64 {
	if v, ok := top[key]; ok {
		return v
	}
	if vs := j.configs[key]; len(vs) > 0 {
		return vs[len(vs)-1].Version
	}
	return 0
}

// storeConfig adds a checked config version and drops the key's versions
// up to trimThrough.
func (j *Journal) storeConfig(e domain.ConfigEntry, trimThrough uint64) {
	e = copyConfig(e)
	e.At = storedTime(e.At)
	vs := append(j.configs[e.Key], e)
	if trimThrough > 0 {
		vs = slices.DeleteFunc(vs, func(x domain.ConfigEntry) bool { return x.Version <= trimThrough })
	}
	j.configs[e.Key] = vs
}

// copyConfig returns e with its own copy of the value.
func copyConfig(e domain.ConfigEntry) domain.ConfigEntry {
	if e.Value != nil {
		e.Value = slices.Clone(e.Value)
	}
	return e
}

// ConfigHistory returns up to limit kept versions of key below before
// (all when before is 0), newest first. It returns ctx's error if ctx is
// done, and no other error.
func (j *Journal) ConfigHistory(ctx context.Context, key domain.LockKey, before uint64, limit int) ([]domain.ConfigEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("read config history: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	vs := j.configs[key]
	var out []domain.ConfigEntry
	for i := len(vs) - 1; i >= 0 && len(out) < limit; i-- {
		if before == 0 || vs[i].Version < before {
			out = append(out, copyConfig(vs[i]))
		}
	}
	return out, nil
}
