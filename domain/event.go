package domain

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

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
	EventConfigUpdated  EventKind = "config.updated" // a config key got a new value
	EventConfigDeleted  EventKind = "config.deleted" // a config key was deleted
	EventFlagUpdated    EventKind = "flag.updated"   // a flag was created or changed
	EventFlagDeleted    EventKind = "flag.deleted"
)

// LockEventKinds are the kinds that watchers, the events page and webhooks
// see, in the order the README lists them. Session events are recorded for
// the record but not published: a session's locks report its end.
var LockEventKinds = []EventKind{EventLockAcquired, EventLockReleased, EventLockExpired, EventLockFreed}

// ConfigEventKinds are the published kinds of config changes, in the order
// the README lists them.
var ConfigEventKinds = []EventKind{EventConfigUpdated, EventConfigDeleted}

// FlagEventKinds are the published kinds of feature-flag changes.
var FlagEventKinds = []EventKind{EventFlagUpdated, EventFlagDeleted}

// Family is the part of k before its first dot (lock, config, flag,
// session): what kind of object the event is about. A watch of one name
// follows the events of one family, so that a lock, a config key and a
// flag of the same name are told apart.
func (k EventKind) Family() string {
	if i := strings.IndexByte(string(k), '.'); i >= 0 {
		return string(k[:i])
	}
	return string(k)
}

// IsFlag reports whether k is a change of a feature flag (its Name is a
// flag's).
func (k EventKind) IsFlag() bool { return k.Family() == "flag" }

// Published reports whether events of kind k are shown to watchers,
// the events page and webhooks.
func (k EventKind) Published() bool {
	switch k {
	case EventLockAcquired, EventLockReleased, EventLockExpired, EventLockFreed,
		EventConfigUpdated, EventConfigDeleted, EventFlagUpdated, EventFlagDeleted:
		return true
	}
	return false
}

// Event is one recorded state change. Seq orders all events of a database
// and never repeats. Events carry no capability: no lease or session id,
// no metadata; Holder is kept to show its user, never its session. A
// config or flag event names its key or flag in Name, the version written
// in Version and the user that wrote it in By, never the value or the
// flag's settings.
type Event struct {
	Seq    uint64
	Org    OrgID
	Kind   EventKind
	Name   LockName // the lock's or flag's name; empty for session events
	Holder Holder   // the lock's holder (the one that lost it, for a loss); empty for session and flag events
	Token  FencingToken
	At     time.Time
	// ForcedBy names who ended the lease when it was not its holder: "admin"
	// for a force release (ForcedByAdmin); empty for every other event.
	ForcedBy string
	// Version is the version a config or flag change made (the last one
	// before a deletion); 0 for lock events.
	Version uint64
	// By is the user that made a config or flag change (empty for lock
	// events).
	By string
}

// ForcedByAdmin is the ForcedBy of a lock.released event that the admin's
// force release recorded.
const ForcedByAdmin = "admin"

// Visible reports whether a watcher of org interested in names matching p
// sees e: only published kinds of its own org, and only named locks that
// match.
func (e Event) Visible(org OrgID, p Prefix) bool {
	return e.Org == org && e.Kind.Published() && p.Matches(e.Name)
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
	if e.Version > math.MaxInt64 {
		return fmt.Errorf("event version %d is out of range", e.Version)
	}
	return nil
}
