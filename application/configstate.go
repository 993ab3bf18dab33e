package application

import (
	"cmp"
	"fmt"
	"sync"

	"github.com/google/btree"

	"github.com/octostore/octostore/domain"
)

// configTable is the committed config store that readers see: the newest
// record of every key per org in key order (a deletion stays as the key's
// tombstone, so that a later write goes on from its version, until it is
// purged), and each org's usage for its quotas. Only the writer changes
// it, after a commit.
//
// For the writer's bounds it also keeps, per key, the sizes of its kept
// versions below the newest (so trims are decided without reading the
// journal), and per org the bytes of those versions (its history, bounded
// by its config_bytes limit), its tombstones in deletion order (bounded by
// its config_keys limit) and its version floor (the highest version of a
// purged key; a key without a record starts above it).
//
// seq is the last event seq of the batch folded last, read with the
// records under one lock so that a key watch's snapshot and the events
// after it fit together.
type configTable struct {
	mu     sync.RWMutex
	orgs   map[domain.OrgID]*btree.BTreeG[*configRecord]
	keys   map[domain.OrgID]int // live keys
	bytes  map[domain.OrgID]int // bytes of live values
	hist   map[domain.OrgID]int // bytes of kept versions below the newest
	tombs  map[domain.OrgID]*btree.BTreeG[tombstone]
	floors map[domain.OrgID]uint64
	seq    uint64
}

// configRecord is the newest record of a key and the sizes of its kept
// older versions: hist[i] is the value size of version
// entry.Version-len(hist)+i (0 for a deletion). Kept versions are
// contiguous because trims drop the oldest. hist is only read and changed
// by the writer.
type configRecord struct {
	entry domain.ConfigEntry
	hist  []uint32
}

// tombstone orders an org's deleted keys by deletion time (in stored
// milliseconds, so the order survives a restart), then key.
type tombstone struct {
	atMs int64
	name domain.LockName
}

func lessTombstone(a, b tombstone) bool {
	return cmp.Or(cmp.Compare(a.atMs, b.atMs), cmp.Compare(a.name, b.name)) < 0
}

func tombstoneOf(e domain.ConfigEntry) tombstone {
	return tombstone{atMs: e.At.UnixMilli(), name: e.Key.Name}
}

func newConfigTable() *configTable {
	return &configTable{orgs: make(map[domain.OrgID]*btree.BTreeG[*configRecord]),
		keys: make(map[domain.OrgID]int), bytes: make(map[domain.OrgID]int), hist: make(map[domain.OrgID]int),
		tombs: make(map[domain.OrgID]*btree.BTreeG[tombstone]), floors: make(map[domain.OrgID]uint64)}
}

func lessConfig(a, b *configRecord) bool { return a.entry.Key.Name < b.entry.Key.Name }

// get returns the newest record of key (the zero entry if none).
func (t *configTable) get(key domain.LockKey) domain.ConfigEntry {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.getLocked(key)
}

func (t *configTable) getLocked(key domain.LockKey) domain.ConfigEntry {
	if r := t.recordLocked(key); r != nil {
		return r.entry
	}
	return domain.ConfigEntry{}
}

func (t *configTable) recordLocked(key domain.LockKey) *configRecord {
	if tree := t.orgs[key.Org]; tree != nil {
		if r, ok := tree.Get(&configRecord{entry: domain.ConfigEntry{Key: key}}); ok {
			return r
		}
	}
	return nil
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

// bounds returns what the writer's bounds need of org: the bytes of its
// history, its number of tombstones and its version floor.
func (t *configTable) bounds(org domain.OrgID) (hist, tombs int, floor uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if tree := t.tombs[org]; tree != nil {
		tombs = tree.Len()
	}
	return t.hist[org], tombs, t.floors[org]
}

// history returns the sizes of key's kept versions below its newest. The
// slice is the table's: the writer reads it and never changes it.
func (t *configTable) history(key domain.LockKey) []uint32 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if r := t.recordLocked(key); r != nil {
		return r.hist
	}
	return nil
}

