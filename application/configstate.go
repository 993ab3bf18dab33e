package application

import (
	"sync"

	"github.com/google/btree"

	"github.com/octostore/octostore/domain"
)

// configTable is the committed config store that readers see: the newest
// record of every key per org in key order (a deletion stays as the key's
// tombstone, so that a later write goes on from its version), and each
// org's usage for its quotas. Only the writer changes it, after a commit.
// seq is the last event seq of the batch folded last, read with the
// records under one lock so that a key watch's snapshot and the events
// after it fit together.
type configTable struct {
	mu    sync.RWMutex
	orgs  map[domain.OrgID]*btree.BTreeG[*domain.ConfigEntry]
	keys  map[domain.OrgID]int // live keys
	bytes map[domain.OrgID]int // bytes of live values
	seq   uint64
}

func newConfigTable() *configTable {
	return &configTable{orgs: make(map[domain.OrgID]*btree.BTreeG[*domain.ConfigEntry]),
		keys: make(map[domain.OrgID]int), bytes: make(map[domain.OrgID]int)}
}

func lessConfig(a, b *domain.ConfigEntry) bool { return a.Key.Name < b.Key.Name }

// get returns the newest record of key (the zero entry if none).
func (t *configTable) get(key domain.LockKey) domain.ConfigEntry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.getLocked(key)
}

func (t *configTable) getLocked(key domain.LockKey) domain.ConfigEntry {
	if tree := t.orgs[key.Org]; tree != nil {
		if e, ok := tree.Get(&domain.ConfigEntry{Key: key}); ok {
			return *e
		}
	}
	return domain.ConfigEntry{}
}

// watched returns the newest record of key and the event seq it reflects.
func (t *configTable) watched(key domain.LockKey) (domain.ConfigEntry, uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.getLocked(key), t.seq
}

// usage returns org's live keys and their bytes.
func (t *configTable) usage(org domain.OrgID) (keys, bytes int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.keys[org], t.bytes[org]
}

// list returns up to limit live entries of org whose keys match p and sort
// after 'after', in key order, stopping early (after at least one) once
// their values reach maxBytes; more tells whether more may follow. Entries
// keep refuses are skipped.
func (t *configTable) list(org domain.OrgID, p domain.Prefix, after domain.LockName, limit, maxBytes int, keep func(*domain.ConfigEntry) bool) ([]domain.ConfigEntry, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	tree := t.orgs[org]
	if tree == nil {
		return nil, false
	}
	start := domain.LockName(p.Start())
	if after >= start {
		start = after
	}
	var out []domain.ConfigEntry
	more, size := false, 0
	tree.AscendGreaterOrEqual(&domain.ConfigEntry{Key: domain.LockKey{Name: start}}, func(e *domain.ConfigEntry) bool {
		if p.Exhausted(e.Key.Name) {
			return false
		}
		if e.Key.Name == after || !p.Matches(e.Key.Name) || !e.Live() || !keep(e) {
			return true
		}
		if len(out) == limit || len(out) > 0 && size+len(e.Value) > maxBytes {
			more = true
			return false
		}
		out = append(out, *e)
		size += len(e.Value)
		return true
	})
	return out, more
}

// put stores e as the newest record of its key; the caller holds mu.
func (t *configTable) put(e domain.ConfigEntry) {
	tree := t.orgs[e.Key.Org]
	if tree == nil {
		tree = btree.NewG(32, lessConfig)
		t.orgs[e.Key.Org] = tree
	}
	if old, ok := tree.ReplaceOrInsert(&e); ok && old.Live() {
		t.keys[old.Key.Org]--
		t.bytes[old.Key.Org] -= old.Size()
	}
	if e.Live() {
		t.keys[e.Key.Org]++
		t.bytes[e.Key.Org] += e.Size()
	}
}

// apply folds the committed config changes of a batch in.
func (t *configTable) apply(changes []domain.Change, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.ConfigSaved:
			t.put(c.Entry)
		case domain.ConfigDeleted:
			t.put(c.Entry)
		}
	}
	t.seq = max(t.seq, seq)
}

// restore loads the newest records of a snapshot.
func (t *configTable) restore(entries []domain.ConfigEntry, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range entries {
		t.put(e)
	}
	t.seq = max(t.seq, seq)
}

// config returns the newest record of key as this batch sees it.
func (x *txn) config(key domain.LockKey) domain.ConfigEntry {
	if e, ok := x.configs[key]; ok {
		return e
	}
	return x.e.configs.get(key)
}

// saveConfig records e, a value or a deletion, as the newest version of
// its key, with its event, keeping the configured number of versions.
func (x *txn) saveConfig(e domain.ConfigEntry) {
	old := x.config(e.Key)
	if x.configs == nil {
		x.configs = make(map[domain.LockKey]domain.ConfigEntry)
	}
	x.configs[e.Key] = e
	d := 0
	if old.Live() {
		d--
	}
	if e.Live() {
		d++
	}
	x.configKeyDelta = bump(x.configKeyDelta, e.Key.Org, d)
	x.configByteDelta = bump(x.configByteDelta, e.Key.Org, e.Size()-old.Size())
	keep := x.e.cfg.ConfigHistory
	kind := domain.EventConfigUpdated
	if e.Deleted {
		x.add(domain.ConfigDeleted{Entry: e, Keep: keep})
		kind = domain.EventConfigDeleted
	} else {
		x.add(domain.ConfigSaved{Entry: e, Keep: keep})
	}
	x.eventSeq++
	x.add(domain.EventRecorded{Event: domain.Event{
		Seq: x.eventSeq, Org: e.Key.Org, Kind: kind, Name: e.Key.Name, At: e.At, Version: e.Version, By: e.By,
	}})
}

// configUsage returns org's live config keys and bytes as this batch sees
// them.
func (x *txn) configUsage(org domain.OrgID) (keys, bytes int) {
	k, b := x.e.configs.usage(org)
	return k + x.configKeyDelta[org], b + x.configByteDelta[org]
}
