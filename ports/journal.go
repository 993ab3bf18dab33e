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
	// Load returns every stored lock record (held, or expired but kept for
	// its lock delay or not yet swept) with its Ephemeral and LockDelay,
	// every stored session, the fencing counter, the highest event seq ever
	// stored (it survives trimming; 0 if none), the last-alive time (zero
	// if never recorded), all stored credentials, every webhook (with its
	// cursor), the stored delivery records, the per-org quota
	// overrides (one QuotaSet per org, in org order, never an empty one),
	// the newest version of every config key (by org and key; a deletion
	// for a deleted key), the sizes of every kept config version (per key,
	// contiguous, by org and key), the orgs' config version floors (by
	// org) and the feature flags (by org and name).
	// Times and durations
	// come back at millisecond precision without a monotonic reading. It is
	// called once at start-up, before any Commit. A database that cannot be
	// read correctly returns an error rather than a partial snapshot.
	Load(ctx context.Context) (domain.Snapshot, error)

	// Commit applies every change of b, in order (LockSaved, LockDeleted,
	// SessionSaved, SessionDeleted, CredentialAdded, EventRecorded,
	// EventsTrimmed, WebhookSaved, WebhookDeleted, WebhookAdvanced,
	// DeliveryRecorded, QuotaSet: it replaces the org's overrides, and an
	// empty one removes them; ConfigSaved and ConfigDeleted: they add a
	// version of a key, which must be above every version of the key stored
	// before, and drop the key's versions up to TrimThrough, which must be
	// below the new version; ConfigPurged: it drops every version of a key
	// and raises its org's floor to Floor, never lowering it, and Floor
	// must be at least the key's newest version; FlagSaved, FlagDeleted), raises the stored fencing counter to b.Counter and,
	// when b.AliveAt is not zero, the last-alive time to b.AliveAt, all in
	// one transaction; neither value is ever lowered. A batch with no
	// changes but a newer AliveAt is stored: it is the idle heartbeat.
	// Event seqs must be above every seq stored before, trimmed ones
	// included. An ephemeral lock's session need not be stored. When
	// Commit returns nil the batch survives a crash (subject to the
	// configured sync mode); when it returns an error nothing of the batch
	// is stored, which includes a batch that Load could not read back.
	// Commit is called by one goroutine at a time.
	Commit(ctx context.Context, b domain.Batch) error

	// Events returns up to limit stored events with a seq above after, in
	// seq order, each as committed (Holder included). Events that were
	// trimmed are missing, so a caller that needs every event checks that
	// the first seq returned is after+1. It reads committed data only and
	// may run concurrently with Commit.
	Events(ctx context.Context, after uint64, limit int) ([]domain.Event, error)

	// ConfigHistory returns up to limit stored versions of the config key
	// with a version below 'before' (every version when before is 0),
	// newest first, each as committed. It reads committed data only and
	// may run concurrently with Commit.
	ConfigHistory(ctx context.Context, key domain.LockKey, before uint64, limit int) ([]domain.ConfigEntry, error)

	// Ping performs a real read against the storage, for health checks.
	Ping(ctx context.Context) error
}
