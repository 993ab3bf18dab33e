package application

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/octostore/octostore/domain"
)

// LockService holds the lock use cases. Every method acts inside the
// caller's org only; a lock of another org is indistinguishable from a
// free one.
type LockService struct {
	e            *Engine
	defaultDelay time.Duration
}

// NewLockService returns the lock use cases backed by e. defaultDelay is the
// lock delay of an acquire that names none.
func NewLockService(e *Engine, defaultDelay time.Duration) *LockService {
	return &LockService{e: e, defaultDelay: defaultDelay}
}

// AcquireInput is an acquire request.
type AcquireInput struct {
	Name     domain.LockName
	TTL      time.Duration
	Metadata *string // nil keeps the metadata of a lock re-acquired by its holder
	// Owner names the client when it acquires without a session, so that a
	// retry by the same principal with the same owner is the idempotent
	// re-acquire. Without an owner or a session every acquire of a held
	// lock is refused, the taker's own included.
	Owner string
	// Session, when set, makes the session the holder.
	Session   domain.SessionID
	Ephemeral bool           // the lock lives exactly as long as Session
	LockDelay *time.Duration // unavailability after a loss without release; nil: the default
	Wait      time.Duration  // how long to queue while the lock is busy
}

// MaxWait is the longest a blocking acquire may wait.
const MaxWait = time.Minute

// ErrInvalidWait is returned for a wait outside [0, MaxWait].
var ErrInvalidWait = domain.Invalid("invalid_wait", "a wait must be from 0s to 1m0s")

// holder returns the holder that in stands for when p sends it.
func (in AcquireInput) holder(p domain.Principal) domain.Holder {
	if in.Session != "" {
		return domain.Session{ID: in.Session, Owner: p.User}.Holder()
	}
	return domain.ClientHolder(p, in.Owner)
}

// check validates what can be known before the writer decides.
func (in AcquireInput) check() error {
	switch {
	case in.Wait < 0 || in.Wait > MaxWait:
		return ErrInvalidWait
	case in.Ephemeral && in.Session == "":
		return domain.ErrEphemeralNeedsSession
	case in.Owner != "" && in.Session != "":
		return domain.ErrOwnerWithSession
	case in.Owner != "":
		return domain.CheckOwner(in.Owner)
	}
	return nil
}

// acquired is the writer's answer to an acquire: a grant (fresh when it
// made a new lease), or a waiter queued for the lock.
type acquired struct {
	lock  domain.Lock
	fresh bool
	w     *waiter
}

// Acquire grants the lock to the caller's client: its session, or the
// client named by Owner, or, with neither, a holder of its own that nobody
// can re-acquire. The current holder asking again gets the same lease and
// token, its expiry extended, never shortened. The grant is durable before
// Acquire returns. With Wait > 0 a busy lock queues the request, first come
// first served, until it can be granted or the wait runs out. A request
// whose ctx has ended before the writer decides it is neither granted nor
// queued; a fresh grant to a holder without owner or session, whose client
// left during the commit, is released again (nobody could ever use it).
// Returns a *domain.LockHeldError (matching ErrLockHeld) when anyone else
// holds it, a *domain.LockDelayedError (ErrLockDelayed) during its lock
// delay, ErrSessionNotFound or ErrSessionExpired for a bad session,
// ErrAdminNotTenant for an admin, a KindInvalid error for bad input, a
// *domain.QuotaExceededError (matching ErrQuotaExceeded) when a new lock or
// a queued wait would exceed the org's locks or waiters quota, and
// ErrUnavailable when the grant could not be committed.
func (s *LockService) Acquire(ctx context.Context, p domain.Principal, in AcquireInput) (domain.Lock, error) {
	if p.Admin {
		return domain.Lock{}, domain.ErrAdminNotTenant
	}
	if err := in.check(); err != nil {
		return domain.Lock{}, err
	}
	if err := s.e.permit(p, in.Name, domain.ActionAcquire); err != nil {
		return domain.Lock{}, err
	}
	delay := s.defaultDelay
	if in.LockDelay != nil {
		delay = *in.LockDelay
	}
	req := domain.AcquireRequest{Holder: in.holder(p), TTL: in.TTL, Metadata: in.Metadata, Nonce: nonce(),
		Ephemeral: in.Ephemeral, LockDelay: delay}
	key := domain.LockKey{Org: p.Org, Name: in.Name}
	out, err := do(ctx, s.e, func(x *txn) (acquired, error) {
		s.e.serveWaiters(x, key) // queued waiters go first
		if in.Session != "" {
			sess, err := x.useSession(p, in.Session)
			if err != nil {
				return acquired{}, err
			}
			req.SessionExpiresAt = sess.ExpiresAt
		}
		cur := x.lock(key)
		if s.e.hasWaiters(key) && !(cur.HeldAt(x.now) && cur.Holder.Reacquires(req.Holder)) {
			// Others queued first: a newcomer never overtakes them.
			if in.Wait > 0 {
				w, err := s.e.enqueue(x, ctx, key, p, in.Session, req)
				return acquired{w: w}, err
			}
			return acquired{}, busyError(cur, key.Name, x.now)
		}
		l, err := x.acquire(key, cur, req)
		if in.Wait > 0 && (errors.Is(err, domain.ErrLockHeld) || errors.Is(err, domain.ErrLockDelayed)) {
			w, err := s.e.enqueue(x, ctx, key, p, in.Session, req)
			return acquired{w: w}, err
		}
		return acquired{lock: l, fresh: l.Token != cur.Token}, err
	})
	switch {
	case err != nil:
		return domain.Lock{}, err
	case out.w != nil:
		return s.e.await(ctx, out.w, in.Wait)
	case ctx.Err() != nil:
		// The client left while the grant was committed.
		if out.fresh {
			s.e.revoke(out.lock)
		}
		return domain.Lock{}, ctx.Err()
	}
	return out.lock, nil
}

