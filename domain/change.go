package domain

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Change is one durable effect of a decision. The single writer collects the
// changes of many requests into one Batch and commits them in one storage
// transaction; storage adapters switch on the concrete type, so every
// effect of a decision (the lock, the session, the event that tells others)
// commits atomically.
type Change interface{ isChange() }

// LockSaved creates or replaces the record of a lock.
type LockSaved struct{ Lock Lock }

// LockDeleted removes the record of a lock that was released, or whose
// expiry and lock delay have passed.
type LockDeleted struct{ Key LockKey }

// SessionSaved creates or replaces a session.
type SessionSaved struct{ Session Session }

// SessionDeleted removes a session that was closed or expired.
type SessionDeleted struct{ ID SessionID }

// CredentialAdded stores a new credential (only its hash).
type CredentialAdded struct{ Credential Credential }

// EventsTrimmed deletes stored events with Seq <= Through, bounding the
// outbox; readers that fall further behind are told they lagged. A journal
// may keep some of them longer (SQLite trims whole batches), so readers
// skip what they have seen by seq.
type EventsTrimmed struct{ Through uint64 }

// EventRecorded appends an event to the outbox that watchers and webhooks
// read; it commits with the change it reports.
type EventRecorded struct{ Event Event }

func (LockSaved) isChange()       {}
func (LockDeleted) isChange()     {}
func (SessionSaved) isChange()    {}
func (SessionDeleted) isChange()  {}
func (CredentialAdded) isChange() {}
func (EventRecorded) isChange()   {}
func (EventsTrimmed) isChange()   {}

// EventKind names what happened.
type EventKind string

// The events OctoStore records.
const (
	EventLockAcquired   EventKind = "lock.acquired"
	EventLockReleased   EventKind = "lock.released"
	EventLockExpired    EventKind = "lock.expired"       // TTL ran out
	EventLockFreed      EventKind = "lock.session_ended" // its session ended
	EventSessionOpened  EventKind = "session.opened"
	EventSessionClosed  EventKind = "session.closed"
	EventSessionExpired EventKind = "session.expired"
)

// Event is one recorded state change. Seq orders all events of a database
// and never repeats. Events carry no capability: no lease or session id.
type Event struct {
	Seq   uint64
	Org   OrgID
	Kind  EventKind
	Name  LockName // empty for session events
	Token FencingToken
	At    time.Time
}

// Validate reports the first rule that the event e breaks: its seq must not
// be zero (0 stands for "no event" in Snapshot.EventSeq) and it must have a
// kind. That each seq is above every seq before it is checked by storage,
// which knows the stored maximum. The error has no Kind (KindOf reports
// KindInternal): an event that breaks these rules is a bug, never the
// client's fault.
func (e Event) Validate() error {
	if e.Seq == 0 {
		return errors.New("event seq is zero")
	}
	if e.Kind == "" {
		return errors.New("event kind is empty")
	}
	return nil
}

// Follows checks e as the event recorded after seq 'after' (the highest
// seq stored, or recorded earlier in the same batch): Validate's rules, a
// seq above after, and a seq and token that fit a signed 64-bit integer,
// which every store must be able to keep. The error has no Kind.
func (e Event) Follows(after uint64) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Seq > math.MaxInt64 {
		return fmt.Errorf("event seq %d is out of range", e.Seq)
	}
	if e.Seq <= after {
		return fmt.Errorf("event seq %d is not above %d", e.Seq, after)
	}
	if e.Token > math.MaxInt64 {
		return fmt.Errorf("event token %d is out of range", e.Token)
	}
	return nil
}

// Batch is the unit of commit: changes in decision order, the fencing
// counter after them (it never decreases), and the time the server was last
// known alive, which start-up uses to tell what expired while it was down.
type Batch struct {
	Changes []Change
	Counter FencingToken
	AliveAt time.Time
}

// Snapshot is the committed state that storage hands back at start-up.
type Snapshot struct {
	Locks       []Lock
	Sessions    []Session
	Counter     FencingToken
	EventSeq    uint64    // highest stored event sequence number
	AliveAt     time.Time // last time the server was known alive (zero if never)
	Credentials []Credential
}
