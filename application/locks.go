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
	// Session, when set, makes the session the holder: processes sharing
	// a token contend properly when each uses its own session.
	Session   domain.SessionID
	Ephemeral bool           // the lock lives exactly as long as Session
	LockDelay *time.Duration // unavailability after a loss without release; nil: the default
	Wait      time.Duration  // how long to queue while the lock is busy
}

// MaxWait is the longest a blocking acquire may wait.
const MaxWait = time.Minute

// Acquire grants the lock to the caller (or its session), or extends the
// holder's own lease (same lease id and fencing token, expiry never
// shortened). The grant is durable before Acquire returns. With Wait > 0 a
// busy lock queues the request, first come first served, until it can be
// granted or the wait runs out. Returns a *domain.LockHeldError (matching
// ErrLockHeld) when another holder holds it, a *domain.LockDelayedError
// (ErrLockDelayed) during its lock delay, ErrSessionNotFound or
// ErrSessionExpired for a bad session, ErrAdminNotTenant for an admin, a
// KindInvalid error for bad input, and ErrUnavailable when the grant could
// not be committed.
func (s *LockService) Acquire(ctx context.Context, p domain.Principal, in AcquireInput) (domain.Lock, error) {
	if p.Admin {
		return domain.Lock{}, domain.ErrAdminNotTenant
	}
	if in.Wait < 0 || in.Wait > MaxWait {
		return domain.Lock{}, domain.Invalid("invalid_wait", "wait_seconds must be between 0 and 60")
	}
	if in.Ephemeral && in.Session == "" {
		return domain.Lock{}, domain.Invalid("ephemeral_needs_session", "an ephemeral lock needs a session_id")
	}
	delay := s.defaultDelay
	if in.LockDelay != nil {
		delay = *in.LockDelay
	}
	req := domain.AcquireRequest{Holder: p.Holder(), TTL: in.TTL, Metadata: in.Metadata, Nonce: nonce(),
		Ephemeral: in.Ephemeral, LockDelay: delay}
	if in.Session != "" {
		req.Holder = domain.Session{ID: in.Session}.Holder()
	}
	key := domain.LockKey{Org: p.Org, Name: in.Name}
	res, err := s.e.submit(ctx, func(x *txn) (any, error) {
		s.e.serveWaiters(x, key) // queued waiters go first
		if in.Session != "" {
			sess, err := x.useSession(p, in.Session)
			if err != nil {
				return nil, err
			}
			req.SessionExpiresAt = sess.ExpiresAt
		}
		cur := x.lock(key)
		if q := s.e.waiters[key]; q != nil && q.l.Len() > 0 && !(cur.HeldAt(x.now) && cur.Holder == req.Holder) {
			// Others queued first: a newcomer never overtakes them.
			if in.Wait > 0 {
				return s.queue(key, p, in.Session, req), nil
			}
			return nil, busyError(cur, key.Name, x.now)
		}
		next, err := cur.Acquire(key, req, x.now, x.counter)
		if err != nil {
			if in.Wait > 0 && (errors.Is(err, domain.ErrLockHeld) || errors.Is(err, domain.ErrLockDelayed)) {
				return s.queue(key, p, in.Session, req), nil
			}
			return nil, err
		}
		if next != cur {
			if next.Token != cur.Token && cur.ExpiredAt(x.now) {
				x.event(domain.EventLockExpired, key.Org, key.Name, cur.Token, cur.ExpiresAt)
			}
			x.save(next)
			if next.Token != cur.Token {
				x.event(domain.EventLockAcquired, key.Org, key.Name, next.Token, x.now)
			}
		}
		return next, nil
	})
	if err != nil {
		return domain.Lock{}, err
	}
	switch r := res.(type) {
	case *waiter:
		return s.e.await(ctx, r, in.Wait)
	case error:
		return domain.Lock{}, r
	}
	return res.(domain.Lock), nil
}

func (s *LockService) queue(key domain.LockKey, p domain.Principal, session domain.SessionID, req domain.AcquireRequest) any {
	if s.e.draining {
		return errShuttingDown
	}
	w := &waiter{key: key, p: p, session: session, req: req, done: make(chan struct{})}
	s.e.enqueue(w)
	return w
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

// Release frees the lock held by lease, durably and at once (no lock
// delay), and hands it to the oldest waiter. Errors are those of Renew,
// except that an ephemeral lock can be released.
func (s *LockService) Release(ctx context.Context, p domain.Principal, name domain.LockName, lease domain.LeaseID) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	key := domain.LockKey{Org: p.Org, Name: name}
	_, err := s.e.submit(ctx, func(x *txn) (any, error) {
		cur := x.lock(key)
		if err := cur.Release(lease, x.now); err != nil {
			return nil, err
		}
		x.remove(key)
		x.event(domain.EventLockReleased, key.Org, key.Name, cur.Token, x.now)
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
	l := s.e.st.lock(domain.LockKey{Org: p.Org, Name: name})
	if !l.HeldAt(s.e.clock.Now()) {
		return domain.Lock{}, nil
	}
	return l, nil
}

// Validate reports whether token is the fencing token of the lock's current
// holder right now (Chubby's CheckSequencer), and the current token, 0 when
// the lock is free. It reads committed state only.
func (s *LockService) Validate(_ context.Context, p domain.Principal, name domain.LockName, token domain.FencingToken) (bool, domain.FencingToken, error) {
	if p.Admin {
		return false, 0, domain.ErrAdminNotTenant
	}
	l := s.e.st.lock(domain.LockKey{Org: p.Org, Name: name})
	if !l.HeldAt(s.e.clock.Now()) {
		return false, 0, nil
	}
	return l.Token == token, l.Token, nil
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
	locks, more := s.e.st.held(p.Org, prefix, after, limit, s.e.clock.Now())
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
