package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// Load reads every lock, every session, the fencing counter, the highest
// event seq, the last-alive time, every credential, every webhook (sorted
// by org, creation time and id) and every delivery record (sorted by
// webhook and seq) as one consistent snapshot; the change log is replayed on the locks and sessions in memory,
// so Load writes nothing (a database it refuses is left as it was). It
// returns an error, never a partial snapshot, when the schema version is not
// the one this build expects (unmigrated, pending migrations, or written by
// a newer build) or when any row breaks an invariant Commit enforces:
// invalid org or name, empty holder, lease id not embedding the row's token,
// token above the counter, lock delay out of range, ephemeral lock without a
// session holder, malformed session, stored event above event_seq, a
// missing or negative meta value, a malformed credential, a webhook or
// delivery record that breaks its Validate (or whose events list or prefix
// cannot be read), or a delivery record of a webhook that is not stored.
//
// It reads on the Reader; a large locks table is read in parts on several
// Reader connections at once (see loadParts), each in its own read
// transaction. So that they all see the same committed state, Load first
// begins a transaction on the Writer, which takes SQLite's write lock, and
// rolls it back (it writes nothing) once every read transaction has taken
// its snapshot; until then commits, from this process or another, wait.
func (j *Journal) Load(ctx context.Context) (domain.Snapshot, error) {
	snap, err := j.load(ctx)
	// A parallel load leaves several Reader connections idle, each holding
	// megabytes of page cache the server will not use again; keep one.
	j.db.Reader.SetMaxIdleConns(1)
	j.db.Reader.SetMaxIdleConns(j.db.readConns)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("load %s: %w", j.db.path, err)
	}
	var aliveMs int64
	if !snap.AliveAt.IsZero() {
		aliveMs = snap.AliveAt.UnixMilli()
	}
	j.noteStored(snap.Counter, aliveMs)
	j.db.vouched.Store(true)
	return snap, nil
}

