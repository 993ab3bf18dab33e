package domain

import (
	"errors"
	"fmt"
	"strings"
)

// Holder identifies the client that holds a lock. A holder is a client,
// never merely a principal: processes that share one token (two cron hosts,
// two CI jobs) must not both hold a lock, so every holder names the
// principal's user plus what tells its clients apart:
//
//   - "user:<user>/session:<id>": the lock is held as a session; that
//     session is the holder.
//   - "user:<user>/owner:<owner>": taken without a session by a client that
//     named itself (owner); the same user with the same owner re-acquires it
//     idempotently, which makes retries safe.
//   - "user:<user>": taken without a session or owner; nobody can re-acquire
//     it, the taker included (it renews and releases by its lease id).
//   - "session:<id>": a session holder stored by an earlier release, which
//     did not record the user. It still matches its session.
//
// The encoding is what storage keeps; the org is the lock's.
type Holder string

// MaxOwnerLen bounds a client-chosen owner id.
const MaxOwnerLen = 128

const (
	holderUser    = "user:"
	holderSession = "session:"
	partOwner     = "/owner:"
	partSession   = "/session:"
)

// ErrInvalidOwner is returned for an owner id that is empty, too long or
// not printable ASCII.
var ErrInvalidOwner = &Error{Kind: KindInvalid, Code: "invalid_owner",
	Msg: fmt.Sprintf("an owner must be 1 to %d printable ASCII characters", MaxOwnerLen)}

// ErrOwnerWithSession is returned when a request names both an owner and a
// session: a session already is the holder.
var ErrOwnerWithSession = &Error{Kind: KindInvalid, Code: "owner_with_session",
	Msg: "an owner and a session cannot be combined: the session is the holder"}

// CheckOwner validates a client-chosen owner id: 1 to MaxOwnerLen bytes of
// printable ASCII (space to tilde).
func CheckOwner(owner string) error {
	if owner == "" || len(owner) > MaxOwnerLen {
		return ErrInvalidOwner
	}
	for i := 0; i < len(owner); i++ {
		if owner[i] < 0x20 || owner[i] > 0x7e {
			return ErrInvalidOwner
		}
	}
	return nil
}

// ClientHolder returns the holder that stands for a session-less client of
// p: named by owner when owner is not empty, otherwise anonymous.
func ClientHolder(p Principal, owner string) Holder {
	if owner == "" {
		return Holder(holderUser + p.User)
	}
	return Holder(holderUser + p.User + partOwner + owner)
}

// split returns the user and the rest after it ("/owner:…" or
// "/session:…", or ""), and false for the legacy "session:<id>" form.
func (h Holder) split() (user, rest string, ok bool) {
	s, ok := strings.CutPrefix(string(h), holderUser)
	if !ok {
		return "", "", false
	}
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i:], true
	}
	return s, "", true
}

// User returns the user of the principal that holds the lock, or "" for a
// legacy session holder, which does not record it.
func (h Holder) User() string {
	u, _, _ := h.split()
	return u
}

// Owner returns the client-chosen owner id of a session-less holder, or "".
func (h Holder) Owner() string {
	_, rest, _ := h.split()
	if o, ok := strings.CutPrefix(rest, partOwner); ok {
		return o
	}
	return ""
}

// SessionOf returns the session a holder stands for, or "".
func (h Holder) SessionOf() SessionID {
	if id, ok := strings.CutPrefix(string(h), holderSession); ok {
		return SessionID(id)
	}
	_, rest, _ := h.split()
	if id, ok := strings.CutPrefix(rest, partSession); ok {
		return SessionID(id)
	}
	return ""
}

// Reacquires reports whether an acquire by req is the current holder h
// asking again (the idempotent re-acquire): the same session, or the same
// user with the same owner. An anonymous holder is never matched, so a
// second session-less acquire without an owner is refused, whoever sends it.
func (h Holder) Reacquires(req Holder) bool {
	if id := h.SessionOf(); id != "" {
		return id == req.SessionOf()
	}
	return h.Owner() != "" && h == req
}

// Retries reports whether h's client can acquire again and get its lease
// back: a session or an owner. An anonymous holder cannot.
func (h Holder) Retries() bool { return h.SessionOf() != "" || h.Owner() != "" }

// validate reports why h is not a holder encoding this service writes.
func (h Holder) validate() error {
	if h == "" {
		return errors.New("holder is empty")
	}
	if id, legacy := strings.CutPrefix(string(h), holderSession); legacy {
		if id == "" {
			return fmt.Errorf("holder %q names no session", h)
		}
		return nil
	}
	user, rest, ok := h.split()
	if !ok || user == "" {
		return fmt.Errorf("holder %q names no user", h)
	}
	switch {
	case rest == "":
	case strings.HasPrefix(rest, partOwner):
		if CheckOwner(h.Owner()) != nil {
			return fmt.Errorf("holder %q has an invalid owner", h)
		}
	case strings.HasPrefix(rest, partSession):
		if h.SessionOf() == "" {
			return fmt.Errorf("holder %q names no session", h)
		}
	default:
		return fmt.Errorf("holder %q is not a holder encoding", h)
	}
	return nil
}
