package application

import (
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/octostore/octostore/domain"
)

// state is the committed, durable state that readers see: lock records per
// org in name order, sessions, and the index of locks per session. Only the
// writer goroutine mutates it, after a successful commit, under mu.
type state struct {
	mu       sync.RWMutex
	orgs     map[domain.OrgID]*btree.BTreeG[*domain.Lock]
	count    int
	counter  domain.FencingToken
	eventSeq uint64
	sessions map[domain.SessionID]*domain.Session
	// orgSessionN counts the sessions of each org, for its quota.
	orgSessionN map[domain.OrgID]int
	bySession   map[domain.SessionID]map[domain.LockKey]struct{}
	// ended remembers recently expired sessions so that their owners are
	// told "expired" (410) rather than "not found" for a while.
	ended map[domain.SessionID]domain.Session
}

func newState() *state {
	return &state{
		orgs:        make(map[domain.OrgID]*btree.BTreeG[*domain.Lock]),
		sessions:    make(map[domain.SessionID]*domain.Session),
		orgSessionN: make(map[domain.OrgID]int),
		bySession:   make(map[domain.SessionID]map[domain.LockKey]struct{}),
		ended:       make(map[domain.SessionID]domain.Session),
	}
}

func lessByName(a, b *domain.Lock) bool { return a.Key.Name < b.Key.Name }

// record returns the stored lock record for key, not resolved (the zero
// Lock if there is none).
func (t *state) record(key domain.LockKey) domain.Lock {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if l := t.recordLocked(key); l != nil {
		return *l
	}
	return domain.Lock{}
}

func (t *state) recordLocked(key domain.LockKey) *domain.Lock {
	tree := t.orgs[key.Org]
	if tree == nil {
		return nil
	}
	l, _ := tree.Get(&domain.Lock{Key: key})
	return l
}

// lock returns the lock record for key with an ephemeral lock's expiry
// following its session.
func (t *state) lock(key domain.LockKey) domain.Lock {
	t.mu.RLock()
	defer t.mu.RUnlock()
	l := t.recordLocked(key)
	if l == nil {
		return domain.Lock{}
	}
	return t.resolveLocked(*l)
}

func (t *state) resolveLocked(l domain.Lock) domain.Lock {
	if l.Ephemeral {
		if s := t.sessions[l.Holder.SessionOf()]; s != nil {
			l.ExpiresAt = s.ExpiresAt
		}
	}
	return l
}

// session returns the committed session (zero if none).
func (t *state) session(id domain.SessionID) domain.Session {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if s := t.sessions[id]; s != nil {
		return *s
	}
	return domain.Session{}
}

// endedSession returns a recently expired session.
func (t *state) endedSession(id domain.SessionID) (domain.Session, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	s, ok := t.ended[id]
	return s, ok
}

// sessionLocks returns the keys of the committed locks held by session id.
func (t *state) sessionLocks(id domain.SessionID) []domain.LockKey {
	t.mu.RLock()
	defer t.mu.RUnlock()
	keys := make([]domain.LockKey, 0, len(t.bySession[id]))
	for k := range t.bySession[id] {
		keys = append(keys, k)
	}
	return keys
}

func (t *state) lastToken() domain.FencingToken {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.counter
}

func (t *state) lastEvent() uint64 {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.eventSeq
}

// held returns up to limit locks of org held at now whose names match p and
// sort after 'after', in name order, plus whether more may follow.
func (t *state) held(org domain.OrgID, p domain.Prefix, after domain.LockName, limit int, now time.Time) ([]domain.Lock, bool) {
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
	var out []domain.Lock
	more := false
	tree.AscendGreaterOrEqual(&domain.Lock{Key: domain.LockKey{Name: start}}, func(rec *domain.Lock) bool {
		if p.Exhausted(rec.Key.Name) {
			return false
		}
		if rec.Key.Name == after || !p.Matches(rec.Key.Name) {
			return true
		}
		l := t.resolveLocked(*rec)
		if !l.HeldAt(now) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, l)
		return true
	})
	return out, more
}

// published is what a commit added that the sweep must track.
type published struct {
	locks    []*domain.Lock
	sessions []*domain.Session
}

// apply folds committed changes into the state.
func (t *state) apply(changes []domain.Change, counter domain.FencingToken, eventSeq uint64) published {
	var pub published
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.LockSaved:
			l := c.Lock
			t.insert(&l)
			pub.locks = append(pub.locks, &l)
		case domain.LockDeleted:
			t.delete(c.Key)
		case domain.SessionSaved:
			s := c.Session
			t.putSession(&s)
			pub.sessions = append(pub.sessions, &s)
		case domain.SessionDeleted:
			if old := t.sessions[c.ID]; old != nil {
				t.orgSessionN[old.Org]--
				if t.orgSessionN[old.Org] <= 0 {
					delete(t.orgSessionN, old.Org)
				}
				delete(t.sessions, c.ID)
			}
		}
	}
	t.counter = max(t.counter, counter)
	t.eventSeq = max(t.eventSeq, eventSeq)
	return pub
}

