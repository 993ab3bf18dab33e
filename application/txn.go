package application

import (
	"time"

	"github.com/octostore/octostore/domain"
)

// txn is the working copy a batch is decided against: the committed state
// plus the effects of the batch's earlier intents. Every mutation records
// the domain changes to commit; nothing reaches readers before the commit.
type txn struct {
	st       *state
	e        *Engine
	locks    map[domain.LockKey]domain.Lock // zero Lock: deleted
	sessions map[domain.SessionID]domain.Session
	counter  domain.FencingToken
	eventSeq uint64
	changes  []domain.Change
	now      time.Time
	// freed lists keys whose lock may have become available, so queued
	// waiters can be served before the batch commits.
	freed []domain.LockKey
	// answered are waiters served in this batch (granted or refused),
	// answered after commit; queued are waiters this batch queued, taken
	// out again if the commit fails.
	answered []*waiter
	queued   []*waiter
	// expired sessions, remembered after commit so owners get 410.
	expired []domain.Session
	// hooks are webhooks created (or deleted: zero Webhook) in this batch.
	hooks map[domain.WebhookID]domain.Webhook
	// lockDelta and sessionDelta are how many lock records and sessions
	// each org gained (or lost) in this batch, so that quota checks stay
	// O(1); quotaSets are the overrides set in this batch.
	lockDelta    map[domain.OrgID]int
	sessionDelta map[domain.OrgID]int
	quotaSets    map[domain.OrgID]domain.Limits
	// configs are the config records written in this batch (newest per
	// key); configKeyDelta and configByteDelta what they changed of each
	// org's config usage.
	configs         map[domain.LockKey]domain.ConfigEntry
	configKeyDelta  map[domain.OrgID]int
	configByteDelta map[domain.OrgID]int
	// configHist are the kept history sizes of the keys written in this
	// batch, and configHistDelta, configTombDelta and configFloors what
	// the batch changed of each org's history bytes, tombstones and
	// version floor, so that later writes of the batch see them.
	configHist      map[domain.LockKey]histView
	configHistDelta map[domain.OrgID]int
	configTombDelta map[domain.OrgID]int
	configFloors    map[domain.OrgID]uint64
	// flags are flags written (or deleted: zero Flag) in this batch, and
	// flagDelta how many flags each org gained or lost.
	flags     map[domain.FlagKey]domain.Flag
	flagDelta map[domain.OrgID]int
}

func newTxn(e *Engine, now time.Time) *txn {
	return &txn{
		st: e.st, e: e, now: now,
		locks:    make(map[domain.LockKey]domain.Lock),
		sessions: make(map[domain.SessionID]domain.Session),
		counter:  e.st.lastToken(),
		eventSeq: e.st.lastEvent(),
	}
}

// record returns the stored record of key (the zero Lock if free).
func (x *txn) record(key domain.LockKey) domain.Lock {
	if l, ok := x.locks[key]; ok {
		return l
	}
	return x.st.record(key)
}

// lock returns the record of key with an ephemeral lock's expiry following
// its session, which is how every decision must see it.
func (x *txn) lock(key domain.LockKey) domain.Lock {
	l := x.record(key)
	if l.Ephemeral {
		if s := x.session(l.Holder.SessionOf()); s.Exists() {
			l.ExpiresAt = s.ExpiresAt
		}
	}
	return l
}

// session returns the current session record (zero if none).
func (x *txn) session(id domain.SessionID) domain.Session {
	if s, ok := x.sessions[id]; ok {
		return s
	}
	return x.st.session(id)
}

// save records l as the new state of its lock and raises the counter.
func (x *txn) save(l domain.Lock) {
	if !x.record(l.Key).Exists() {
		x.lockDelta = bump(x.lockDelta, l.Key.Org, 1)
	}
	x.locks[l.Key] = l
	x.counter = max(x.counter, l.Token)
	x.changes = append(x.changes, domain.LockSaved{Lock: l})
}

// acquire decides req against cur, key's lock as x.lock returns it, and
// records a grant: a new lease with its events (the expiry of a record it
// replaces, then the grant), or the holder's re-acquire (no event: the
// lease and token stay). Acquire and the hand-off to waiters both grant
// through it. A grant that would add a lock record past the org's locks
// quota returns a *domain.QuotaExceededError and records nothing.
func (x *txn) acquire(key domain.LockKey, cur domain.Lock, req domain.AcquireRequest) (domain.Lock, error) {
	next, err := cur.Acquire(key, req, x.now, x.counter)
	if err != nil {
		return domain.Lock{}, err
	}
	if !cur.Exists() {
		// A new record counts against the org's quota; taking over an
		// expired record or re-acquiring does not add one.
		if err := x.within(key.Org, domain.QuotaLocks, x.lockCount(key.Org)); err != nil {
			return domain.Lock{}, err
		}
	}
	if next.Token == cur.Token {
		if next != cur {
			x.save(next)
		}
		return next, nil
	}
	if cur.ExpiredAt(x.now) {
		x.event(domain.EventLockExpired, key.Org, key.Name, cur.Holder, cur.Token, cur.ExpiresAt)
	}
	x.save(next)
	x.event(domain.EventLockAcquired, key.Org, key.Name, next.Holder, next.Token, x.now)
	return next, nil
}

