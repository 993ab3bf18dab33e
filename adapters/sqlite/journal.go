package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

var _ ports.Journal = (*Journal)(nil)

// Journal implements ports.Journal on a DB. Commits run on the Writer in one
// BEGIN IMMEDIATE transaction each; Load and Ping use the Reader. It is safe
// for concurrent use, although the application commits from one goroutine.
type Journal struct {
	db *DB

	mu       sync.Mutex // guards prepared
	prepared *sqlitedb.Queries

	// stored is a counter value known to be committed, so that a batch with
	// no changes and no higher counter can skip the transaction.
	stored atomic.Uint64
}

// NewJournal returns a Journal on db. It touches nothing until the first
// call; the schema must be migrated (DB.Migrate) by then.
func NewJournal(db *DB) *Journal { return &Journal{db: db} }

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

// Commit applies the changes of b in order and raises the fencing counter
// to b.Counter in one immediate transaction; on any error the transaction
// is rolled back and nothing of b is stored. Besides storage errors it
// refuses (with an error) a change of unknown type (including nil), a lock
// that Load would refuse (invalid org or name, empty holder, lease id not
// embedding its token), a lock whose token is above the resulting counter,
// and a credential whose hash is already stored.
func (j *Journal) Commit(ctx context.Context, b domain.Batch) (err error) {
	if len(b.Changes) == 0 && uint64(b.Counter) <= j.stored.Load() {
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
	counter, err := apply(ctx, q.WithTx(tx), b)
	if err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit batch: %w", err)
	}
	j.noteStored(counter)
	return nil
}

// apply writes the changes of b through q and returns the stored counter.
func apply(ctx context.Context, q *sqlitedb.Queries, b domain.Batch) (domain.FencingToken, error) {
	var top domain.FencingToken // highest token saved by this batch
	now := time.Now().UnixMilli()
	for i, c := range b.Changes {
		var err error
		switch c := c.(type) {
		case domain.LockSaved:
			if err = checkLock(c.Lock); err == nil {
				top = max(top, c.Lock.Token)
				err = q.UpsertLock(ctx, fromLock(c.Lock))
			}
		case domain.LockDeleted:
			err = q.DeleteLock(ctx, sqlitedb.DeleteLockParams{Org: string(c.Key.Org), Name: string(c.Key.Name)})
		case domain.CredentialAdded:
			if err = checkCredential(c.Credential); err == nil {
				err = q.InsertCredential(ctx, fromCredential(c.Credential, now))
			}
		default:
			err = fmt.Errorf("unknown change type %T", c)
		}
		if err != nil {
			return 0, fmt.Errorf("change %d: %w", i, err)
		}
	}
	stored, err := q.RaiseCounter(ctx, int64(b.Counter))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, errors.New("raise counter: the fencing_counter row is missing")
	}
	if err != nil {
		return 0, fmt.Errorf("raise counter: %w", err)
	}
	counter := domain.FencingToken(stored)
	if counter < top {
		return 0, fmt.Errorf("lock token %d is above the fencing counter %d", top, counter)
	}
	return counter, nil
}

// noteStored records that the stored counter is at least c.
func (j *Journal) noteStored(c domain.FencingToken) {
	for {
		old := j.stored.Load()
		if uint64(c) <= old || j.stored.CompareAndSwap(old, uint64(c)) {
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
