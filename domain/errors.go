package domain

import (
	"errors"
	"time"
)

// Kind classifies an error for callers that must react to it, such as the
// HTTP adapter choosing a status code. The zero value is KindInternal so that
// an unclassified error is never mistaken for the client's fault.
type Kind uint8

// The error kinds, from the most to the least severe for the server.
const (
	KindInternal Kind = iota
	KindUnavailable
	KindInvalid
	KindNotFound
	KindConflict
	KindUnauthenticated
	KindPermissionDenied
	KindGone    // the object existed but has ended (an expired session)
	KindLocked  // the object is in a waiting period (lock delay)
	KindTooMany // a limit on concurrent use is reached; retry later
	// KindPrecondition: a condition the client set on a write does not
	// hold (a compare-and-set on a version).
	KindPrecondition
	KindTooLarge // an input is larger than allowed
)

// Error is a domain error with a stable machine-readable code. Two errors
// with the same Code match under errors.Is, so a sentinel still matches a
// copy that carries a more specific message.
type Error struct {
	Kind Kind
	Code string
	Msg  string
}

// Error returns the human-readable message.
func (e *Error) Error() string { return e.Msg }

// Is reports whether target is a domain error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinel errors returned by the lock rules and the use cases.
var (
	ErrLockHeld = &Error{Kind: KindConflict, Code: "lock_held",
		Msg: "lock is held by another holder"}
	ErrLockNotFound = &Error{Kind: KindNotFound, Code: "lock_not_found",
		Msg: "lock is not held"}
	ErrLeaseNotCurrent = &Error{Kind: KindConflict, Code: "lease_not_current",
		Msg: "lease is not the current lease of this lock (expired, released or never issued for it)"}
	ErrUnauthenticated = &Error{Kind: KindUnauthenticated, Code: "unauthenticated",
		Msg: "missing or unknown bearer token"}
	ErrAdminNotTenant = &Error{Kind: KindPermissionDenied, Code: "admin_not_tenant",
		Msg: "the admin token opens /admin routes only; use a user token for locks"}
	ErrAdminOnly = &Error{Kind: KindPermissionDenied, Code: "admin_only",
		Msg: "this route needs the admin token"}
	ErrUnavailable = &Error{Kind: KindUnavailable, Code: "unavailable",
		Msg: "the service is not accepting writes right now"}
)

// Invalid returns a KindInvalid error with the given code and message.
func Invalid(code, msg string) *Error {
	return &Error{Kind: KindInvalid, Code: code, Msg: msg}
}

// LockHeldError is returned when another holder owns a lock. It matches
// ErrLockHeld and tells the caller when the current lease runs out, which is
// the earliest moment a retry can succeed.
type LockHeldError struct {
	Name      LockName
	ExpiresAt time.Time
}

// Error returns a message naming the lock.
func (e *LockHeldError) Error() string {
	return "lock " + string(e.Name) + " is held by another holder"
}

// Unwrap makes LockHeldError match ErrLockHeld.
func (e *LockHeldError) Unwrap() error { return ErrLockHeld }

// KindOf returns the kind of err, or KindInternal when err carries none.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return KindInternal
}

// CodeOf returns the stable code of err, or "internal" when it has none.
func CodeOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}

// kindless returns an error with err's message but without its Kind, so
// that KindOf reports KindInternal. The record rules (Lock.Validate and the
// like) use it: a record that breaks them comes from a bug or from corrupt
// storage, never from the client, even where the broken part is a name a
// client could have sent, so it must not surface as KindInvalid.
func kindless(err error) error { return errors.New(err.Error()) }
