package application

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sort"
	"time"

	"github.com/octostore/octostore/domain"
)

// SessionService holds the session use cases (Chubby §2.8): a session is a
// client's liveness lease; one keepalive keeps it and all of its ephemeral
// locks alive, and when it ends they are freed in the same transaction.
// Sessions are private to the principal that opened them.
type SessionService struct {
	e *Engine
}

// NewSessionService returns the session use cases backed by e.
func NewSessionService(e *Engine) *SessionService { return &SessionService{e: e} }

// SessionView is a session and the locks it holds now.
type SessionView struct {
	Session domain.Session
	Locks   []domain.LockName
}

// Open creates a session for p with the given TTL (10 s to 300 s), durably.
// Returns a KindInvalid error for a TTL out of range, ErrAdminNotTenant
// for an admin, and a *domain.QuotaExceededError (matching
// ErrQuotaExceeded) when the org has as many sessions as its quota allows.
func (s *SessionService) Open(ctx context.Context, p domain.Principal, ttl time.Duration) (domain.Session, error) {
	if p.Admin {
		return domain.Session{}, domain.ErrAdminNotTenant
	}
	if err := domain.CheckSessionTTL(ttl); err != nil {
		return domain.Session{}, err
	}
	id := newSessionID()
	return do(ctx, s.e, func(x *txn) (domain.Session, error) {
		if err := x.within(p.Org, domain.QuotaSessions, x.sessionCount(p.Org)); err != nil {
			return domain.Session{}, err
		}
		sess, err := domain.NewSession(id, p, ttl, x.now)
		if err != nil {
			return domain.Session{}, err
		}
		x.saveSession(sess)
		x.event(domain.EventSessionOpened, p.Org, "", "", 0, x.now)
		return sess, nil
	})
}

// KeepAlive pushes the session's expiry, and with it that of its ephemeral
// locks, to now + TTL. Returns ErrSessionNotFound when the session does not
// exist or is not p's, and ErrSessionExpired when it has expired (it is then
// ended, and never revived).
func (s *SessionService) KeepAlive(ctx context.Context, p domain.Principal, id domain.SessionID) (domain.Session, error) {
	if p.Admin {
		return domain.Session{}, domain.ErrAdminNotTenant
	}
	return do(ctx, s.e, func(x *txn) (domain.Session, error) {
		sess, err := x.useSession(p, id)
		if err != nil {
			return domain.Session{}, err
		}
		next, err := sess.KeepAlive(p, x.now)
		if err != nil {
			return domain.Session{}, err
		}
		x.saveSession(next)
		return next, nil
	})
}

// Get returns the session and the names of the locks it holds, to its owner
// only. Errors are those of KeepAlive. It reads committed state only.
func (s *SessionService) Get(_ context.Context, p domain.Principal, id domain.SessionID) (SessionView, error) {
	if p.Admin {
		return SessionView{}, domain.ErrAdminNotTenant
	}
	sess, locks := s.e.session(id)
	if !sess.OwnedBy(p) {
		if ended, ok := s.e.endedSession(id); ok && ended.OwnedBy(p) {
			return SessionView{}, domain.ErrSessionExpired
		}
		return SessionView{}, domain.ErrSessionNotFound
	}
	now := s.e.now()
	if !sess.AliveAt(now) {
		return SessionView{}, domain.ErrSessionExpired
	}
	view := SessionView{Session: sess}
	for _, l := range locks {
		if l.HeldAt(now) {
			view.Locks = append(view.Locks, l.Key.Name)
		}
	}
	sort.Slice(view.Locks, func(i, j int) bool { return view.Locks[i] < view.Locks[j] })
	return view, nil
}

// Close ends the session: ownership is checked first, then its ephemeral
// locks are released at once (no lock delay) and the session is removed,
// all in one transaction. Errors are those of KeepAlive.
func (s *SessionService) Close(ctx context.Context, p domain.Principal, id domain.SessionID) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	return s.e.submit(ctx, func(x *txn) error {
		sess, err := x.useSession(p, id)
		if err != nil {
			return err
		}
		x.endSession(sess, false)
		return nil
	})
}

// newSessionID returns an unguessable session id (128 random bits).
func newSessionID() domain.SessionID {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return domain.SessionID("s_" + hex.EncodeToString(b[:]))
}