// eachTombstone calls fn with org's tombstones, deleted longest ago first,
// until fn returns false.
func (t *configTable) eachTombstone(org domain.OrgID, fn func(tombstone) bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if tree := t.tombs[org]; tree != nil {
		tree.Ascend(fn)
	}
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
	tree.AscendGreaterOrEqual(&configRecord{entry: domain.ConfigEntry{Key: domain.LockKey{Name: start}}}, func(r *configRecord) bool {
		e := &r.entry
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

// put stores e as the newest record of its key, moving the record it
// replaces into the key's history and dropping the versions up to
// trimThrough; the caller holds mu.
func (t *configTable) put(e domain.ConfigEntry, trimThrough uint64) {
	org := e.Key.Org
	tree := t.orgs[org]
	if tree == nil {
		tree = btree.NewG(32, lessConfig)
		t.orgs[org] = tree
	}
	var hist []uint32
	if old, ok := tree.Get(&configRecord{entry: e}); ok {
		t.unindex(old.entry)
		hist = append(old.hist, uint32(old.entry.Size()))
		t.hist[org] += old.entry.Size()
	}
	if first := e.Version - uint64(len(hist)); trimThrough >= first {
		n := min(int(trimThrough-first+1), len(hist))
		t.hist[org] -= sumSizes(hist[:n])
		hist = hist[n:]
	}
	if len(hist) == 0 {
		hist = nil // lets go of the array
	}
	tree.ReplaceOrInsert(&configRecord{entry: e, hist: hist})
	if e.Live() {
		t.keys[org]++
		t.bytes[org] += e.Size()
	} else {
		tombs := t.tombs[org]
		if tombs == nil {
			tombs = btree.NewG(16, lessTombstone)
			t.tombs[org] = tombs
		}
		tombs.ReplaceOrInsert(tombstoneOf(e))
	}
}

// unindex takes e, a record being replaced or purged, out of its org's
// counts and tombstones; the caller holds mu.
func (t *configTable) unindex(e domain.ConfigEntry) {
	if e.Live() {
		t.keys[e.Key.Org]--
		t.bytes[e.Key.Org] -= e.Size()
	} else if tombs := t.tombs[e.Key.Org]; tombs != nil {
		tombs.Delete(tombstoneOf(e))
	}
}

// purge forgets key with its history and raises its org's floor; the
// caller holds mu.
func (t *configTable) purge(key domain.LockKey, floor uint64) {
	if tree := t.orgs[key.Org]; tree != nil {
		if r, ok := tree.Delete(&configRecord{entry: domain.ConfigEntry{Key: key}}); ok {
			t.unindex(r.entry)
			t.hist[key.Org] -= sumSizes(r.hist)
		}
	}
	t.floors[key.Org] = max(t.floors[key.Org], floor)
}

func sumSizes(s []uint32) int {
	n := 0
	for _, v := range s {
		n += int(v)
	}
	return n
}

// apply folds the committed config changes of a batch in.
func (t *configTable) apply(changes []domain.Change, seq uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.ConfigSaved:
			t.put(c.Entry, c.TrimThrough)
		case domain.ConfigDeleted:
			t.put(c.Entry, c.TrimThrough)
		case domain.ConfigPurged:
			t.purge(c.Key, c.Floor)
		}
	}
	t.seq = max(t.seq, seq)
}

// restore loads the newest records of a snapshot with the sizes of their
// kept versions and the orgs' floors. Returns an error when the sizes do
// not match the records.
func (t *configTable) restore(snap domain.Snapshot) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range snap.Configs {
		t.put(e, 0)
	}
	for _, s := range snap.ConfigSizes {
		r := t.recordLocked(s.Key)
		if r == nil || len(s.Sizes) == 0 || s.First+uint64(len(s.Sizes))-1 != r.entry.Version {
			return fmt.Errorf("config %s of org %s: stored sizes do not match its newest version", s.Key.Name, s.Key.Org)
		}
		if n := len(s.Sizes) - 1; n > 0 {
			r.hist = s.Sizes[:n:n]
			t.hist[s.Key.Org] += sumSizes(r.hist)
		}
	}
	for _, f := range snap.ConfigFloors {
		t.floors[f.Org] = max(t.floors[f.Org], f.Version)
	}
	t.seq = max(t.seq, snap.EventSeq)
	return nil
}

