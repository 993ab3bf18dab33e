package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

var _ ports.Journal = (*Journal)(nil)

// Journal implements ports.Journal on a DB. Commits run on the Writer in one
// BEGIN IMMEDIATE transaction each and store the lock and session changes
// of a batch as one change-log row and its events as one event_batches row
// (the rare webhook changes go straight to their tables);
// the log is folded into the tables every DefaultFoldEvery rows (see
// changelog.go). Load and Ping use the Reader. It is safe for concurrent
// use, although the application commits from one goroutine.
type Journal struct {
	db *DB

	mu       sync.Mutex // guards prepared
	prepared *sqlitedb.Queries

	// stored and aliveMs are a counter and an alive_ms value known to be
	// committed, so that a batch with no changes that would raise neither
	// can skip the transaction.
	stored  atomic.Uint64
	aliveMs atomic.Int64

	// foldEvery is the change-log length at which Commit folds the log
	// (DefaultFoldEvery; tests lower it).
	foldEvery int64
}

// NewJournal returns a Journal on db. It touches nothing until the first
// call; the schema must be migrated (DB.Migrate) by then.
func NewJournal(db *DB) *Journal { return &Journal{db: db, foldEvery: DefaultFoldEvery} }

// queries returns the Writer's prepared statements, preparing them on first
// use (they need the tables, which Open does not create).
func (j *Journal) queries(ctx context.Context) (*sqlitedb.Queries, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.prepared == nil {
		q, err := sqlitedb.Prepare(ctx, j.db.Writer)
		if err != nil {
			return nil, err
		}
		j.prepared = q
	}
	return j.prepared, nil
}

// Commit applies the changes of b in order, raises the fencing counter to
// b.Counter and the last-alive time to b.AliveAt (when it is not zero), in
// one immediate transaction; on any error the transaction is rolled back
// and nothing of b is stored. A batch without changes is still committed
// when it raises the counter or the last-alive time (the idle heartbeat).
//
// Besides storage errors it refuses (with an error) a change of unknown
// type (including nil) and anything Load would refuse: a lock with an
// invalid org or name, an empty holder, a lease id not embedding its token,
// a lock delay outside [0, domain.MaxLockDelay], or marked ephemeral
// without a "session:<id>" holder; a lock whose token is above the
// resulting counter; a session with an empty or over-long id, an invalid
// org, no owner or a TTL under a millisecond; an event with seq 0, an
// empty kind, or a seq not above every event stored or recorded before it;
// a credential whose hash is already stored; a webhook or delivery record
// that breaks its Validate, a webhook cursor above math.MaxInt64, and a
// config version that breaks ConfigEntry.Validate, is not above the key's
// newest stored version or would trim itself, and a config purge with a
// floor of 0, above math.MaxInt64 or below the key's newest version. An
// ephemeral lock's session need not be stored. Config versions are plain
// inserts (the value stored as it is) with the key's older versions
// trimmed, through the version the writer chose, in the same transaction.
//
// WebhookSaved keeps the webhook's delivery records; WebhookDeleted drops
// them; WebhookAdvanced never lowers a cursor. WebhookAdvanced and
// DeliveryRecorded for a webhook that is not stored (deleted earlier in
// the batch) do nothing. Each webhook keeps its domain.MaxDeliveryRecords
// newest delivery records.
func (j *Journal) Commit(ctx context.Context, b domain.Batch) (err error) {
	if len(b.Changes) == 0 && uint64(b.Counter) <= j.stored.Load() && !j.raisesAlive(b.AliveAt) {
		return nil
	}
	if b.Counter > math.MaxInt64 {
		return fmt.Errorf("commit batch: counter %d does not fit in SQLite", b.Counter)
	}
	q, err := j.queries(ctx)
	if err != nil {
		return fmt.Errorf("commit batch: prepare: %w", err)
	}
	tx, err := j.db.Writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("commit batch: begin: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback() // the error that made us roll back is the one to report
		}
	}()
	res, err := apply(ctx, q.WithTx(tx), b, j.foldEvery)
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	j.noteStored(res.counter, res.aliveMs)
	j.db.vouched.Store(true)
	return nil
}

