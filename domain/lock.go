package domain

import (
	"errors"
	"fmt"
	"time"
	"unicode/utf8"
)

// Limits on acquire and renew requests.
const (
	MinTTL          = time.Second
	MaxTTL          = time.Hour
	DefaultTTL      = time.Minute
	MaxMetadataSize = 1024
	MaxLockDelay    = time.Minute
)

// LockKey identifies a lock: names are unique within an org only.
type LockKey struct {
	Org  OrgID
	Name LockName
}

// Lock is the record of a lock. A lock that was released, or never taken,
// has no record; the zero Lock stands for "free". A record past its expiry
// is free too: it stays only until its lock delay has passed (a lock that
// ran out without an explicit release cannot be taken again until then) or
// the sweep removes it. ExpiresAt may carry a monotonic clock reading when
// it was computed in this process, which makes expiry immune to wall clock
// steps; a record restored from storage compares by wall clock.
type Lock struct {
	Key        LockKey
	Holder     Holder
	Lease      LeaseID
	Token      FencingToken
	AcquiredAt time.Time
	// ExpiresAt is when the lease runs out. For an ephemeral lock it is
	// the session's expiry, which the application keeps in step.
	ExpiresAt time.Time
	Metadata  string
	// Ephemeral locks live exactly as long as their holder session.
	Ephemeral bool
	// LockDelay is how long the lock stays unavailable after it is freed
	// without an explicit release (TTL or session ran out).
	LockDelay time.Duration
}

// Exists reports whether l is a lock record rather than the zero "free" Lock.
func (l Lock) Exists() bool { return l.Lease != "" }

// HeldAt reports whether the lock is held at now. A lock whose expiry has
// passed is free at that instant, whether or not it has been swept yet.
func (l Lock) HeldAt(now time.Time) bool { return l.Exists() && now.Before(l.ExpiresAt) }

// Validate reports the first rule that the lock record l breaks: its org
// and name must parse, it must have a holder and a non-zero token, its lease
// id must embed that token, its lock delay must lie in [0, MaxLockDelay],
// and an ephemeral lock must be held by a session. Storage
// adapters check every record they store or load with it, so that whatever
// is stored can be loaded again. The error has no Kind (KindOf reports
// KindInternal): a record that breaks these rules is a bug or corruption,
// never the client's fault.
func (l Lock) Validate() error {
	if _, err := ParseOrgID(string(l.Key.Org)); err != nil {
		return kindless(err)
	}
	if _, err := ParseLockName(string(l.Key.Name)); err != nil {
		return kindless(err)
	}
	if err := l.Holder.validate(); err != nil {
		return err
	}
	if l.Token == 0 {
		return errors.New("token is zero")
	}
	if t, ok := l.Lease.Token(); !ok || t != l.Token {
		return fmt.Errorf("lease id %q does not embed token %d", l.Lease, l.Token)
	}
	if l.LockDelay < 0 || l.LockDelay > MaxLockDelay {
		return fmt.Errorf("lock delay %v is out of range [0, %v]", l.LockDelay, MaxLockDelay)
	}
	if l.Ephemeral && l.Holder.SessionOf() == "" {
		return fmt.Errorf("ephemeral lock holder %q is not a session", l.Holder)
	}
	return nil
}

// AcquireRequest asks for a lock on behalf of a holder.
type AcquireRequest struct {
	Holder   Holder
	TTL      time.Duration
	Metadata *string // nil keeps the metadata of a re-acquired lock
	Nonce    string  // random part of a new lease id
	// Ephemeral binds the lock's life to the holder session, whose expiry
	// is SessionExpiresAt; TTL is then not used.
	Ephemeral        bool
	SessionExpiresAt time.Time
	LockDelay        time.Duration
}

// ErrLockDelayed matches a LockDelayedError.
var ErrLockDelayed = &Error{Kind: KindLocked, Code: "lock_delayed",
	Msg: "lock is in its lock delay after its holder lost it"}

// LockDelayedError is returned while a lock that was freed without an
// explicit release is still in its lock delay (Chubby §2.4): it gives the
// former holder's in-flight requests time to drain before a new holder acts.
type LockDelayedError struct {
	Name        LockName
	AvailableAt time.Time
}

// Error returns a message naming the lock.
func (e *LockDelayedError) Error() string {
	return "lock " + string(e.Name) + " is in its lock delay"
}

