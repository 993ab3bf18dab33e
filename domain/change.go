package domain

import "time"

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

// CredentialRevoked removes a stored credential: its token stops working
// with the commit. Revoking a hash that is not stored changes nothing.
type CredentialRevoked struct{ Hash TokenHash }

// EventsTrimmed deletes stored events with Seq <= Through, bounding the
// outbox; readers that fall further behind are told they lagged. A journal
// may keep some of them longer (SQLite trims whole batches), so readers
// skip what they have seen by seq.
type EventsTrimmed struct{ Through uint64 }

// EventRecorded appends an event to the outbox that watchers and webhooks
// read; it commits with the change it reports.
type EventRecorded struct{ Event Event }

// WebhookSaved creates a webhook subscription or replaces it (its cursor
// included).
type WebhookSaved struct{ Webhook Webhook }

// WebhookDeleted removes a webhook and its delivery records.
type WebhookDeleted struct{ ID WebhookID }

// WebhookAdvanced records that every event up to Cursor has been handled
// for the webhook: delivered, given up on, or not wanted by it.
type WebhookAdvanced struct {
	ID     WebhookID
	Cursor uint64
}

// DeliveryRecorded creates or replaces the record of one delivery (one
// webhook, one event) after an attempt.
type DeliveryRecorded struct{ Delivery Delivery }

func (LockSaved) isChange()         {}
func (LockDeleted) isChange()       {}
func (SessionSaved) isChange()      {}
func (SessionDeleted) isChange()    {}
func (CredentialAdded) isChange()   {}
func (CredentialRevoked) isChange() {}
func (EventRecorded) isChange()     {}
func (EventsTrimmed) isChange()     {}
func (WebhookSaved) isChange()      {}
func (WebhookDeleted) isChange()    {}
func (WebhookAdvanced) isChange()   {}
func (DeliveryRecorded) isChange()  {}

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
	Webhooks    []Webhook
	// Deliveries are the stored delivery records, per webhook in seq
	// order.
	Deliveries []Delivery
	// Orgs are the registered orgs, Members their users, by org and user.
	Orgs    []Org
	Members []Member
	// Quotas are the stored per-org quota overrides, one per org.
	Quotas []QuotaSet
	// Configs are the newest stored version of every config key (a
	// deletion for a deleted key), by org and key; their values are
	// the current ones.
	Configs []ConfigEntry
	// ConfigSizes are the sizes of every kept version of every config
	// key, by org and key (one per key of Configs); ConfigFloors the
	// orgs' version floors, by org (only orgs that purged a key).
	ConfigSizes  []ConfigSizes
	ConfigFloors []ConfigFloor
	// Flags are the stored feature flags, by org and name.
	Flags []Flag
	// Teams and ACLs are every org's teams and ACL rules.
	Teams []Team
	ACLs  []ACL
}