// applied is what a batch left in the meta table.
type applied struct {
	counter domain.FencingToken
	aliveMs int64
}

// apply writes the changes of b through q and returns the stored counter
// and alive_ms. The lock and session changes go to one change-log row and
// the events to one event_batches row; when the log then holds foldEvery
// rows or more, it is folded into the tables. Webhook changes are written
// to their tables as they come.
func apply(ctx context.Context, q *sqlitedb.Queries, b domain.Batch, foldEvery int64) (applied, error) {
	res, err := raiseMeta(ctx, q, b)
	if err != nil {
		return applied{}, err
	}
	var top domain.FencingToken // highest token saved by this batch
	var events eventRows        // inserted together, in one statement
	var log logWriter           // lock and session changes: one change-log row
	log.reset()
	for i, c := range b.Changes {
		var err error
		switch c := c.(type) {
		case domain.LockSaved:
			if err = checkLock(c.Lock); err == nil {
				top = max(top, c.Lock.Token)
				log.lockSaved(fromLock(c.Lock))
			}
		case domain.LockDeleted:
			log.lockDeleted(c.Key)
		case domain.SessionSaved:
			if err = checkSession(c.Session); err == nil {
				log.sessionSaved(fromSession(c.Session))
			}
		case domain.SessionDeleted:
			log.sessionDeleted(c.ID)
		case domain.CredentialAdded:
			if err = c.Credential.Validate(); err == nil {
				var created int64 // 0: unknown
				if !c.Credential.CreatedAt.IsZero() {
					created = c.Credential.CreatedAt.UnixMilli()
				}
				err = q.InsertCredential(ctx, fromCredential(c.Credential, created))
			}
		case domain.CredentialRevoked:
			err = q.DeleteCredential(ctx, c.Hash[:])
		case domain.EventRecorded:
			events = append(events, fromEvent(c.Event)) // checked by claimEventSeqs
		case domain.EventsTrimmed:
			if err = events.flush(ctx, q); err == nil {
				events = events[:0]
				err = q.DeleteEventsThrough(ctx, int64(min(c.Through, math.MaxInt64)))
			}
		case domain.WebhookSaved, domain.WebhookDeleted, domain.WebhookAdvanced, domain.DeliveryRecorded:
			err = applyWebhookChange(ctx, q, c)
		case domain.OrgCreated, domain.MemberSaved:
			err = applyOrgChange(ctx, q, c)
		case domain.QuotaSet:
			err = applyQuotaSet(ctx, q, c)
		case domain.ConfigSaved:
			if c.Entry.Deleted {
				err = fmt.Errorf("config %s: a saved value marked deleted", c.Entry.Key.Name)
			} else {
				err = applyConfig(ctx, q, c.Entry, c.TrimThrough)
			}
		case domain.ConfigDeleted:
			if !c.Entry.Deleted {
				err = fmt.Errorf("config %s: a deletion not marked deleted", c.Entry.Key.Name)
			} else {
				err = applyConfig(ctx, q, c.Entry, c.TrimThrough)
			}
		case domain.ConfigPurged:
			err = applyConfigPurge(ctx, q, c)
		case domain.FlagSaved, domain.FlagDeleted:
			err = applyFlagChange(ctx, q, c)
		case domain.TeamSaved, domain.TeamDeleted, domain.ACLSaved, domain.ACLDeleted:
			err = applyAccessChange(ctx, q, c)
		default:
			err = fmt.Errorf("unknown change type %T", c)
		}
		if err != nil {
			return applied{}, fmt.Errorf("change %d: %w", i, err)
		}
	}
	if err := events.flush(ctx, q); err != nil {
		return applied{}, fmt.Errorf("events: %w", err)
	}
	if log.n > 0 {
		seq, err := q.AppendChanges(ctx, sqlitedb.AppendChangesParams{Base: checkedSeqBase, Payload: log.payload()})
		if err != nil {
			return applied{}, fmt.Errorf("append to the change log: %w", err)
		}
		// Rows this build appends are numbered from checkedSeqBase, and a
		// fold deletes every row, so this is the number of rows it
		// appended since the last fold.
		if seq-checkedSeqBase+1 >= foldEvery {
			if _, err := fold(ctx, q); err != nil {
				return applied{}, err
			}
		}
	}
	if res.counter < top {
		return applied{}, fmt.Errorf("lock token %d is above the fencing counter %d", top, res.counter)
	}
	return res, nil
}

