package application

import (
	"sync"
	"time"

	"github.com/google/btree"

	"github.com/octostore/octostore/domain"
)

// lockTable is the committed, durable lock state that readers see. Only the
// writer goroutine mutates it, after a successful commit.
type lockTable struct {
	mu      sync.RWMutex
	orgs    map[domain.OrgID]*btree.BTreeG[*domain.Lock]
	counter domain.FencingToken
	count   int
}

func newLockTable() *lockTable {
	return &lockTable{orgs: make(map[domain.OrgID]*btree.BTreeG[*domain.Lock])}
}

func lessByName(a, b *domain.Lock) bool { return a.Key.Name < b.Key.Name }

// get returns the lock record for key (the zero Lock if there is none).
func (t *lockTable) get(key domain.LockKey) domain.Lock {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.getLocked(key)
}

func (t *lockTable) getLocked(key domain.LockKey) domain.Lock {
	tree := t.orgs[key.Org]
	if tree == nil {
		return domain.Lock{}
	}
	l, ok := tree.Get(&domain.Lock{Key: key})
	if !ok {
		return domain.Lock{}
	}
	return *l
}

// lastToken returns the highest fencing token committed so far.
func (t *lockTable) lastToken() domain.FencingToken {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.counter
}

// held returns up to limit locks of org held at now whose names match p and
// sort after 'after', in name order, plus whether more may follow.
func (t *lockTable) held(org domain.OrgID, p domain.Prefix, after domain.LockName, limit int, now time.Time) ([]domain.Lock, bool) {
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
	tree.AscendGreaterOrEqual(&domain.Lock{Key: domain.LockKey{Name: start}}, func(l *domain.Lock) bool {
		if p.Exhausted(l.Key.Name) {
			return false
		}
		if l.Key.Name == after || !p.Matches(l.Key.Name) || !l.HeldAt(now) {
			return true
		}
		if len(out) == limit {
			more = true
			return false
		}
		out = append(out, *l)
		return true
	})
	return out, more
}

// apply folds committed changes into the table and returns the records it
// saved, for the expiry sweep.
func (t *lockTable) apply(changes []domain.Change, counter domain.FencingToken) []*domain.Lock {
	var saved []*domain.Lock
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.LockSaved:
			l := c.Lock
			t.insert(&l)
			saved = append(saved, &l)
		case domain.LockDeleted:
			if tree := t.orgs[c.Key.Org]; tree != nil {
				if _, ok := tree.Delete(&domain.Lock{Key: c.Key}); ok {
					t.count--
				}
				if tree.Len() == 0 {
					delete(t.orgs, c.Key.Org)
				}
			}
		}
	}
	if counter > t.counter {
		t.counter = counter
	}
	return saved
}

// restore loads the records of a snapshot, keeping pointers into locks
// rather than copying each record.
func (t *lockTable) restore(locks []domain.Lock, counter domain.FencingToken) []*domain.Lock {
	saved := make([]*domain.Lock, len(locks))
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range locks {
		saved[i] = &locks[i]
		t.insert(saved[i])
	}
	if counter > t.counter {
		t.counter = counter
	}
	return saved
}

func (t *lockTable) insert(l *domain.Lock) {
	tree := t.orgs[l.Key.Org]
	if tree == nil {
		tree = btree.NewG(32, lessByName)
		t.orgs[l.Key.Org] = tree
	}
	if _, replaced := tree.ReplaceOrInsert(l); !replaced {
		t.count++
	}
}

// current reports whether l is still the table's record for its key.
func (t *lockTable) current(l *domain.Lock) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	tree := t.orgs[l.Key.Org]
	if tree == nil {
		return false
	}
	cur, ok := tree.Get(l)
	return ok && cur == l
}

// raiseCounter records that tokens up to c may have been issued.
func (t *lockTable) raiseCounter(c domain.FencingToken) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c > t.counter {
		t.counter = c
	}
}

// size returns the number of lock records.
func (t *lockTable) size() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.count
}
