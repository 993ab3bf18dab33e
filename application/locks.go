package application

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/octostore/octostore/domain"
)

// LockService holds the lock use cases. Every method acts inside the
// caller's org only; a lock of another org is indistinguishable from a
// free one.
type LockService struct {
	e *Engine
}

// NewLockService returns the lock use cases backed by e.
func NewLockService(e *Engine) *LockService { return &LockService{e: e} }

// AcquireInput is an acquire request.
type AcquireInput struct {
	Name     domain.LockName
	TTL      time.Duration
	Metadata *string // nil keeps the metadata of a lock re-acquired by its holder
}

// Acquire grants the lock to the caller, or extends the caller's own lease
// (same lease id and fencing token, expiry never shortened). The grant is
// durable before Acquire returns. Returns a *domain.LockHeldError (matching
// ErrLockHeld) when another holder holds the lock, ErrAdminNotTenant for an
// admin principal, a KindInvalid error for a bad TTL or metadata, and
// ErrUnavailable when the grant could not be committed.
func (s *LockService) Acquire(ctx context.Context, p domain.Principal, in AcquireInput) (domain.Lock, error) {
	if p.Admin {
		return domain.Lock{}, domain.ErrAdminNotTenant
	}
	req := domain.AcquireRequest{Holder: p.Holder(), TTL: in.TTL, Metadata: in.Metadata, Nonce: nonce()}
	key := domain.LockKey{Org: p.Org, Name: in.Name}
	res, err := s.e.submit(ctx, func(x *txn) (any, error) {
		cur := x.lock(key)
		next, err := cur.Acquire(key, req, x.now, x.counter)
		if err != nil {
			return nil, err
		}
		if next != cur {
			x.save(next)
		}
		return next, nil
	})
	if err != nil {
		return domain.Lock{}, err
	}
	return res.(domain.Lock), nil
}

// Renew sets the lease's expiry to now+ttl. Returns ErrLeaseNotCurrent when
// the lease has expired, was released or was replaced (an expired lease is
// never resurrected), and ErrLockNotFound when the lock is not held and the
// lease id is not one this service issues.
func (s *LockService) Renew(ctx context.Context, p domain.Principal, name domain.LockName, lease domain.LeaseID, ttl time.Duration) (domain.Lock, error) {
	if p.Admin {
		return domain.Lock{}, domain.ErrAdminNotTenant
	}
	key := domain.LockKey{Org: p.Org, Name: name}
	res, err := s.e.submit(ctx, func(x *txn) (any, error) {
		next, err := x.lock(key).Renew(lease, ttl, x.now)
		if err != nil {
			return nil, err
		}
		x.save(next)
		return next, nil
	})
	if err != nil {
		return domain.Lock{}, err
	}
	return res.(domain.Lock), nil
}

// Release frees the lock held by lease, durably, before returning. Errors
// are those of Renew.
func (s *LockService) Release(ctx context.Context, p domain.Principal, name domain.LockName, lease domain.LeaseID) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	key := domain.LockKey{Org: p.Org, Name: name}
	_, err := s.e.submit(ctx, func(x *txn) (any, error) {
		if err := x.lock(key).Release(lease, x.now); err != nil {
			return nil, err
		}
		x.remove(key)
		return nil, nil
	})
	return err
}

// Get returns the lock if it is held now, or the zero Lock when it is free.
// It reads committed state only and never touches storage.
func (s *LockService) Get(_ context.Context, p domain.Principal, name domain.LockName) (domain.Lock, error) {
	if p.Admin {
		return domain.Lock{}, domain.ErrAdminNotTenant
	}
	l := s.e.locks.get(domain.LockKey{Org: p.Org, Name: name})
	if !l.HeldAt(s.e.clock.Now()) {
		return domain.Lock{}, nil
	}
	return l, nil
}

// Page is one page of a listing.
type Page struct {
	Locks []domain.Lock
	// Next is the name to pass as After for the next page, or "" when
	// this page is the last.
	Next domain.LockName
}

// List returns up to limit locks of the caller's org held now whose names
// match prefix, in name order, starting after the name 'after'.
func (s *LockService) List(_ context.Context, p domain.Principal, prefix domain.Prefix, after domain.LockName, limit int) (Page, error) {
	if p.Admin {
		return Page{}, domain.ErrAdminNotTenant
	}
	if limit <= 0 {
		return Page{}, domain.Invalid("invalid_limit", "limit must be positive")
	}
	locks, more := s.e.locks.held(p.Org, prefix, after, limit, s.e.clock.Now())
	page := Page{Locks: locks}
	if more && len(locks) > 0 {
		page.Next = locks[len(locks)-1].Key.Name
	}
	return page, nil
}

// nonce returns 64 random bits in hex, the unguessable part of a lease id.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
