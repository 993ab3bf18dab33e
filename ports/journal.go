package ports

import (
	"context"

	"github.com/octostore/octostore/domain"
)

// Journal is durable storage for the committed state. The application keeps
// the live state in memory and uses the journal only to restore it at
// start-up and to make each batch of decisions durable before anyone sees
// them.
type Journal interface {
	// Load returns every stored lock (held or expired but not yet swept),
	// the fencing counter and all stored credentials. It is called once at
	// start-up, before any Commit. A database that cannot be read
	// correctly returns an error rather than a partial snapshot.
	Load(ctx context.Context) (domain.Snapshot, error)

	// Commit applies every change of b, in order, and raises the stored
	// fencing counter to b.Counter, all in one transaction. When Commit
	// returns nil the batch survives a crash (subject to the configured
	// sync mode); when it returns an error nothing of the batch is stored.
	// Commit is called by one goroutine at a time.
	Commit(ctx context.Context, b domain.Batch) error

	// Ping performs a real read against the storage, for health checks.
	Ping(ctx context.Context) error
}