// release frees the lock held by lease at once and records the event.
// Returns the errors of domain.Lock.Release.
func (x *txn) release(key domain.LockKey, lease domain.LeaseID) error {
	cur := x.lock(key)
	if err := cur.Release(lease, x.now); err != nil {
		return err
	}
	x.remove(key)
	x.event(domain.EventLockReleased, key.Org, key.Name, cur.Holder, cur.Token, x.now)
	return nil
}

// remove deletes the record of key and offers the lock to waiters.
func (x *txn) remove(key domain.LockKey) {
	if x.record(key).Exists() {
		x.lockDelta = bump(x.lockDelta, key.Org, -1)
	}
	x.locks[key] = domain.Lock{}
	x.changes = append(x.changes, domain.LockDeleted{Key: key})
	x.freed = append(x.freed, key)
}

func (x *txn) saveSession(s domain.Session) {
	if !x.session(s.ID).Exists() {
		x.sessionDelta = bump(x.sessionDelta, s.Org, 1)
	}
	x.sessions[s.ID] = s
	x.changes = append(x.changes, domain.SessionSaved{Session: s})
}

func (x *txn) event(kind domain.EventKind, org domain.OrgID, name domain.LockName, h domain.Holder, token domain.FencingToken, at time.Time) {
	x.recordEvent(domain.Event{Org: org, Kind: kind, Name: name, Holder: h, Token: token, At: at})
}

// recordEvent records ev with the batch's next seq.
func (x *txn) recordEvent(ev domain.Event) {
	x.eventSeq++
	ev.Seq = x.eventSeq
	x.changes = append(x.changes, domain.EventRecorded{Event: ev})
}

// revokeCredential revokes a stored credential in this batch.
func (x *txn) revokeCredential(h domain.TokenHash) {
	x.changes = append(x.changes, domain.CredentialRevoked{Hash: h})
}

// revokedInBatch reports whether an earlier request of this batch revoked h.
func (x *txn) revokedInBatch(h domain.TokenHash) bool {
	for _, c := range x.changes {
		if r, ok := c.(domain.CredentialRevoked); ok && r.Hash == h {
			return true
		}
	}
	return false
}

// add records a change that has no working-copy state of its own.
func (x *txn) add(c domain.Change) { x.changes = append(x.changes, c) }

// sessionLocks returns the keys of the locks session id holds now,
// including those taken or freed earlier in this batch.
func (x *txn) sessionLocks(id domain.SessionID) []domain.LockKey {
	seen := make(map[domain.LockKey]bool)
	var out []domain.LockKey
	consider := func(k domain.LockKey) {
		if seen[k] {
			return
		}
		seen[k] = true
		if l := x.record(k); l.Exists() && l.Holder.SessionOf() == id {
			out = append(out, k)
		}
	}
	for _, k := range x.st.sessionLocks(id) {
		consider(k)
	}
	for k := range x.locks {
		consider(k)
	}
	return out
}

// endSession ends s in this batch: every ephemeral lock it holds is freed
// (with its lock delay when the session expired; at once when it was
// closed), then the session is removed. Both paths record events.
func (x *txn) endSession(s domain.Session, expired bool) {
	for _, k := range x.sessionLocks(s.ID) {
		l := x.record(k)
		if !l.Ephemeral {
			continue
		}
		if expired && l.LockDelay > 0 {
			x.save(l.Orphan(s.ExpiresAt))
			x.freed = append(x.freed, k)
		} else {
			x.remove(k)
		}
		x.event(domain.EventLockFreed, k.Org, k.Name, l.Holder, l.Token, x.now)
	}
	if x.session(s.ID).Exists() {
		x.sessionDelta = bump(x.sessionDelta, s.Org, -1)
	}
	x.sessions[s.ID] = domain.Session{}
	x.changes = append(x.changes, domain.SessionDeleted{ID: s.ID})
	kind := domain.EventSessionClosed
	if expired {
		kind = domain.EventSessionExpired
		x.expired = append(x.expired, s)
	}
	x.event(kind, s.Org, "", "", 0, x.now)
}

// useSession checks that p may act through session id now. A session found
// expired is ended in this batch (its ephemeral locks freed) even though
// the request fails. Returns ErrSessionNotFound or ErrSessionExpired.
func (x *txn) useSession(p domain.Principal, id domain.SessionID) (domain.Session, error) {
	s := x.session(id)
	if !s.Exists() {
		if ended, ok := x.endedSession(id); ok && ended.OwnedBy(p) {
			return domain.Session{}, domain.ErrSessionExpired
		}
		return domain.Session{}, domain.ErrSessionNotFound
	}
	if !s.OwnedBy(p) {
		return domain.Session{}, domain.ErrSessionNotFound
	}
	if !s.AliveAt(x.now) {
		x.endSession(s, true)
		return domain.Session{}, domain.ErrSessionExpired
	}
	return s, nil
}

func (x *txn) endedSession(id domain.SessionID) (domain.Session, bool) {
	for _, s := range x.expired {
		if s.ID == id {
			return s, true
		}
	}
	return x.st.endedSession(id)
}

// bump adds d to m[org], making m on first use: most batches never need
// the per-org counts of the quota checks.
func bump(m map[domain.OrgID]int, org domain.OrgID, d int) map[domain.OrgID]int {
	if m == nil {
		m = make(map[domain.OrgID]int)
	}
	m[org] += d
	return m
}
