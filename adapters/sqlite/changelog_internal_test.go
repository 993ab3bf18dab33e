package sqlite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// TestLogReaderRoundTrip: what logWriter encodes, logReader decodes,
// negative and extreme integers included; a truncated buffer is an error.
func TestLogReaderRoundTrip(t *testing.T) {
	var w logWriter
	ints := []int64{0, 1, -1, 63, -64, 1 << 40, math.MaxInt64, math.MinInt64}
	for _, v := range ints {
		w.int(v)
	}
	w.str("")
	w.str("héllo\xff")
	r := logReader{buf: w.buf}
	for _, want := range ints {
		if got := r.int(); got != want {
			t.Errorf("int = %d, want %d", got, want)
		}
	}
	if a, b := r.str(), r.str(); a != "" || b != "héllo\xff" || r.err != nil || len(r.buf) != 0 {
		t.Errorf("strings %q %q, err %v, %d bytes left", a, b, r.err, len(r.buf))
	}
	w.buf = w.buf[:0]
	w.str("truncated")
	r = logReader{buf: w.buf[:4]}
	if s := r.str(); s != "" || r.err == nil {
		t.Errorf("truncated string = %q, %v; want an error", s, r.err)
	}
}

// TestLogEntriesChecksFormatBySeq: a row numbered below checkedSeqBase must
// be format 1 and is read unchecked; one numbered from it up must be format
// 2, of the length it says, with a matching checksum.
func TestLogEntriesChecksFormatBySeq(t *testing.T) {
	lock := domain.LockSaved{Lock: domain.Lock{Key: domain.LockKey{Org: "acme", Name: "a"}, Holder: "user:alice",
		Lease: domain.NewLeaseID(1, "x"), Token: 1, AcquiredAt: time.UnixMilli(1), ExpiresAt: time.UnixMilli(2)}}
	checked, plain := LogPayload(lock), PlainLogPayload(lock)
	if !bytes.Equal(checked[checkedHeader:len(checked)-4], plain[1:]) {
		t.Fatalf("the formats hold different entries:\n%x\n%x", checked, plain)
	}
	flipped := bytes.Clone(checked)
	flipped[len(flipped)-5] ^= 1 // the last byte of the entries
	for _, tc := range []struct {
		name    string
		seq     int64
		payload []byte
		want    string // "" if accepted
	}{
		{"format 2 from the base", checkedSeqBase, checked, ""},
		{"format 2 above the base", checkedSeqBase + 300, checked, ""},
		{"format 1 below the base", checkedSeqBase - 1, plain, ""},
		{"format 1 from the base", checkedSeqBase, plain, "unknown payload format (1): a row numbered from 1000000000 must be format 2"},
		{"format 2 below the base", 7, checked, "unknown payload format (2): a row numbered below 1000000000 must be format 1"},
		{"empty", checkedSeqBase, nil, "unknown payload format (empty payload)"},
		{"too short", checkedSeqBase, checked[:8], "too short"},
		{"cut short", checkedSeqBase, checked[:len(checked)-1], "the row says"},
		{"one byte more", checkedSeqBase, append(bytes.Clone(checked), 0), "the row says"},
		{"flipped bit", checkedSeqBase, flipped, "checksum mismatch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := newFolded().add(tc.seq, tc.payload)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// TestChecksumRefusesValidLookingCorruption: one flipped bit turns a lock
// name into another valid name, which the domain checks cannot catch; the
// checksum does. Two corruptions a plain trailing CRC would let through are
// refused too: the format byte rewritten to 1 (with a string swallowing
// the rest), and the CRC-32C residue appended.
func TestChecksumRefusesValidLookingCorruption(t *testing.T) {
	l := domain.Lock{Key: domain.LockKey{Org: "acme", Name: "db/primary"}, Holder: "user:alice",
		Lease: domain.NewLeaseID(42, "9f86d081884c7d65"), Token: 42, AcquiredAt: time.UnixMilli(1e12), ExpiresAt: time.UnixMilli(1e12 + 6e4)}
	p := LogPayload(domain.LockSaved{Lock: l})
	at := bytes.Index(p, []byte("primary")) + len("primar")
	bad := bytes.Clone(p)
	bad[at] ^= 1 // 'y' → 'x'

	// Read without the check, the corrupted row is a valid lock.
	unchecked := newFolded()
	if err := unchecked.add(1, append([]byte{logFormatPlain}, bad[checkedHeader:len(bad)-4]...)); err != nil {
		t.Fatal(err)
	}
	got, ok := unchecked.locks[lockKey{"acme", "db/primarx"}]
	if !ok {
		t.Fatalf("the flip did not give db/primarx: %+v", unchecked.locks)
	}
	if _, err := logLock(got.row, 42); err != nil {
		t.Fatalf("the corrupted lock fails the domain checks (%v); pick a flip they cannot see", err)
	}
	if err := newFolded().add(checkedSeqBase, bad); err == nil || !strings.Contains(err.Error(), "checksum mismatch") {
		t.Fatalf("flipped name: err = %v, want a checksum mismatch", err)
	}

	// Format byte 1, then a session delete whose id is the rest of the row:
	// valid format 1, refused because of the row's number.
	downgraded := append([]byte{logFormatPlain, opSessionDeleted, byte(len(p) - 3)}, p[3:]...)
	if err := newFolded().add(1, downgraded); err != nil {
		t.Fatalf("the downgraded row is not valid format 1 (%v); the test lost its point", err)
	}
	if err := newFolded().add(checkedSeqBase, downgraded); err == nil {
		t.Fatal("a row of this build rewritten as format 1 is accepted")
	}

	// The CRC-32C of any bytes followed by their own CRC-32C is 0x48674bc7.
	extended := binary.LittleEndian.AppendUint32(bytes.Clone(p), 0x48674bc7)
	if crc32.Checksum(extended[:len(extended)-4], crcTable) != 0x48674bc7 {
		t.Fatal("the residue is not what the comment says")
	}
	if err := newFolded().add(checkedSeqBase, extended); err == nil || !strings.Contains(err.Error(), "the row says") {
		t.Fatalf("residue appended: err = %v, want a length mismatch", err)
	}
}

// BenchmarkLogPayload encodes the change-log row of a batch of acquires,
// with and without completing it (length and checksum): the difference is
// what the checksum costs a commit.
func BenchmarkLogPayload(b *testing.B) {
	for _, size := range []int{1, 64} {
		rows := make([]sqlitedb.UpsertLockParams, size)
		for i := range rows {
			tok := domain.FencingToken(1_000_000 + i)
			rows[i] = fromLock(domain.Lock{Key: domain.LockKey{Org: "acme", Name: domain.LockName(fmt.Sprintf("bench/%d", i))},
				Holder: "user:tester", Lease: domain.NewLeaseID(tok, "nonce"), Token: tok,
				AcquiredAt: time.UnixMilli(1.7e12), ExpiresAt: time.UnixMilli(1.7e12 + 6e4)})
		}
		var w logWriter
		for _, complete := range []bool{false, true} {
			b.Run(fmt.Sprintf("changes=%d/checksum=%t", size, complete), func(b *testing.B) {
				for b.Loop() {
					w.reset()
					for _, r := range rows {
						w.lockSaved(r)
					}
					if complete {
						w.payload()
					}
				}
				b.SetBytes(int64(len(w.buf)))
			})
		}
	}
}
