package sqlite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

func newFolded() *folded {
	return &folded{locks: map[lockKey]lockChange{}, sessions: map[string]sessionChange{}}
}

// realBatches are the kinds of batches the engine commits: acquires,
// releases, sessions opened and closed, an ephemeral lock with metadata.
func realBatches() [][]domain.Change {
	at := time.UnixMilli(1_700_000_000_000)
	sess := domain.Session{ID: "s-7f3a", Org: "acme", Owner: "alice", TTL: 30 * time.Second, CreatedAt: at, ExpiresAt: at.Add(30 * time.Second)}
	lock := func(name string, tok domain.FencingToken) domain.Lock {
		return domain.Lock{Key: domain.LockKey{Org: "acme", Name: domain.LockName(name)}, Holder: "user:alice",
			Lease: domain.NewLeaseID(tok, "9f86d081884c7d65"), Token: tok, AcquiredAt: at, ExpiresAt: at.Add(time.Minute)}
	}
	eph := lock("db/primary", 42)
	eph.Holder, eph.Ephemeral, eph.LockDelay, eph.Metadata = sess.Holder(), true, 5*time.Second, `{"addr":"10.0.0.7:5432"}`
	return [][]domain.Change{
		{domain.LockSaved{Lock: lock("jobs/nightly", 1)}},
		{domain.LockDeleted{Key: domain.LockKey{Org: "acme", Name: "jobs/nightly"}}},
		{domain.SessionSaved{Session: sess}, domain.LockSaved{Lock: eph}},
		{domain.LockDeleted{Key: eph.Key}, domain.SessionDeleted{ID: sess.ID}},
		{domain.LockSaved{Lock: lock("a", 7)}, domain.LockSaved{Lock: lock("b", 8)}, domain.LockDeleted{Key: domain.LockKey{Org: "acme", Name: "a"}}},
	}
}

// FuzzChangeLogDecode: whatever a change-log row holds, decoding it and
// replaying it on a snapshot (with the domain checks Load runs) returns an
// error or a result, and never panics. checked picks the row number: one
// this build wrote (format 2, checksummed) or an earlier build (format 1).
func FuzzChangeLogDecode(f *testing.F) {
	for _, b := range realBatches() {
		f.Add(true, LogPayload(b...))
		f.Add(false, PlainLogPayload(b...))
	}
	f.Fuzz(func(t *testing.T, checked bool, payload []byte) {
		seq := int64(1)
		if checked {
			seq = checkedSeqBase
		}
		fo := newFolded()
		if err := fo.add(seq, payload); err != nil {
			return
		}
		snap := domain.Snapshot{Counter: math.MaxInt64}
		_ = fo.overlay(&snap)
	})
}

// FuzzChangeLogCorruption: a row this build writes for any batch decodes to
// exactly that batch, and any corruption of it (the fuzzer's bytes choose
// the batch and the mutation: bit flips, an overwritten run of bytes, bytes
// inserted, deleted or appended, a truncation) is refused, unless it left
// the row as it was.
func FuzzChangeLogCorruption(f *testing.F) {
	f.Add([]byte("L\x05acme\x0adb/primary"), []byte{mutFlip, 1, 0, 40, 3})
	// A format byte of 1 and a string swallowing the rest: a valid format-1
	// row, refused because of where it is (see logEntries).
	f.Add([]byte("\x01\x03\x02id"), []byte{mutOverwrite, 0, 0, 2, 1, 's', 22})
	// The CRC-32C residue appended: refused because of the length.
	f.Add([]byte("\x01\x01\x01a\x01b"), []byte{mutAppend, 3, 0xc7, 0x4b, 0x67, 0x48})
	f.Add([]byte("s\x03abc"), []byte{mutTruncate, 0, 7})
	f.Add([]byte{}, []byte{mutInsert, 0, 9, 1, 'x'})
	f.Add([]byte("LSls"), []byte{mutDelete, 0, 6, 2})
	f.Fuzz(func(t *testing.T, batch, mutation []byte) {
		w, want := fuzzBatch(batch)
		payload := w.payload()
		got := newFolded()
		if err := got.add(checkedSeqBase, payload); err != nil {
			t.Fatalf("a row as written is refused: %v\n%x", err, payload)
		}
		if !reflect.DeepEqual(got.locks, want.locks) || !reflect.DeepEqual(got.sessions, want.sessions) {
			t.Fatalf("decoded\n%+v\n%+v\nwant\n%+v\n%+v", got.locks, got.sessions, want.locks, want.sessions)
		}
		bad, how := mutate(payload, mutation)
		if bytes.Equal(bad, payload) {
			return
		}
		if err := newFolded().add(checkedSeqBase, bad); err == nil {
			t.Fatalf("%s: the corrupted row is accepted\nwritten   %x\ncorrupted %x", how, payload, bad)
		}
	})
}