// Renew sets the lease's expiry to now+ttl. Returns ErrLeaseNotCurrent when
// the lease has expired, was released or was replaced (an expired lease is
// never resurrected), ErrLockNotFound when the lock is not held and the
// lease id is not one this service issues, and ErrLockIsEphemeral for an
// ephemeral lock (its session's keepalive renews it).
func (s *LockService) Renew(ctx context.Context, p domain.Principal, name domain.LockName, lease domain.LeaseID, ttl time.Duration) (domain.Lock, error) {
	if p.Admin {
		return domain.Lock{}, domain.ErrAdminNotTenant
	}
	if err := s.e.permit(p, name, domain.ActionAcquire); err != nil {
		return domain.Lock{}, err
	}
	key := domain.LockKey{Org: p.Org, Name: name}
	return do(ctx, s.e, func(x *txn) (domain.Lock, error) {
		next, err := x.lock(key).Renew(lease, ttl, x.now)
		if err != nil {
			return domain.Lock{}, err
		}
		x.save(next)
		return next, nil
	})
}

// Release frees the lock held by lease, durably and at once (no lock
// delay), and hands it to the oldest waiter. Errors are those of Renew,
// except that an ephemeral lock can be released.
func (s *LockService) Release(ctx context.Context, p domain.Principal, name domain.LockName, lease domain.LeaseID) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	if err := s.e.permit(p, name, domain.ActionAcquire); err != nil {
		return err
	}
	key := domain.LockKey{Org: p.Org, Name: name}
	return s.e.submit(ctx, func(x *txn) error { return x.release(key, lease) })
}

// ForceRelease frees a held lock of org for the admin, whoever holds it:
// the holder's lease ends at once, so its lease id and fencing token are
// never valid again (renew and release answer ErrLeaseNotCurrent, validate
// false), and the oldest waiter is served as after a release. There is no
// lock delay: the admin frees the lock now, and the fencing token is what
// keeps a holder that is still running from doing harm. The release is
// durable before ForceRelease returns, recorded as a lock.released event
// with ForcedBy "admin", and logged. It returns the lock as it was held.
// Returns ErrAdminOnly for a tenant, ErrLockNotFound when the lock is not
// held now (free, expired or in its lock delay), and ErrUnavailable when
// the release could not be committed.
func (s *LockService) ForceRelease(ctx context.Context, p domain.Principal, org domain.OrgID, name domain.LockName) (domain.Lock, error) {
	if !p.Admin {
		return domain.Lock{}, domain.ErrAdminOnly
	}
	key := domain.LockKey{Org: org, Name: name}
	l, err := do(ctx, s.e, func(x *txn) (domain.Lock, error) {
		cur := x.lock(key)
		if !cur.HeldAt(x.now) {
			return domain.Lock{}, domain.ErrLockNotFound
		}
		x.remove(key)
		x.recordEvent(domain.Event{Org: org, Kind: domain.EventLockReleased, Name: name, Holder: cur.Holder,
			Token: cur.Token, At: x.now, ForcedBy: domain.ForcedByAdmin})
		return cur, nil
	})
	if err != nil {
		return domain.Lock{}, err
	}
	// The audit record: who lost what, and that the admin took it.
	s.e.log.InfoContext(ctx, "lock force-released by the admin", "org", string(org), "lock", string(name),
		"holder_user", l.Holder.User(), "fencing_token", uint64(l.Token), "ephemeral", l.Ephemeral)
	return l, nil
}