// config returns the newest record of key as this batch sees it (the zero
// entry for a key purged in this batch).
func (x *txn) config(key domain.LockKey) domain.ConfigEntry {
	if e, ok := x.configs[key]; ok {
		return e
	}
	return x.e.configs.get(key)
}

// histView is a key's kept history sizes as a batch sees them, without a
// copy of the committed ones: base[from:] (the table's slice, never
// changed here), then tail (sizes the batch moved in).
type histView struct {
	base []uint32
	from int
	tail []uint32
}

func (h histView) len() int { return len(h.base) - h.from + len(h.tail) }

// dropOldest drops the oldest size and returns it; h is not empty.
func (h *histView) dropOldest() int {
	if h.from < len(h.base) {
		h.from++
		return int(h.base[h.from-1])
	}
	s := h.tail[0]
	h.tail = h.tail[1:]
	return int(s)
}

func (h histView) sum() int { return sumSizes(h.base[h.from:]) + sumSizes(h.tail) }

// configHistory returns the sizes of key's kept versions below its newest
// as this batch sees them.
func (x *txn) configHistory(key domain.LockKey) histView {
	if h, ok := x.configHist[key]; ok {
		return h
	}
	return histView{base: x.e.configs.history(key)}
}

// configBounds returns org's history bytes, tombstones and version floor
// as this batch sees them.
func (x *txn) configBounds(org domain.OrgID) (hist, tombs int, floor uint64) {
	hist, tombs, floor = x.e.configs.bounds(org)
	if f, ok := x.configFloors[org]; ok {
		floor = f
	}
	return hist + x.configHistDelta[org], tombs + x.configTombDelta[org], floor
}

// nextConfigVersion is the version a write of key gets after cur, the
// key's newest record: one above it, or one above the org's floor for a
// key without a record (1 in an org that never purged a key), so that a
// purged key never reuses a version.
func (x *txn) nextConfigVersion(key domain.LockKey, cur domain.ConfigEntry) uint64 {
	if cur.Exists() {
		return cur.Version + 1
	}
	_, _, floor := x.configBounds(key.Org)
	return floor + 1
}

