package sqlite

import (
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// The change log (table change_log) holds, one row per committed batch, the
// batch's LockSaved, LockDeleted, SessionSaved and SessionDeleted changes in
// order. Commit appends one row instead of running one statement per
// changed row; fold replays the log into the locks and sessions tables.
// The stored state is always the tables with every log row replayed on top
// in seq order, so a fold changes how the state is stored, never what it is.
//
// A payload is a format byte followed by the entries, each an op byte and
// its fields: strings as a uvarint length and the bytes, integers as
// varints (uvarint for the token), flags as one byte. Strings are stored
// byte for byte, whatever their encoding.
//
// This build writes format 2 (logFormatChecked): the format byte, the
// length of the entries as 4 bytes, the entries, and the CRC-32C
// (Castagnoli) of everything before it as 4 bytes, both little-endian. A
// flipped bit inside a string or a varint, which could decode into another
// valid-looking change, is then refused. The length pins the checksum to
// the end of the row: the CRC-32C of any bytes followed by their own
// CRC-32C is the constant 0x48674bc7, so without it a valid payload with
// those 4 bytes appended would check out too. Builds before this one
// wrote format 1 (logFormatPlain): the format byte and the entries,
// unchecked; a database they left after a crash may still hold such rows,
// and they are read as before.
//
// Which format a row must have is decided by its seq, not by its format
// byte, so that a corrupted format byte cannot switch the check off: this
// build numbers the rows it appends from checkedSeqBase up, while the
// builds that wrote format 1 numbered theirs from 1 and folded (emptying
// the log) every 256 rows, far below it. A row numbered below
// checkedSeqBase must be format 1, and one from it up must be format 2.

// DefaultFoldEvery is the number of change-log rows at which Commit folds
// the log into the tables, inside its own transaction.
const DefaultFoldEvery = 256

// Payload formats.
const (
	logFormatPlain   = 1 // no checksum; written by earlier builds only
	logFormatChecked = 2 // entries' length, entries, CRC-32C of all before it
)

// checkedHeader is the length of a logFormatChecked payload's format byte
// and entries' length.
const checkedHeader = 1 + 4

// checkedSeqBase is the seq of the first row this build appends to an
// empty log; every row it appends is numbered from it up, and must be
// logFormatChecked.
const checkedSeqBase int64 = 1_000_000_000

// crcTable is CRC-32C, which hash/crc32 computes with the CPU's CRC
// instruction where there is one.
var crcTable = crc32.MakeTable(crc32.Castagnoli)

// Entry ops.
const (
	opLockSaved      = 'L'
	opLockDeleted    = 'l'
	opSessionSaved   = 'S'
	opSessionDeleted = 's'
)

// logWriter encodes the log payload of one batch.
type logWriter struct {
	buf []byte
	n   int // entries
}

func (w *logWriter) reset() {
	w.buf = append(w.buf[:0], logFormatChecked, 0, 0, 0, 0) // length set by payload
	w.n = 0
}

// payload completes the entries written since reset (their length and the
// checksum) and returns the row's payload; call it once, after the last
// entry.
func (w *logWriter) payload() []byte {
	binary.LittleEndian.PutUint32(w.buf[1:checkedHeader], uint32(len(w.buf)-checkedHeader))
	w.buf = binary.LittleEndian.AppendUint32(w.buf, crc32.Checksum(w.buf, crcTable))
	return w.buf
}

func (w *logWriter) str(s string) {
	w.buf = binary.AppendUvarint(w.buf, uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *logWriter) int(v int64) { w.buf = binary.AppendVarint(w.buf, v) }

func (w *logWriter) lockSaved(r sqlitedb.UpsertLockParams) {
	w.n++
	w.buf = append(w.buf, opLockSaved)
	w.str(r.Org)
	w.str(r.Name)
	w.str(r.Holder)
	w.str(r.LeaseID)
	w.buf = binary.AppendUvarint(w.buf, uint64(r.FencingToken))
	w.int(r.AcquiredAtMs)
	w.int(r.ExpiresAtMs)
	w.str(r.Metadata)
	w.buf = append(w.buf, byte(r.Ephemeral))
	w.int(r.LockDelayMs)
}

func (w *logWriter) lockDeleted(k domain.LockKey) {
	w.n++
	w.buf = append(w.buf, opLockDeleted)
	w.str(string(k.Org))
	w.str(string(k.Name))
}

func (w *logWriter) sessionSaved(r sqlitedb.UpsertSessionParams) {
	w.n++
	w.buf = append(w.buf, opSessionSaved)
	w.str(r.ID)
	w.str(r.Org)
	w.str(r.Owner)
	w.int(r.TtlMs)
	w.int(r.CreatedAtMs)
	w.int(r.ExpiresAtMs)
}

func (w *logWriter) sessionDeleted(id domain.SessionID) {
	w.n++
	w.buf = append(w.buf, opSessionDeleted)
	w.str(string(id))
}

// logReader decodes one payload; the first error sticks.
type logReader struct {
	buf []byte
	err error
}

func (r *logReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("truncated or malformed %s", what)
	}
}

func (r *logReader) str() string {
	n := r.uint()
	if r.err != nil || n > uint64(len(r.buf)) {
		r.fail("string")
		r.buf = nil
		return ""
	}
	s := string(r.buf[:n])
	r.buf = r.buf[n:]
	return s
}

// int reads a varint, which binary.AppendVarint writes as the zig-zag
// encoding of the value in a uvarint.
func (r *logReader) int() int64 {
	u := r.uint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *logReader) uint() uint64 {
	v, k := binary.Uvarint(r.buf)
	if k <= 0 {
		r.fail("integer")
		r.buf = nil
		return 0
	}
	r.buf = r.buf[k:]
	return v
}

func (r *logReader) byte() byte {
	if len(r.buf) == 0 {
		r.fail("flag")
		return 0
	}
	b := r.buf[0]
	r.buf = r.buf[1:]
	return b
}

// lockKey and the map values of a fold: the last change of each key wins.
type lockKey struct{ org, name string }

type lockChange struct {
	deleted bool
	row     sqlitedb.UpsertLockParams
}

type sessionChange struct {
	deleted bool
	row     sqlitedb.UpsertSessionParams
}

// folded is the coalesced effect of a run of log rows.
type folded struct {
	locks    map[lockKey]lockChange
	sessions map[string]sessionChange
	rows     int   // log rows read
	last     int64 // seq of the last of them
}

// logEntries checks the payload of the change-log row numbered seq (its
// format, and its checksum when it has one) and returns its entries.
func logEntries(seq int64, payload []byte) ([]byte, error) {
	want := byte(logFormatChecked)
	if seq < checkedSeqBase {
		want = logFormatPlain
	}
	if len(payload) == 0 || payload[0] != want {
		got, rows := "empty payload", "from"
		if len(payload) > 0 {
			got = fmt.Sprint(payload[0])
		}
		if want == logFormatPlain {
			rows = "below"
		}
		return nil, fmt.Errorf("unknown payload format (%s): a row numbered %s %d must be format %d", got, rows, checkedSeqBase, want)
	}
	if want == logFormatPlain {
		return payload[1:], nil
	}
	if len(payload) < checkedHeader+crc32.Size {
		return nil, fmt.Errorf("payload of %d bytes is too short for its length and checksum", len(payload))
	}
	n := len(payload) - crc32.Size
	if size := binary.LittleEndian.Uint32(payload[1:checkedHeader]); uint64(size) != uint64(n-checkedHeader) {
		return nil, fmt.Errorf("entries of %d bytes where the row says %d: the row is corrupt", n-checkedHeader, size)
	}
	stored, sum := binary.LittleEndian.Uint32(payload[n:]), crc32.Checksum(payload[:n], crcTable)
	if stored != sum {
		return nil, fmt.Errorf("checksum mismatch (stored %#08x, computed %#08x): the row is corrupt", stored, sum)
	}
	return payload[checkedHeader:n], nil
}

// add decodes the payload of the change-log row numbered seq and replays
// its entries on f. On error f may hold some of the row's entries.
func (f *folded) add(seq int64, payload []byte) error {
	entries, err := logEntries(seq, payload)
	if err != nil {
		return err
	}
	r := logReader{buf: entries}
	for i := 0; len(r.buf) > 0 && r.err == nil; i++ {
		switch op := r.byte(); op {
		case opLockSaved:
			var l sqlitedb.UpsertLockParams
			l.Org, l.Name, l.Holder, l.LeaseID = r.str(), r.str(), r.str(), r.str()
			tok := r.uint()
			l.AcquiredAtMs, l.ExpiresAtMs = r.int(), r.int()
			l.Metadata = r.str()
			l.Ephemeral = int64(r.byte())
			l.LockDelayMs = r.int()
			if tok > 1<<63-1 {
				return fmt.Errorf("entry %d: token %d is out of range", i, tok)
			}
			l.FencingToken = int64(tok)
			f.locks[lockKey{l.Org, l.Name}] = lockChange{row: l}
		case opLockDeleted:
			org, name := r.str(), r.str()
			f.locks[lockKey{org, name}] = lockChange{deleted: true}
		case opSessionSaved:
			var s sqlitedb.UpsertSessionParams
			s.ID, s.Org, s.Owner = r.str(), r.str(), r.str()
			s.TtlMs, s.CreatedAtMs, s.ExpiresAtMs = r.int(), r.int(), r.int()
			f.sessions[s.ID] = sessionChange{row: s}
		case opSessionDeleted:
			f.sessions[r.str()] = sessionChange{deleted: true}
		default:
			if r.err == nil {
				return fmt.Errorf("entry %d: unknown op %#x", i, op)
			}
		}
		if r.err != nil {
			return fmt.Errorf("entry %d: %w", i, r.err)
		}
	}
	return nil
}

// fold replays every change-log row into the locks and sessions tables,
// one statement per key that changed (the last change of a key wins; a
// delete of a key the table does not hold is a no-op), and deletes the
// rows, all through q, which must be in a write transaction. It returns
// the number of rows folded.
func fold(ctx context.Context, q *sqlitedb.Queries) (int, error) {
	f, err := readLog(ctx, q)
	if err != nil || f == nil {
		return 0, err
	}
	// In key order: B-tree pages filled in order stay full, where map order
	// left them half empty (a bulk load doubled the file).
	for _, k := range slices.SortedFunc(maps.Keys(f.locks), func(a, b lockKey) int {
		return cmp.Or(cmp.Compare(a.org, b.org), cmp.Compare(a.name, b.name))
	}) {
		c := f.locks[k]
		if c.deleted {
			err = q.DeleteLock(ctx, sqlitedb.DeleteLockParams{Org: k.org, Name: k.name})
		} else {
			err = q.UpsertLock(ctx, c.row)
		}
		if err != nil {
			return 0, fmt.Errorf("fold change log: lock %q/%q: %w", k.org, k.name, err)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(f.sessions)) {
		c := f.sessions[id]
		if c.deleted {
			err = q.DeleteSession(ctx, id)
		} else {
			err = q.UpsertSession(ctx, c.row)
		}
		if err != nil {
			return 0, fmt.Errorf("fold change log: session %q: %w", id, err)
		}
	}
	if err := q.DeleteChangesThrough(ctx, f.last); err != nil {
		return 0, fmt.Errorf("fold change log: delete folded rows: %w", err)
	}
	return f.rows, nil
}

// Fold folds the change log into the tables in one transaction on the
// Writer; it is a no-op when the log is empty. It refuses a database whose
// schema version is not this build's. Close folds too; Fold is for tests
// and operator tooling.
func (db *DB) Fold(ctx context.Context) error {
	tx, err := db.Writer.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("fold %s: begin: %w", db.path, err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if err := db.checkSchema(ctx, tx); err != nil {
		return fmt.Errorf("fold %s: %w", db.path, err)
	}
	if _, err := fold(ctx, sqlitedb.New(tx)); err != nil {
		return fmt.Errorf("fold %s: %w", db.path, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("fold %s: %w", db.path, err)
	}
	return nil
}

// changeLogVersion is the schema version that created the change log
// (00003). Every version from it up to this build's has the log and the
// locks and sessions tables that fold writes.
const changeLogVersion = 3

// foldIfKnown folds the change log when the database's schema version is
// one this build can fold (changeLogVersion up to its own) and the log is
// not empty; a database without the log table, with a version newer than
// this build's, or that cannot be written (read-only) is left alone. Close
// and MigrateDown call it: an older version is folded too, so that rolling
// back 00003 never drops rows a build at version 3 left in the log.
func (db *DB) foldIfKnown(ctx context.Context) error {
	tx, err := db.Writer.BeginTx(ctx, nil)
	if isReadOnly(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fold: begin: %w", err)
	}
	defer tx.Rollback() //nolint:errcheck // after Commit, a no-op
	if have, err := storedVersion(ctx, tx); err != nil || have < changeLogVersion || have > db.latestVersion() {
		return nil
	}
	n, err := fold(ctx, sqlitedb.New(tx))
	if isReadOnly(err) || n == 0 {
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil && !isReadOnly(err) {
		return fmt.Errorf("fold: %w", err)
	}
	return nil
}

// readLog decodes every change-log row through q into their coalesced
// effect (nil when the log is empty).
func readLog(ctx context.Context, q *sqlitedb.Queries) (*folded, error) {
	rows, err := q.ListChanges(ctx)
	if err != nil {
		return nil, fmt.Errorf("read change log: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	f := &folded{locks: make(map[lockKey]lockChange), sessions: make(map[string]sessionChange),
		rows: len(rows), last: rows[len(rows)-1].Seq}
	for _, r := range rows {
		if err := f.add(r.Seq, r.Payload); err != nil {
			return nil, fmt.Errorf("change log row %d: %w", r.Seq, err)
		}
	}
	return f, nil
}

// savedLocks is the number of locks f saves, an upper bound on how many it
// adds to the tables' locks.
func (f *folded) savedLocks() int {
	if f == nil {
		return 0
	}
	n := 0
	for _, c := range f.locks {
		if !c.deleted {
			n++
		}
	}
	return n
}

// overlay replays f on snap, whose locks and sessions were read from the
// tables, sorted by key: this is what a fold would store, without writing.
// Replayed rows are converted and checked as table rows are; snap stays
// sorted.
func (f *folded) overlay(snap *domain.Snapshot) error {
	if f == nil {
		return nil
	}
	seen := make(map[lockKey]bool, len(f.locks))
	kept := snap.Locks[:0]
	for _, l := range snap.Locks {
		k := lockKey{string(l.Key.Org), string(l.Key.Name)}
		c, ok := f.locks[k]
		switch {
		case !ok:
			kept = append(kept, l)
		case !c.deleted:
			seen[k] = true
			nl, err := logLock(c.row, snap.Counter)
			if err != nil {
				return err
			}
			kept = append(kept, nl)
		}
	}
	var added []domain.Lock
	for k, c := range f.locks {
		if c.deleted || seen[k] {
			continue
		}
		l, err := logLock(c.row, snap.Counter)
		if err != nil {
			return err
		}
		added = append(added, l)
	}
	snap.Locks = mergeSorted(kept, added, func(a, b domain.Lock) int {
		return cmp.Or(cmp.Compare(a.Key.Org, b.Key.Org), cmp.Compare(a.Key.Name, b.Key.Name))
	})

	sessions := snap.Sessions[:0:0]
	for _, s := range snap.Sessions {
		if _, changed := f.sessions[string(s.ID)]; !changed {
			sessions = append(sessions, s)
		}
	}
	for id, c := range f.sessions {
		if c.deleted {
			continue
		}
		s, err := sessionToDomain(sqlitedb.Session(c.row))
		if err != nil {
			return fmt.Errorf("change log: session %q: %w", id, err)
		}
		sessions = append(sessions, s)
	}
	slices.SortFunc(sessions, func(a, b domain.Session) int { return cmp.Compare(a.ID, b.ID) })
	snap.Sessions = sessions
	return nil
}

// logLock converts a lock saved in the change log and checks it as Load
// checks a locks row.
func logLock(r sqlitedb.UpsertLockParams, counter domain.FencingToken) (domain.Lock, error) {
	l, err := lockToDomain(sqlitedb.Lock(r))
	if err != nil {
		return domain.Lock{}, fmt.Errorf("change log: lock %q/%q: %w", r.Org, r.Name, err)
	}
	if counter < l.Token {
		return domain.Lock{}, fmt.Errorf("change log: lock %q/%q: token %d is above the fencing counter %d", r.Org, r.Name, l.Token, counter)
	}
	return l, nil
}

// mergeSorted merges the sorted b into the sorted a, in place when a has
// the capacity (Load allocates it so): from the back, so nothing is
// overwritten before it moves.
func mergeSorted[T any](a, b []T, compare func(T, T) int) []T {
	if len(b) == 0 {
		return a
	}
	slices.SortFunc(b, compare)
	i, j := len(a)-1, len(b)-1
	a = slices.Grow(a, len(b))[:len(a)+len(b)]
	for k := len(a) - 1; j >= 0; k-- {
		if i >= 0 && compare(a[i], b[j]) > 0 {
			a[k] = a[i]
			i--
		} else {
			a[k] = b[j]
			j--
		}
	}
	return a
}