// fuzzSource hands out a fuzz input's bytes, then zeros.
type fuzzSource struct{ b []byte }

func (s *fuzzSource) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

// int is a value of up to 8 bytes, its length taken from the first byte
// (so small values are common).
func (s *fuzzSource) int() int64 {
	var v uint64
	for range s.byte() % 9 {
		v = v<<8 | uint64(s.byte())
	}
	return int64(v)
}

func (s *fuzzSource) str() string {
	n := min(int(s.byte()), len(s.b))
	v := string(s.b[:n])
	s.b = s.b[n:]
	return v
}

// fuzzBatch writes the changes data describes, any bytes in their strings
// and any values in their integers (tokens are non-negative, as Commit
// stores them), and returns the writer and what decoding must give.
func fuzzBatch(data []byte) (*logWriter, *folded) {
	src := &fuzzSource{b: data}
	w, want := &logWriter{}, newFolded()
	w.reset()
	for n := 1 + int(src.byte()%16); n > 0; n-- {
		switch src.byte() % 4 {
		case 0:
			l := sqlitedb.UpsertLockParams{Org: src.str(), Name: src.str(), Holder: src.str(), LeaseID: src.str(),
				FencingToken: src.int() & math.MaxInt64, AcquiredAtMs: src.int(), ExpiresAtMs: src.int(),
				Metadata: src.str(), Ephemeral: int64(src.byte()), LockDelayMs: src.int()}
			w.lockSaved(l)
			want.locks[lockKey{l.Org, l.Name}] = lockChange{row: l}
		case 1:
			k := domain.LockKey{Org: domain.OrgID(src.str()), Name: domain.LockName(src.str())}
			w.lockDeleted(k)
			want.locks[lockKey{string(k.Org), string(k.Name)}] = lockChange{deleted: true}
		case 2:
			s := sqlitedb.UpsertSessionParams{ID: src.str(), Org: src.str(), Owner: src.str(),
				TtlMs: src.int(), CreatedAtMs: src.int(), ExpiresAtMs: src.int()}
			w.sessionSaved(s)
			want.sessions[s.ID] = sessionChange{row: s}
		case 3:
			id := src.str()
			w.sessionDeleted(domain.SessionID(id))
			want.sessions[id] = sessionChange{deleted: true}
		}
	}
	return w, want
}

// Mutations, chosen by the first byte of the fuzzer's mutation input.
const (
	mutFlip      = iota // flip up to 6 bits anywhere
	mutOverwrite        // overwrite a run of up to 8 bytes
	mutInsert           // insert up to 8 bytes
	mutDelete           // delete up to 8 bytes
	mutTruncate         // cut the row short
	mutAppend           // append up to 8 bytes
	numMutations
)

// mutate returns a corrupted copy of p, as spec describes, and says how.
func mutate(p, spec []byte) ([]byte, string) {
	src := &fuzzSource{b: spec}
	kind := src.byte() % numMutations
	pos := func(n int) int { return int(binary.BigEndian.Uint16([]byte{src.byte(), src.byte()})) % n }
	q := bytes.Clone(p)
	switch kind {
	case mutFlip:
		var bits []int
		for range 1 + src.byte()%6 {
			b := pos(8 * len(q))
			q[b/8] ^= 1 << (b % 8)
			bits = append(bits, b)
		}
		return q, fmt.Sprintf("bits %v flipped", bits)
	case mutOverwrite:
		at := pos(len(q))
		n := min(1+int(src.byte()%8), len(q)-at)
		for i := range n {
			q[at+i] = src.byte()
		}
		return q, fmt.Sprintf("%d bytes at %d overwritten", n, at)
	case mutInsert:
		at := pos(len(q) + 1)
		ins := make([]byte, 1+src.byte()%8)
		for i := range ins {
			ins[i] = src.byte()
		}
		return append(q[:at:at], append(ins, p[at:]...)...), fmt.Sprintf("%x inserted at %d", ins, at)
	case mutDelete:
		at := pos(len(q))
		n := min(1+int(src.byte()%8), len(q)-at)
		return append(q[:at:at], q[at+n:]...), fmt.Sprintf("%d bytes deleted at %d", n, at)
	case mutTruncate:
		n := pos(len(q))
		return q[:n], fmt.Sprintf("cut to %d bytes", n)
	default:
		app := make([]byte, 1+src.byte()%8)
		for i := range app {
			app[i] = src.byte()
		}
		return append(q, app...), fmt.Sprintf("%x appended", app)
	}
}
