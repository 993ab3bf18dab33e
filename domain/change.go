package domain

// Change is one durable effect of a decision. The single writer collects the
// changes of many requests into one Batch and commits them in one storage
// transaction; storage adapters switch on the concrete type. Later features
// add their own change types (sessions, lock-delay records, events) so that
// they commit atomically with the lock changes that cause them.
type Change interface{ isChange() }

// LockSaved creates or replaces the record of a held lock.
type LockSaved struct{ Lock Lock }

// LockDeleted removes the record of a lock that was released or expired.
type LockDeleted struct{ Key LockKey }

// CredentialAdded stores a new credential (only its hash).
type CredentialAdded struct{ Credential Credential }

func (LockSaved) isChange()       {}
func (LockDeleted) isChange()     {}
func (CredentialAdded) isChange() {}

// Batch is the unit of commit: changes in decision order plus the fencing
// counter after them, which never decreases.
type Batch struct {
	Changes []Change
	Counter FencingToken
}

// Snapshot is the committed state that storage hands back at start-up.
type Snapshot struct {
	Locks       []Lock
	Counter     FencingToken
	Credentials []Credential
}
