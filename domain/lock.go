package domain

import (
	"fmt"
	"time"
)

// Limits on acquire and renew requests.
const (
	MinTTL          = time.Second
	MaxTTL          = time.Hour
	DefaultTTL      = time.Minute
	MaxMetadataSize = 1024
)

// Holder identifies who holds a lock. A lock taken without a session is held
// by the principal ("user:<name>"), so every process using that principal's
// token is the same holder.
type Holder string

// LockKey identifies a lock: names are unique within an org only.
type LockKey struct {
	Org  OrgID
	Name LockName
}

// Lock is one held lock. A lock that is not held has no record at all; the
// zero Lock stands for "free". ExpiresAt may carry a monotonic clock reading
// when it was computed in this process, which makes expiry immune to wall
// clock steps; a lock restored from storage compares by wall clock.
type Lock struct {
	Key        LockKey
	Holder     Holder
	Lease      LeaseID
	Token      FencingToken
	AcquiredAt time.Time
	ExpiresAt  time.Time
	Metadata   string
}

// Exists reports whether l is a lock record rather than the zero "free" Lock.
func (l Lock) Exists() bool { return l.Lease != "" }

// HeldAt reports whether the lock is held at now. A lock whose expiry has
// passed is free at that instant, whether or not it has been swept yet.
func (l Lock) HeldAt(now time.Time) bool { return l.Exists() && now.Before(l.ExpiresAt) }

// AcquireRequest asks for a lock on behalf of a holder.
type AcquireRequest struct {
	Holder   Holder
	TTL      time.Duration
	Metadata *string // nil keeps the metadata of a re-acquired lock
	Nonce    string  // random part of a new lease id
}

// CheckTTL rejects a TTL outside [MinTTL, MaxTTL] rather than clamping it.
func CheckTTL(ttl time.Duration) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return Invalid("invalid_ttl", fmt.Sprintf("ttl_seconds must be between %d and %d", int(MinTTL.Seconds()), int(MaxTTL.Seconds())))
	}
	return nil
}

// Acquire decides req against the lock l at now, where last is the highest
// fencing token issued so far. A free lock gets a new lease and token
// last.Next(); the current holder acquiring again keeps its lease and token
// and its expiry is extended, never shortened. Returns a *LockHeldError
// (matching ErrLockHeld) when another holder holds the lock.
func (l Lock) Acquire(key LockKey, req AcquireRequest, now time.Time, last FencingToken) (Lock, error) {
	if err := CheckTTL(req.TTL); err != nil {
		return Lock{}, err
	}
	if req.Metadata != nil && len(*req.Metadata) > MaxMetadataSize {
		return Lock{}, Invalid("invalid_metadata", fmt.Sprintf("metadata must be at most %d bytes", MaxMetadataSize))
	}
	expires := now.Add(req.TTL)
	if l.HeldAt(now) {
		if l.Holder != req.Holder {
			return Lock{}, &LockHeldError{Name: key.Name, ExpiresAt: l.ExpiresAt}
		}
		if expires.After(l.ExpiresAt) {
			l.ExpiresAt = expires
		}
		if req.Metadata != nil {
			l.Metadata = *req.Metadata
		}
		return l, nil
	}
	token := last.Next()
	next := Lock{
		Key:        key,
		Holder:     req.Holder,
		Lease:      NewLeaseID(token, req.Nonce),
		Token:      token,
		AcquiredAt: now,
		ExpiresAt:  expires,
	}
	if req.Metadata != nil {
		next.Metadata = *req.Metadata
	}
	return next, nil
}

// Renew sets the expiry of the lease to now+ttl. An expired lease is never
// resurrected. Returns ErrLeaseNotCurrent if lease is not the lease holding
// l at now but is a lease id this service issues, and ErrLockNotFound if the
// lock is not held and the id is not one.
func (l Lock) Renew(lease LeaseID, ttl time.Duration, now time.Time) (Lock, error) {
	if err := CheckTTL(ttl); err != nil {
		return Lock{}, err
	}
	if err := l.checkLease(lease, now); err != nil {
		return Lock{}, err
	}
	l.ExpiresAt = now.Add(ttl)
	return l, nil
}

// Release checks that lease currently holds l, with the errors of Renew.
func (l Lock) Release(lease LeaseID, now time.Time) error {
	return l.checkLease(lease, now)
}

func (l Lock) checkLease(lease LeaseID, now time.Time) error {
	if l.HeldAt(now) && l.Lease == lease {
		return nil
	}
	if _, ours := lease.Token(); ours || l.HeldAt(now) {
		return ErrLeaseNotCurrent
	}
	return ErrLockNotFound
}

// ExpiredAt reports whether l is a record whose lease ran out by now, which
// the sweep turns into a deletion.
func (l Lock) ExpiredAt(now time.Time) bool { return l.Exists() && !now.Before(l.ExpiresAt) }