// saveConfig records e, a value or a deletion, as the newest version of
// its key, with its event. The record it replaces joins the key's
// history; then the key's oldest kept versions are trimmed, never e: those
// beyond config.history versions of the key, then as many more as the
// org's history needs to fit in its config_bytes limit again (the value
// just moved in is among them, so this suffices unless the limit was
// lowered; then the key keeps no history and later writes of other keys
// trim theirs).
func (x *txn) saveConfig(e domain.ConfigEntry) {
	org := e.Key.Org
	old := x.config(e.Key)
	if x.configs == nil {
		x.configs = make(map[domain.LockKey]domain.ConfigEntry)
		x.configHist = make(map[domain.LockKey]histView)
	}
	x.configs[e.Key] = e
	d, tombs := 0, 0
	if old.Live() {
		d--
	} else if old.Exists() {
		tombs--
	}
	if e.Live() {
		d++
	} else {
		tombs++
	}
	x.configKeyDelta = bump(x.configKeyDelta, org, d)
	x.configByteDelta = bump(x.configByteDelta, org, e.Size()-old.Size())
	x.configTombDelta = bump(x.configTombDelta, org, tombs)

	// The trim costs O(1) per version dropped: no copy of the history.
	hist := x.configHistory(e.Key)
	if old.Exists() {
		hist.tail = append(hist.tail, uint32(old.Size()))
	}
	n := hist.len()
	used, _, _ := x.configBounds(org)
	used += old.Size()
	dropped := 0
	for hist.len() > x.e.cfg.ConfigHistory-1 {
		dropped += hist.dropOldest()
	}
	for budget := x.limit(org, domain.QuotaConfigBytes); used-dropped > budget && hist.len() > 0; {
		dropped += hist.dropOldest()
	}
	var through uint64
	if drop := n - hist.len(); drop > 0 {
		through = e.Version - uint64(n) + uint64(drop) - 1
	}
	x.configHist[e.Key] = hist
	x.configHistDelta = bump(x.configHistDelta, org, old.Size()-dropped)

	kind := domain.EventConfigUpdated
	if e.Deleted {
		x.add(domain.ConfigDeleted{Entry: e, TrimThrough: through})
		kind = domain.EventConfigDeleted
	} else {
		x.add(domain.ConfigSaved{Entry: e, TrimThrough: through})
	}
	x.eventSeq++
	x.add(domain.EventRecorded{Event: domain.Event{
		Seq: x.eventSeq, Org: e.Key.Org, Kind: kind, Name: e.Key.Name, At: e.At, Version: e.Version, By: e.By,
	}})
}

// purgeTombstones purges org's tombstones deleted longest ago while it has
// more than its config_keys limit.
func (x *txn) purgeTombstones(org domain.OrgID) {
	limit := x.limit(org, domain.QuotaConfigKeys)
	for {
		_, tombs, _ := x.configBounds(org)
		if tombs <= limit {
			return
		}
		key, ok := x.oldestTombstone(org)
		if !ok {
			return // cannot happen: the count says there is one
		}
		x.purgeConfig(key)
	}
}

// oldestTombstone returns org's tombstone deleted longest ago (by deletion
// time, then key) as this batch sees them: committed ones whose key this
// batch did not touch, and deletions of this batch.
func (x *txn) oldestTombstone(org domain.OrgID) (domain.LockKey, bool) {
	var best tombstone
	found := false
	for k, e := range x.configs {
		if k.Org == org && e.Exists() && e.Deleted {
			if s := tombstoneOf(e); !found || lessTombstone(s, best) {
				best, found = s, true
			}
		}
	}
	x.e.configs.eachTombstone(org, func(s tombstone) bool {
		if _, touched := x.configs[domain.LockKey{Org: org, Name: s.name}]; touched {
			return true
		}
		if !found || lessTombstone(s, best) {
			best, found = s, true
		}
		return false
	})
	return domain.LockKey{Org: org, Name: best.name}, found
}

// purgeConfig forgets key, a tombstone, in this batch: its record and
// history go, and the org's floor rises to at least its version.
func (x *txn) purgeConfig(key domain.LockKey) {
	cur := x.config(key)
	_, _, floor := x.configBounds(key.Org)
	floor = max(floor, cur.Version)
	x.configHistDelta = bump(x.configHistDelta, key.Org, -x.configHistory(key).sum())
	x.configTombDelta = bump(x.configTombDelta, key.Org, -1)
	if x.configFloors == nil {
		x.configFloors = make(map[domain.OrgID]uint64)
	}
	x.configFloors[key.Org] = floor
	x.configs[key] = domain.ConfigEntry{}
	x.configHist[key] = histView{}
	x.add(domain.ConfigPurged{Key: key, Floor: floor})
}

// configUsage returns org's live config keys and bytes as this batch sees
// them.
func (x *txn) configUsage(org domain.OrgID) (keys, bytes int) {
	k, b := x.e.configs.usage(org)
	return k + x.configKeyDelta[org], b + x.configByteDelta[org]
}