func (j *Journal) load(ctx context.Context) (domain.Snapshot, error) {
	// Writer transactions are BEGIN IMMEDIATE: this one holds the write lock.
	hold, err := j.db.Writer.BeginTx(ctx, nil)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("hold writes: %w", err)
	}
	defer hold.Rollback() //nolint:errcheck // wrote nothing; may be rolled back already
	tx, err := j.db.Reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	if err := j.db.checkSchema(ctx, tx); err != nil {
		return domain.Snapshot{}, err
	}
	q := sqlitedb.New(tx)
	var snap domain.Snapshot
	if err := loadMeta(ctx, q, &snap); err != nil {
		return domain.Snapshot{}, err
	}

	// The change log holds what is not folded into the tables yet.
	log, err := readLog(ctx, q)
	if err != nil {
		return domain.Snapshot{}, err
	}
	count, err := q.CountLocks(ctx)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("count locks: %w", err)
	}
	// Orgs and holders repeat across many locks: share one string each.
	intern := make(map[string]string)
	snap.Locks, err = j.loadLocks(ctx, tx, hold, count, log.savedLocks(), snap.Counter, intern)
	if err != nil {
		return domain.Snapshot{}, err
	}

	if snap.Sessions, err = loadSessions(ctx, q, intern); err != nil {
		return domain.Snapshot{}, err
	}
	if err := log.overlay(&snap); err != nil {
		return domain.Snapshot{}, err
	}

	creds, err := q.ListCredentials(ctx)
	if err != nil {
		return domain.Snapshot{}, fmt.Errorf("read credentials: %w", err)
	}
	snap.Credentials = make([]domain.Credential, 0, len(creds))
	for i, r := range creds {
		c, err := credentialToDomain(r)
		if err != nil {
			return domain.Snapshot{}, fmt.Errorf("credential %d (user %q): %w", i, r.User, err)
		}
		snap.Credentials = append(snap.Credentials, c)
	}
	if snap.Webhooks, snap.Deliveries, err = loadWebhooks(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.Orgs, snap.Members, err = loadOrgs(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.Configs, err = loadConfigs(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.ConfigSizes, err = loadConfigSizes(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.ConfigFloors, err = loadConfigFloors(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.Teams, snap.ACLs, err = loadAccess(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.Quotas, err = loadQuotas(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	if snap.Flags, err = loadFlags(ctx, q); err != nil {
		return domain.Snapshot{}, err
	}
	return snap, nil
}

// loadMeta reads the single values of the meta table into snap and checks
// that no stored event is above the highest event seq.
func loadMeta(ctx context.Context, q *sqlitedb.Queries, snap *domain.Snapshot) error {
	counter, err := readMeta(ctx, "fencing_counter", q.GetCounter)
	if err != nil {
		return err
	}
	snap.Counter = domain.FencingToken(counter)
	seq, err := readMeta(ctx, "event_seq", q.GetEventSeq)
	if err != nil {
		return err
	}
	top, err := q.MaxEventSeq(ctx)
	if err != nil {
		return fmt.Errorf("read events: %w", err)
	}
	if top > seq {
		return fmt.Errorf("stored event %d is above the event_seq %d", top, seq)
	}
	snap.EventSeq = uint64(seq)
	alive, err := readMeta(ctx, "alive_ms", q.GetAliveAt)
	if err != nil {
		return err
	}
	if alive != 0 {
		snap.AliveAt = time.UnixMilli(alive)
	}
	return nil
}

func interned(m map[string]string, s string) string {
	if v, ok := m[s]; ok {
		return v
	}
	m[s] = s
	return s
}

// lockToDomain converts a locks row and checks it as Commit does.
func lockToDomain(r sqlitedb.Lock) (domain.Lock, error) {
	if r.FencingToken <= 0 {
		return domain.Lock{}, fmt.Errorf("token %d is not positive", r.FencingToken)
	}
	l := domain.Lock{
		Key:        domain.LockKey{Org: domain.OrgID(r.Org), Name: domain.LockName(r.Name)},
		Holder:     domain.Holder(r.Holder),
		Lease:      domain.LeaseID(r.LeaseID),
		Token:      domain.FencingToken(r.FencingToken),
		AcquiredAt: time.UnixMilli(r.AcquiredAtMs),
		ExpiresAt:  time.UnixMilli(r.ExpiresAtMs),
		Metadata:   r.Metadata,
		Ephemeral:  r.Ephemeral == 1,
		LockDelay:  time.Duration(r.LockDelayMs) * time.Millisecond,
	}
	if r.Ephemeral != 0 && r.Ephemeral != 1 {
		return domain.Lock{}, fmt.Errorf("ephemeral flag is %d", r.Ephemeral)
	}
	if r.LockDelayMs < 0 || r.LockDelayMs > domain.MaxLockDelay.Milliseconds() {
		return domain.Lock{}, fmt.Errorf("lock delay %dms is out of range", r.LockDelayMs)
	}
	return l, checkLock(l)
}

// fromLock converts a lock into the parameters of its row.
func fromLock(l domain.Lock) sqlitedb.UpsertLockParams {
	return sqlitedb.UpsertLockParams{
		Org:          string(l.Key.Org),
		Name:         string(l.Key.Name),
		Holder:       string(l.Holder),
		LeaseID:      string(l.Lease),
		FencingToken: int64(l.Token),
		AcquiredAtMs: l.AcquiredAt.UnixMilli(),
		ExpiresAtMs:  l.ExpiresAt.UnixMilli(),
		Metadata:     l.Metadata,
		Ephemeral:    boolInt(l.Ephemeral),
		LockDelayMs:  l.LockDelay.Milliseconds(),
	}
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// checkLock adds to Lock.Validate what SQLite needs: a token that fits in
// an int64 column. Load and Commit both check with it, so that anything
// Commit stores can be loaded again.
func checkLock(l domain.Lock) error {
	if err := l.Validate(); err != nil {
		return err
	}
	if l.Token > math.MaxInt64 {
		return fmt.Errorf("token %d is out of range", l.Token)
	}
	return nil
}

// credentialToDomain converts a credentials row and checks it as Commit does.
func credentialToDomain(r sqlitedb.Credential) (domain.Credential, error) {
	var c domain.Credential
	if len(r.Hash) != len(c.Hash) {
		return c, fmt.Errorf("hash is %d bytes, want %d", len(r.Hash), len(c.Hash))
	}
	if r.Admin != 0 && r.Admin != 1 {
		return c, fmt.Errorf("admin flag is %d", r.Admin)
	}
	copy(c.Hash[:], r.Hash)
	c.Principal = domain.Principal{Org: domain.OrgID(r.Org), User: r.User, Admin: r.Admin == 1}
	if r.CreatedAtMs != 0 {
		c.CreatedAt = time.UnixMilli(r.CreatedAtMs)
	}
	return c, c.Validate()
}

// fromCredential converts a credential into the parameters of its row;
// createdAt is in Unix ms, 0 when unknown.
func fromCredential(c domain.Credential, createdAt int64) sqlitedb.InsertCredentialParams {
	return sqlitedb.InsertCredentialParams{
		Hash:        c.Hash[:],
		Org:         string(c.Principal.Org),
		User:        c.Principal.User,
		Admin:       boolInt(c.Principal.Admin),
		CreatedAtMs: createdAt,
	}
}
