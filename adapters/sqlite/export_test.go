package sqlite

import (
	"testing"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
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