// restore loads a snapshot, keeping pointers into its slices.
func (t *state) restore(snap domain.Snapshot) published {
	pub := published{locks: make([]*domain.Lock, len(snap.Locks)), sessions: make([]*domain.Session, len(snap.Sessions))}
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range snap.Sessions {
		pub.sessions[i] = &snap.Sessions[i]
		t.putSession(pub.sessions[i])
	}
	for i := range snap.Locks {
		l := &snap.Locks[i]
		// A session holder stored by an earlier release does not name its
		// user; take it from the session, so that it can be shown.
		if id := l.Holder.SessionOf(); id != "" && l.Holder.User() == "" {
			if s := t.sessions[id]; s != nil {
				l.Holder = s.Holder()
			}
		}
		pub.locks[i] = l
		t.insert(l)
	}
	t.counter = max(t.counter, snap.Counter)
	t.eventSeq = max(t.eventSeq, snap.EventSeq)
	return pub
}

// putSession stores s, counting it for its org when it is new; the caller
// holds mu.
func (t *state) putSession(s *domain.Session) {
	if t.sessions[s.ID] == nil {
		t.orgSessionN[s.Org]++
	}
	t.sessions[s.ID] = s
}

// orgLocks returns the number of lock records of org.
func (t *state) orgLocks(org domain.OrgID) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if tree := t.orgs[org]; tree != nil {
		return tree.Len()
	}
	return 0
}

// orgSessions returns the number of sessions of org.
func (t *state) orgSessions(org domain.OrgID) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.orgSessionN[org]
}

func (t *state) insert(l *domain.Lock) {
	tree := t.orgs[l.Key.Org]
	if tree == nil {
		tree = btree.NewG(32, lessByName)
		t.orgs[l.Key.Org] = tree
	}
	old, replaced := tree.ReplaceOrInsert(l)
	if !replaced {
		t.count++
	} else {
		t.unindex(old)
	}
	if id := l.Holder.SessionOf(); id != "" {
		m := t.bySession[id]
		if m == nil {
			m = make(map[domain.LockKey]struct{})
			t.bySession[id] = m
		}
		m[l.Key] = struct{}{}
	}
}

func (t *state) delete(key domain.LockKey) {
	tree := t.orgs[key.Org]
	if tree == nil {
		return
	}
	if old, ok := tree.Delete(&domain.Lock{Key: key}); ok {
		t.count--
		t.unindex(old)
	}
	if tree.Len() == 0 {
		delete(t.orgs, key.Org)
	}
}

func (t *state) unindex(l *domain.Lock) {
	id := l.Holder.SessionOf()
	if id == "" {
		return
	}
	if m := t.bySession[id]; m != nil {
		delete(m, l.Key)
		if len(m) == 0 {
			delete(t.bySession, id)
		}
	}
}

// currentLock reports whether l is still the record for its key.
func (t *state) currentLock(l *domain.Lock) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.recordLocked(l.Key) == l
}

// currentSession reports whether s is still the record for its id.
func (t *state) currentSession(s *domain.Session) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.sessions[s.ID] == s
}

// raiseCounter records that tokens up to c may have been issued.
func (t *state) raiseCounter(c domain.FencingToken) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.counter = max(t.counter, c)
}

// addEnded remembers sessions that expired.
func (t *state) addEnded(ss []domain.Session) {
	if len(ss) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range ss {
		t.ended[s.ID] = s
	}
}

// forgetEnded drops tombstones of sessions that ended before cutoff.
func (t *state) forgetEnded(cutoff time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for id, s := range t.ended {
		if s.ExpiresAt.Before(cutoff) {
			delete(t.ended, id)
		}
	}
}

// size returns the number of lock records.
func (t *state) size() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count
}

// watched returns the records of org that a watch of p (or of the one
// lock name when one is set) starts from, and the event seq they reflect,
// read under one lock so that the events after that seq are exactly the
// changes since.
func (t *state) watched(org domain.OrgID, p domain.Prefix, one domain.LockName) ([]domain.Lock, uint64) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if one != "" {
		if l := t.recordLocked(domain.LockKey{Org: org, Name: one}); l != nil {
			return []domain.Lock{t.resolveLocked(*l)}, t.eventSeq
		}
		return nil, t.eventSeq
	}
	var out []domain.Lock
	if tree := t.orgs[org]; tree != nil {
		tree.AscendGreaterOrEqual(&domain.Lock{Key: domain.LockKey{Name: domain.LockName(p.Start())}}, func(rec *domain.Lock) bool {
			if p.Exhausted(rec.Key.Name) {
				return false
			}
			if p.Matches(rec.Key.Name) {
				out = append(out, t.resolveLocked(*rec))
			}
			return true
		})
	}
	return out, t.eventSeq
}