// raiseMeta checks the events of b and, in one statement, raises the stored
// event_seq to the last of them, the fencing counter to b.Counter and
// alive_ms to b.AliveAt; it runs before any event is inserted. The events'
// seqs must be valid, increase strictly, and lie above every seq stored
// before.
func raiseMeta(ctx context.Context, q *sqlitedb.Queries, b domain.Batch) (applied, error) {
	var first, last uint64
	for i, c := range b.Changes {
		if e, ok := c.(domain.EventRecorded); ok {
			if err := e.Event.Follows(last); err != nil {
				return applied{}, fmt.Errorf("change %d: %w", i, err)
			}
			if first == 0 {
				first = e.Event.Seq
			}
			last = e.Event.Seq
		}
	}
	var aliveMs int64
	if !b.AliveAt.IsZero() {
		aliveMs = b.AliveAt.UnixMilli()
	}
	rows, err := q.RaiseMeta(ctx, sqlitedb.RaiseMetaParams{
		Counter: int64(b.Counter), AliveMs: aliveMs, FirstEvent: int64(first), LastEvent: int64(last),
	})
	if err != nil && last != 0 {
		// The statement refuses a claim below the stored event_seq; the
		// stored value says whether that was the cause.
		if stored, rerr := readMeta(ctx, "event_seq", q.GetEventSeq); rerr == nil && stored >= int64(first) {
			return applied{}, fmt.Errorf("event seq %d is not above the stored %d", first, stored)
		}
	}
	if err != nil {
		return applied{}, fmt.Errorf("raise meta values: %w", err)
	}
	var res applied
	found := 0
	for _, r := range rows {
		switch r.Key {
		case "fencing_counter":
			res.counter = domain.FencingToken(r.Value)
		case "alive_ms":
			res.aliveMs = r.Value
		}
		if r.Value < 0 {
			return applied{}, fmt.Errorf("%s %d is negative", r.Key, r.Value)
		}
		found++
	}
	if found != 3 {
		for _, key := range []string{"fencing_counter", "event_seq", "alive_ms"} {
			if !slices.ContainsFunc(rows, func(m sqlitedb.Meta) bool { return m.Key == key }) {
				return applied{}, fmt.Errorf("raise meta values: the %s row is missing", key)
			}
		}
	}
	return res, nil
}

// readMeta reads the meta row key with get, which fails when it is missing.
func readMeta(ctx context.Context, key string, get func(context.Context) (int64, error)) (int64, error) {
	v, err := get(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("the %s row is missing", key)
	}
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", key, err)
	}
	if v < 0 {
		return 0, fmt.Errorf("%s %d is negative", key, v)
	}
	return v, nil
}

// raisesAlive reports whether committing t would raise the stored alive_ms
// as far as this Journal knows.
func (j *Journal) raisesAlive(t time.Time) bool {
	return !t.IsZero() && t.UnixMilli() > j.aliveMs.Load()
}

// noteStored records that the stored counter is at least c and the stored
// alive_ms at least aliveMs.
func (j *Journal) noteStored(c domain.FencingToken, aliveMs int64) {
	for {
		old := j.stored.Load()
		if uint64(c) <= old || j.stored.CompareAndSwap(old, uint64(c)) {
			break
		}
	}
	for {
		old := j.aliveMs.Load()
		if aliveMs <= old || j.aliveMs.CompareAndSwap(old, aliveMs) {
			return
		}
	}
}

// Ping runs a query on the Reader. Returns an error if the database cannot
// be read or the schema is not there.
func (j *Journal) Ping(ctx context.Context) error {
	if _, err := sqlitedb.New(j.db.Reader).Ping(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}
