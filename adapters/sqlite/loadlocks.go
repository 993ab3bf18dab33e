package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sync"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// parallelLoadMin is the number of locks from which Load reads the locks
// table in parallel parts; below it splitting costs more than it saves.
// Tests lower it.
var parallelLoadMin int64 = 50_000

// maxLoadParts caps the parts: reading is CPU-bound, and more parts than
// processors only add splitting work.
const maxLoadParts = 4

// loadParts returns how many parts Load reads count locks in: one for a
// small table, otherwise one per processor (procs) but at least 2 and at
// most maxLoadParts, and never more than the Reader pool's connections or
// the locks.
func loadParts(count int64, procs, readConns int) int {
	if count < parallelLoadMin {
		return 1
	}
	p := min(max(procs, 2), maxLoadParts, readConns)
	return int(max(min(int64(p), count), 1))
}

// lockPart is a contiguous part of the locks table: the keys in (after, to],
// which are the rows start to end-1 of the table in key order.
type lockPart struct {
	after, to  lockKey
	start, end int64
}

// splitLocks splits the count locks of q's snapshot into parts of exact
// sizes, in key order. SQLite finds a split key by stepping over the rows
// before it, so all splits together cost one pass over the keys of every
// part but the last, much less than reading the rows.
func splitLocks(ctx context.Context, q *sqlitedb.Queries, count int64, parts int) ([]lockPart, error) {
	if count == 0 {
		return nil, nil
	}
	last, err := q.LastLockKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("split locks: last key: %w", err)
	}
	ps := make([]lockPart, parts)
	var after lockKey
	for k := range ps {
		p := lockPart{after: after, to: lockKey{last.Org, last.Name},
			start: count * int64(k) / int64(parts), end: count * int64(k+1) / int64(parts)}
		if k < parts-1 {
			r, err := q.LockKeyAfter(ctx, sqlitedb.LockKeyAfterParams{
				AfterOrg: after.org, AfterName: after.name, Skip: p.end - p.start - 1})
			if err != nil {
				return nil, fmt.Errorf("split locks at row %d: %w", p.end, err)
			}
			p.to = lockKey{r.Org, r.Name}
		}
		ps[k] = p
		after = p.to
	}
	return ps, nil
}

// loadLocks reads the count locks of tx's snapshot in key order, checking
// each against the fencing counter, into a slice with room for spare more
// (the change log's overlay merges into it in place). It reads the first
// part on tx and every other part on a Reader transaction of its own, and
// rolls hold (the Writer's transaction, which keeps commits out) back as
// soon as all of those have their snapshot. The parts fill disjoint ranges
// of the result, so no row is copied twice. On any error it returns the
// first one and no locks.
func (j *Journal) loadLocks(ctx context.Context, tx, hold *sql.Tx, count int64, spare int, counter domain.FencingToken, intern map[string]string) ([]domain.Lock, error) {
	locks := make([]domain.Lock, count, int(count)+spare)
	parts, err := splitLocks(ctx, sqlitedb.New(tx), count, loadParts(count, runtime.GOMAXPROCS(0), j.db.readConns))
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
			cancel() // stop the other parts
		}
	}
	var pinned, done sync.WaitGroup
	for _, p := range parts[min(1, len(parts)):] {
		pinned.Add(1)
		done.Go(func() {
			if err := j.readPart(ctx, p, counter, locks[p.start:p.end], &pinned); err != nil {
				fail(err)
			}
		})
	}
	pinned.Wait()
	if err := hold.Rollback(); err != nil {
		fail(fmt.Errorf("release writes: %w", err))
	}
	if len(parts) > 0 {
		p := parts[0]
		if err := readLocks(ctx, tx, p, counter, locks[p.start:p.end], intern); err != nil {
			fail(err)
		}
	}
	done.Wait()
	if first != nil {
		return nil, first
	}
	return locks, nil
}

// readPart reads the locks of p into dst in a read transaction of its own.
// It marks pinned done once that transaction has its snapshot, or failed.
func (j *Journal) readPart(ctx context.Context, p lockPart, counter domain.FencingToken, dst []domain.Lock, pinned *sync.WaitGroup) error {
	tx, err := j.db.Reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		pinned.Done()
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	// A WAL read transaction takes its snapshot at its first read, not at
	// BEGIN; read the counter now, while writes are held.
	c, err := sqlitedb.New(tx).GetCounter(ctx)
	pinned.Done()
	if err != nil {
		return fmt.Errorf("read fencing_counter: %w", err)
	}
	if domain.FencingToken(c) != counter {
		return fmt.Errorf("fencing counter %d in one read transaction, %d in another: commits were not held", c, counter)
	}
	return readLocks(ctx, tx, p, counter, dst, make(map[string]string))
}

// readLocks reads the locks of p into dst, which has room for exactly its
// rows, converting and checking each row as it is scanned. Orgs and
// holders repeat across many locks: they share one string each through
// intern.
func readLocks(ctx context.Context, tx *sql.Tx, p lockPart, counter domain.FencingToken, dst []domain.Lock, intern map[string]string) error {
	rows, err := tx.QueryContext(ctx, sqlitedb.ListLocksRange, p.after.org, p.after.name, p.to.org, p.to.name)
	if err != nil {
		return fmt.Errorf("read locks: %w", err)
	}
	defer rows.Close()
	n := 0
	var r sqlitedb.Lock
	for rows.Next() {
		// The columns of ListLocksRange, in the order its generated method
		// scans them.
		if err := rows.Scan(&r.Org, &r.Name, &r.Holder, &r.LeaseID, &r.FencingToken,
			&r.AcquiredAtMs, &r.ExpiresAtMs, &r.Metadata, &r.Ephemeral, &r.LockDelayMs); err != nil {
			return fmt.Errorf("read locks: %w", err)
		}
		if n == len(dst) {
			return fmt.Errorf("read locks: more than the %d counted in rows %d to %d", len(dst), p.start, p.end-1)
		}
		r.Org, r.Holder = interned(intern, r.Org), interned(intern, r.Holder)
		l, err := lockToDomain(r)
		if err != nil {
			return fmt.Errorf("lock %q/%q: %w", r.Org, r.Name, err)
		}
		if counter < l.Token {
			return fmt.Errorf("lock %q/%q: token %d is above the fencing counter %d", r.Org, r.Name, l.Token, counter)
		}
		dst[n] = l
		n++
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read locks: %w", err)
	}
	if n != len(dst) {
		return fmt.Errorf("read locks: %d in rows %d to %d, want %d", n, p.start, p.end-1, len(dst))
	}
	return nil
}
