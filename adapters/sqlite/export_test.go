package sqlite

import (
	"context"
	"testing"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// SetFoldEvery makes j fold the change log once it holds n rows, so that
// tests can fold often.
func SetFoldEvery(j *Journal, n int64) { j.foldEvery = n }

// LoadParts is loadParts, for its table test.
var LoadParts = loadParts

// SetParallelLoadMin makes Load read the locks table in parallel parts from
// n locks on, until the end of t. Tests that call it must not be parallel.
func SetParallelLoadMin(t testing.TB, n int64) {
	old := parallelLoadMin
	parallelLoadMin = n
	t.Cleanup(func() { parallelLoadMin = old })
}

// Lock range queries Load runs, by name, for a query plan test.
var LockRangeQueries = map[string]string{
	"ListLocksRange": sqlitedb.ListLocksRange,
	"LockKeyAfter":   sqlitedb.LockKeyAfter,
}

// CheckedSeqBase is the seq of the first change-log row this build appends
// to an empty log.
const CheckedSeqBase = checkedSeqBase

// LogPayload encodes the lock and session changes among changes as this
// build's Commit does, checksum included, without checking them: tests
// store it to doctor a database.
func LogPayload(changes ...domain.Change) []byte {
	var w logWriter
	w.reset()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.LockSaved:
			w.lockSaved(fromLock(c.Lock))
		case domain.LockDeleted:
			w.lockDeleted(c.Key)
		case domain.SessionSaved:
			w.sessionSaved(fromSession(c.Session))
		case domain.SessionDeleted:
			w.sessionDeleted(c.ID)
		}
	}
	return w.payload()
}

// PlainLogPayload is LogPayload in format 1, as builds before the checksum
// wrote it.
func PlainLogPayload(changes ...domain.Change) []byte {
	p := LogPayload(changes...)
	return append([]byte{logFormatPlain}, p[checkedHeader:len(p)-4]...)
}

// CheckpointNow runs one of the background checkpointer's checkpoints on
// its connection (StartCheckpoints must have run) and returns the log's
// frames and those copied.
func CheckpointNow(db *DB) (logFrames, copied int64, err error) {
	return passiveCheckpoint(context.Background(), db.checkpointer)
}