// Unwrap makes LockDelayedError match ErrLockDelayed.
func (e *LockDelayedError) Unwrap() error { return ErrLockDelayed }

// AvailableAt returns when a free lock record can be acquired again: the
// end of its lock delay (its expiry when it has none).
func (l Lock) AvailableAt() time.Time { return l.ExpiresAt.Add(l.LockDelay) }

// CheckTTL rejects a TTL outside [MinTTL, MaxTTL] rather than clamping it.
func CheckTTL(ttl time.Duration) error {
	if ttl < MinTTL || ttl > MaxTTL {
		return Invalid("invalid_ttl", fmt.Sprintf("a lease must last from %v to %v", MinTTL, MaxTTL))
	}
	return nil
}

// ErrEphemeralNeedsSession is returned for an ephemeral lock requested
// without a session.
var ErrEphemeralNeedsSession = &Error{Kind: KindInvalid, Code: "ephemeral_needs_session",
	Msg: "an ephemeral lock must be held by a session"}

// CheckMetadata rejects metadata over MaxMetadataSize bytes or that is not
// valid UTF-8 (it would be read back altered). nil means "keep".
func CheckMetadata(m *string) error {
	switch {
	case m == nil:
		return nil
	case len(*m) > MaxMetadataSize:
		return Invalid("invalid_metadata", fmt.Sprintf("metadata must be at most %d bytes", MaxMetadataSize))
	case !utf8.ValidString(*m):
		return Invalid("invalid_metadata", "metadata must be valid UTF-8")
	}
	return nil
}

// Acquire decides req against the lock l at now, where last is the highest
// fencing token issued so far. A free lock gets a new lease and token
// last.Next(); the current holder asking again (Holder.Reacquires: the same
// session, or the same user with the same owner) keeps its lease and token
// and its expiry is extended, never shortened. Returns a *LockHeldError
// (matching ErrLockHeld) when anyone else holds the lock, and a
// *LockDelayedError while a lost lock is in its lock delay.
func (l Lock) Acquire(key LockKey, req AcquireRequest, now time.Time, last FencingToken) (Lock, error) {
	if err := CheckTTL(req.TTL); err != nil {
		return Lock{}, err
	}
	if err := CheckMetadata(req.Metadata); err != nil {
		return Lock{}, err
	}
	if req.LockDelay < 0 || req.LockDelay > MaxLockDelay {
		return Lock{}, Invalid("invalid_lock_delay", fmt.Sprintf("a lock delay must be from 0s to %v", MaxLockDelay))
	}
	if req.Ephemeral && req.Holder.SessionOf() == "" {
		return Lock{}, ErrEphemeralNeedsSession
	}
	expires := now.Add(req.TTL)
	if req.Ephemeral {
		expires = req.SessionExpiresAt
	}
	if l.HeldAt(now) {
		if !l.Holder.Reacquires(req.Holder) {
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
	if l.Exists() && now.Before(l.AvailableAt()) {
		return Lock{}, &LockDelayedError{Name: key.Name, AvailableAt: l.AvailableAt()}
	}
	token := last.Next()
	next := Lock{
		Key:        key,
		Holder:     req.Holder,
		Lease:      NewLeaseID(token, req.Nonce),
		Token:      token,
		AcquiredAt: now,
		ExpiresAt:  expires,
		Ephemeral:  req.Ephemeral,
		LockDelay:  req.LockDelay,
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
	if l.Ephemeral {
		return Lock{}, ErrLockIsEphemeral
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

// ErrLockIsEphemeral is returned when renewing an ephemeral lock.
var ErrLockIsEphemeral = &Error{Kind: KindConflict, Code: "lock_is_ephemeral",
	Msg: "an ephemeral lock lives as long as its session: send a session keepalive instead"}

// ExpiredAt reports whether l is a record whose lease ran out by now.
func (l Lock) ExpiredAt(now time.Time) bool { return l.Exists() && !now.Before(l.ExpiresAt) }

// Removable reports whether the record can be deleted at now: it has
// expired and its lock delay has passed.
func (l Lock) Removable(now time.Time) bool { return l.Exists() && !now.Before(l.AvailableAt()) }

// Orphan turns an ephemeral lock whose session ended at 'ended' into a
// plain expired record, so that its lock delay still applies.
func (l Lock) Orphan(ended time.Time) Lock {
	l.Ephemeral = false
	l.ExpiresAt = ended
	return l
}
