package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// Checkpoints copy the write-ahead log into the main file. SQLite does it
// by default inside the commit that takes the log past 1,000 pages (4 MiB),
// on the committing connection: that commit returns only after copying
// those pages and syncing the file, and the single writer commits nothing
// meanwhile. Under a stream of large config values that was a stall of
// tens of milliseconds every few hundred, felt by every lock request
// waiting on the writer. StartCheckpoints moves the work to a connection of
// its own: WAL lets a checkpoint run beside the writer's commits. The
// writer still checkpoints itself once the log passes backstopPages, should
// the background one fall behind or fail.

// backstopPages is the writer's own automatic checkpoint (40 MiB of log).
const backstopPages = 10_000

// DefaultCheckpointEvery is how often the background checkpointer looks at
// the log; with nothing new in it a look costs microseconds.
const DefaultCheckpointEvery = 100 * time.Millisecond

// StartCheckpoints checkpoints the log every interval on a connection of
// its own until Close, which stops it before its final checkpoint. report
// hears of a failed checkpoint (nil: nobody); the next one tries again and
// the writer's backstop still bounds the log. Calling it again does
// nothing.
func (db *DB) StartCheckpoints(every time.Duration, report func(error)) error {
	if db.stopCheckpoints != nil {
		return nil
	}
	if every <= 0 {
		every = DefaultCheckpointEvery
	}
	conn, err := sql.Open("sqlite", db.checkpointDSN)
	if err != nil {
		return fmt.Errorf("open sqlite checkpointer %s: %w", db.path, err)
	}
	conn.SetMaxOpenConns(1)
	conn.SetMaxIdleConns(1)
	conn.SetConnMaxLifetime(0)
	conn.SetConnMaxIdleTime(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, _, err := passiveCheckpoint(ctx, conn); err != nil && ctx.Err() == nil && report != nil {
				report(err)
			}
		}
	}()
	db.checkpointer = conn
	db.stopCheckpoints = func() {
		cancel()
		<-done
		_ = conn.Close()
	}
	return nil
}

// passiveCheckpoint copies what it can of the log into the main file
// without waiting for the writer or readers, and returns the log's frames
// and those copied.
func passiveCheckpoint(ctx context.Context, conn *sql.DB) (logFrames, copied int64, err error) {
	var busy int64
	if err := conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied); err != nil {
		return 0, 0, fmt.Errorf("checkpoint: %w", err)
	}
	return logFrames, copied, nil
}