// LockStatus says whether a lock can be taken now.
type LockStatus string

// The statuses of a lock.
const (
	StatusFree    LockStatus = "free"    // anyone may take it
	StatusHeld    LockStatus = "held"    // a lease holds it
	StatusDelayed LockStatus = "delayed" // lost without a release; nobody may take it until AvailableAt
)

// LockView is what anyone in the org may see of a lock: its record while
// held (the lease id is for the holder only and must not be shown), when a
// delayed lock becomes available, and how many blocking acquires wait.
type LockView struct {
	Lock        domain.Lock // the record when StatusHeld; only its Key when StatusDelayed
	Status      LockStatus
	AvailableAt time.Time // for StatusDelayed
	Waiters     int
}

// Get describes the lock now. It reads committed state only and never
// touches storage.
func (s *LockService) Get(_ context.Context, p domain.Principal, name domain.LockName) (LockView, error) {
	if p.Admin {
		return LockView{}, domain.ErrAdminNotTenant
	}
	if err := s.e.permit(p, name, domain.ActionObserve); err != nil {
		return LockView{}, err
	}
	key := domain.LockKey{Org: p.Org, Name: name}
	return s.e.view(key, s.e.lock(key), s.e.now()), nil
}

// view describes the record l of key at now.
func (e *Engine) view(key domain.LockKey, l domain.Lock, now time.Time) LockView {
	v := LockView{Status: StatusFree, Waiters: e.Waiting(key)}
	switch {
	case l.HeldAt(now):
		v.Lock, v.Status = l, StatusHeld
	case l.Exists() && now.Before(l.AvailableAt()):
		v.Lock, v.Status, v.AvailableAt = domain.Lock{Key: key}, StatusDelayed, l.AvailableAt()
	}
	return v
}

// Validate reports whether token is the fencing token of the lock's current
// holder right now (Chubby's CheckSequencer), and the current token, 0 when
// the lock is free. It reads committed state only.
func (s *LockService) Validate(_ context.Context, p domain.Principal, name domain.LockName, token domain.FencingToken) (bool, domain.FencingToken, error) {
	if p.Admin {
		return false, 0, domain.ErrAdminNotTenant
	}
	if err := s.e.permit(p, name, domain.ActionAcquire); err != nil {
		return false, 0, err
	}
	l := s.e.lock(domain.LockKey{Org: p.Org, Name: name})
	if !l.HeldAt(s.e.now()) {
		return false, 0, nil
	}
	return l.Token == token, l.Token, nil
}

// Page is one page of a listing.
type Page struct {
	Locks []LockView // held locks
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
	// Names the caller may not observe are left out; the scan goes on
	// past them so that a page is short only at the end.
	page := Page{Locks: make([]LockView, 0, min(limit, 256))}
	for {
		locks, more := s.e.held(p.Org, prefix, after, limit-len(page.Locks))
		for _, l := range locks {
			if s.e.allows(p, l.Key.Name, domain.ActionObserve) {
				page.Locks = append(page.Locks, LockView{Lock: l, Status: StatusHeld, Waiters: s.e.Waiting(l.Key)})
			}
		}
		if !more || len(locks) == 0 {
			return page, nil
		}
		after = locks[len(locks)-1].Key.Name
		if len(page.Locks) == limit {
			page.Next = after
			return page, nil
		}
	}
}

// nonce returns 64 random bits in hex, the unguessable part of a lease id.
func nonce() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}
