// Package memstore is an in-memory ports.Journal, for tests and for running
// without a database file (--store=memory). Nothing survives the process.
//
// It keeps the SQLite adapter's semantics where a caller could notice them:
// times are stored at millisecond precision without a monotonic reading, a
// batch is all-or-nothing, and the same invalid batches are refused.
package memstore

import (
	"cmp"
	"context"
	"errors"
	"fmt"
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
	counter     domain.FencingToken
	credentials []domain.Credential
	hashes      map[domain.TokenHash]struct{}
	failNext    error
}

// New returns an empty Journal: no locks, counter 0, no credentials.
func New() *Journal {
	return &Journal{
		locks:  make(map[domain.LockKey]domain.Lock),
		hashes: make(map[domain.TokenHash]struct{}),
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
// credentials in the order they were added. It returns ctx's error if ctx
// is done, and no other error.
func (j *Journal) Load(ctx context.Context) (domain.Snapshot, error) {
	if err := ctx.Err(); err != nil {
		return domain.Snapshot{}, fmt.Errorf("load: %w", err)
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	snap := domain.Snapshot{
		Locks:       make([]domain.Lock, 0, len(j.locks)),
		Counter:     j.counter,
		Credentials: slices.Clone(j.credentials),
	}
	for _, l := range j.locks {
		snap.Locks = append(snap.Locks, l)
	}
	slices.SortFunc(snap.Locks, func(a, b domain.Lock) int {
		return cmp.Or(cmp.Compare(a.Key.Org, b.Key.Org), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	if snap.Credentials == nil {
		snap.Credentials = []domain.Credential{}
	}
	return snap, nil
}

// Commit applies the changes of b in order and raises the counter to
// b.Counter (never lowering it). It checks the whole batch before changing
// anything, so on error nothing is stored. It refuses, with an error, a
// done ctx, a change of unknown type (including nil), an invalid lock (bad
// org or name, empty holder, lease id not embedding its token), a lock
// whose token is above the resulting counter, a credential whose hash is
// already stored or added earlier in the batch, and a batch after
// FailNextCommit.
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
			j.locks[l.Key] = l
		case domain.LockDeleted:
			delete(j.locks, c.Key)
		case domain.CredentialAdded:
			j.credentials = append(j.credentials, c.Credential)
			j.hashes[c.Credential.Hash] = struct{}{}
		}
	}
	j.counter = max(j.counter, b.Counter)
	return nil
}

// check validates b against the stored state without changing it.
func (j *Journal) check(b domain.Batch) error {
	counter := max(j.counter, b.Counter)
	if counter > math.MaxInt64 {
		return fmt.Errorf("counter %d is out of range", counter)
	}
	var added map[domain.TokenHash]struct{}
	for i, c := range b.Changes {
		var err error
		switch c := c.(type) {
		case domain.LockSaved:
			err = checkLock(c.Lock, counter)
		case domain.LockDeleted:
		case domain.CredentialAdded:
			err = checkCredential(c.Credential)
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
		default:
			err = fmt.Errorf("unknown change type %T", c)
		}
		if err != nil {
			return fmt.Errorf("change %d: %w", i, err)
		}
	}
	return nil
}

// checkLock mirrors the SQLite adapter's invariants. Validation errors are
// flattened with %v so that a refused batch is an internal error, not
// KindInvalid.
func checkLock(l domain.Lock, counter domain.FencingToken) error {
	if _, err := domain.ParseOrgID(string(l.Key.Org)); err != nil {
		return fmt.Errorf("%v", err)
	}
	if _, err := domain.ParseLockName(string(l.Key.Name)); err != nil {
		return fmt.Errorf("%v", err)
	}
	if l.Holder == "" {
		return errors.New("holder is empty")
	}
	if l.Token == 0 {
		return errors.New("token is zero")
	}
	if t, ok := l.Lease.Token(); !ok || t != l.Token {
		return fmt.Errorf("lease id %q does not embed token %d", l.Lease, l.Token)
	}
	if counter < l.Token {
		return fmt.Errorf("lock token %d is above the fencing counter %d", l.Token, counter)
	}
	return nil
}

// checkCredential requires a user and, for tenant principals, a valid org.
func checkCredential(c domain.Credential) error {
	if c.Principal.User == "" {
		return errors.New("credential user is empty")
	}
	if c.Principal.Admin && c.Principal.Org == "" {
		return nil
	}
	if _, err := domain.ParseOrgID(string(c.Principal.Org)); err != nil {
		return fmt.Errorf("%v", err)
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
