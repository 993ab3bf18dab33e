package domain

import (
	"errors"
	"fmt"
	"time"
)

// Limits on sessions.
const (
	MinSessionTTL     = 10 * time.Second
	MaxSessionTTL     = 300 * time.Second
	DefaultSessionTTL = time.Minute
	MaxSessionIDLen   = 128 // bytes; also the HTTP API's bound
)

// SessionID identifies a session. It is unguessable, but it is not a
// capability on its own: every use checks that the caller owns the session.
type SessionID string

// Session is a client's liveness lease (Chubby §2.8): one keepalive keeps
// the session and all of its ephemeral locks alive; when it ends, its
// ephemeral locks are freed in the same transaction.
type Session struct {
	ID        SessionID
	Org       OrgID
	Owner     string // the user that created it
	TTL       time.Duration
	CreatedAt time.Time
	ExpiresAt time.Time
}

// Errors of the session rules.
var (
	ErrSessionNotFound = &Error{Kind: KindNotFound, Code: "session_not_found",
		Msg: "no such session (or it belongs to someone else)"}
	ErrSessionExpired = &Error{Kind: KindGone, Code: "session_expired",
		Msg: "the session has expired; open a new one"}
)

// CheckSessionTTL rejects a session TTL outside [MinSessionTTL, MaxSessionTTL].
func CheckSessionTTL(ttl time.Duration) error {
	if ttl < MinSessionTTL || ttl > MaxSessionTTL {
		return Invalid("invalid_ttl", fmt.Sprintf("a session must last from %v to %v", MinSessionTTL, MaxSessionTTL))
	}
	return nil
}

// NewSession opens a session for p at now.
func NewSession(id SessionID, p Principal, ttl time.Duration, now time.Time) (Session, error) {
	if err := CheckSessionTTL(ttl); err != nil {
		return Session{}, err
	}
	return Session{ID: id, Org: p.Org, Owner: p.User, TTL: ttl, CreatedAt: now, ExpiresAt: now.Add(ttl)}, nil
}

// Validate reports the first rule that the session record s breaks: it
// must have an id of at most MaxSessionIDLen bytes, an org that parses, an
// owner and a positive TTL. TTL limits are not checked here: they bind
// when a session is opened (CheckSessionTTL), and a stored session keeps
// the TTL it was opened with. Storage adapters check every record they
// store or load with it. The error has no Kind (KindOf reports
// KindInternal): a record that breaks these rules is a bug or corruption,
// never the client's fault.
func (s Session) Validate() error {
	if s.ID == "" {
		return errors.New("session id is empty")
	}
	if len(s.ID) > MaxSessionIDLen {
		return fmt.Errorf("session id is %d bytes, more than %d", len(s.ID), MaxSessionIDLen)
	}
	if _, err := ParseOrgID(string(s.Org)); err != nil {
		return fmt.Errorf("session org: %w", kindless(err))
	}
	if s.Owner == "" {
		return errors.New("session owner is empty")
	}
	if s.TTL <= 0 {
		return fmt.Errorf("session ttl %v is not positive", s.TTL)
	}
	return nil
}

// Exists reports whether s is a session record rather than the zero value.
func (s Session) Exists() bool { return s.ID != "" }

// AliveAt reports whether the session is alive at now.
func (s Session) AliveAt(now time.Time) bool { return s.Exists() && now.Before(s.ExpiresAt) }

// OwnedBy reports whether p owns s. Sessions of other principals, and of
// other orgs above all, are treated as not existing.
func (s Session) OwnedBy(p Principal) bool {
	return s.Exists() && !p.Admin && s.Org == p.Org && s.Owner == p.User
}

// Use checks that p may act through s at now: ErrSessionNotFound when it
// does not exist or is not p's, ErrSessionExpired when it has run out.
func (s Session) Use(p Principal, now time.Time) error {
	if !s.OwnedBy(p) {
		return ErrSessionNotFound
	}
	if !s.AliveAt(now) {
		return ErrSessionExpired
	}
	return nil
}

// KeepAlive pushes the expiry to now + TTL. An expired session is never
// revived.
func (s Session) KeepAlive(p Principal, now time.Time) (Session, error) {
	if err := s.Use(p, now); err != nil {
		return Session{}, err
	}
	s.ExpiresAt = now.Add(s.TTL)
	return s, nil
}

// Holder returns the lock holder that stands for the session.
func (s Session) Holder() Holder {
	return Holder(holderUser + s.Owner + partSession + string(s.ID))
}
