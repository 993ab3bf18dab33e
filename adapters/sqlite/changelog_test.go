package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
)

// openCrashable opens and migrates path like openMigrated, but leaves closing
// to the test, which may crash the database instead.
func openCrashable(t *testing.T, path string) (*sqlite.DB, *sqlite.Journal) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, sqlite.NewJournal(db)
}

// crash closes both pools of db without Close, so the change log is not
// folded: what a kill -9 leaves behind (the WAL included).
func crash(t *testing.T, db *sqlite.DB) {
	t.Helper()
	if err := db.Reader.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Writer.Close(); err != nil {
		t.Fatal(err)
	}
}

// logRows counts the rows of the change log.
func logRows(t *testing.T, db *sqlite.DB) int {
	t.Helper()
	var n int
	if err := db.Reader.QueryRow(`SELECT count(*) FROM change_log`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// randomBatch makes a batch of random lock and session changes over a few
// keys, with the occasional event, heartbeat, credential and webhook or
// delivery change.
func randomBatch(r *rand.Rand, counter *domain.FencingToken, eventSeq *uint64, creds *int) domain.Batch {
	orgs := []domain.OrgID{"acme", "zeta"}
	names := []domain.LockName{"a", "b/c", "d"}
	ids := []domain.SessionID{"s1", "s2", "s3"}
	ms := func() time.Time { return time.UnixMilli(1_700_000_000_000 + r.Int64N(1e9)) }
	var b domain.Batch
	for range 1 + r.IntN(6) {
		key := domain.LockKey{Org: orgs[r.IntN(len(orgs))], Name: names[r.IntN(len(names))]}
		id := ids[r.IntN(len(ids))]
		switch r.IntN(10) {
		case 0, 1, 2, 3:
			*counter++
			l := domain.Lock{
				Key: key, Holder: "user:alice", Lease: domain.NewLeaseID(*counter, fmt.Sprint(r.IntN(100))),
				Token: *counter, AcquiredAt: ms(), ExpiresAt: ms(),
				Metadata:  []string{"", "m", "\xff\xfe not UTF-8", `{"json": "x"}`}[r.IntN(4)],
				LockDelay: time.Duration(r.IntN(3)) * time.Second,
			}
			if r.IntN(2) == 0 {
				l.Holder, l.Ephemeral = domain.Holder("session:"+string(id)), true
			}
			b.Changes = append(b.Changes, domain.LockSaved{Lock: l})
		case 4, 5, 6:
			b.Changes = append(b.Changes, domain.LockDeleted{Key: key})
		case 7:
			b.Changes = append(b.Changes, domain.SessionSaved{Session: domain.Session{
				ID: id, Org: key.Org, Owner: []string{"alice", "bob"}[r.IntN(2)],
				TTL: time.Duration(1+r.IntN(60)) * time.Second, CreatedAt: ms(), ExpiresAt: ms(),
			}})
		case 8:
			b.Changes = append(b.Changes, domain.SessionDeleted{ID: id})
		case 9:
			*eventSeq += 1 + uint64(r.IntN(3))
			b.Changes = append(b.Changes, domain.EventRecorded{Event: domain.Event{
				Seq: *eventSeq, Org: key.Org, Kind: domain.EventLockAcquired, Name: key.Name, Token: *counter, At: ms(),
			}})
		}
	}
	if r.IntN(20) == 0 {
		*creds++
		b.Changes = append(b.Changes, domain.CredentialAdded{Credential: domain.Credential{
			Hash: domain.HashToken(fmt.Sprintf("token-%d-0123456789", *creds)), Principal: domain.Principal{Org: "acme", User: "u"},
		}})
	}
	if r.IntN(2) == 0 {
		b.Changes = append(b.Changes, randomWebhookChange(r, ms))
	}
	b.Counter = *counter + domain.FencingToken(r.IntN(2))
	*counter = b.Counter
	if r.IntN(3) == 0 {
		b.AliveAt = ms()
	}
	return b
}

// randomWebhookChange makes a random webhook or delivery change over a few
// webhooks.
func randomWebhookChange(r *rand.Rand, ms func() time.Time) domain.Change {
	id := []domain.WebhookID{"wh_1", "wh_2", "wh_3"}[r.IntN(3)]
	switch r.IntN(6) {
	case 0:
		p, _ := domain.ParsePrefix([]string{"", "a", "b/", "b/c"}[r.IntN(4)])
		return domain.WebhookSaved{Webhook: domain.Webhook{
			ID: id, Org: []domain.OrgID{"acme", "zeta"}[r.IntN(2)], URL: "https://example.com/" + string(id),
			Events: [][]string{{"*"}, {"lock.*", "lock.acquired"}}[r.IntN(2)], Prefix: p,
			Secret: []string{"", "s3cret"}[r.IntN(2)], CreatedAt: ms(), Cursor: uint64(r.IntN(50)),
		}}
	case 1:
		return domain.WebhookDeleted{ID: id}
	case 2:
		return domain.WebhookAdvanced{ID: id, Cursor: uint64(r.IntN(100))}
	default:
		d := domain.Delivery{
			Webhook: id, Seq: 1 + uint64(r.IntN(150)), Kind: domain.EventLockReleased, Attempts: r.IntN(5),
			State:      []domain.DeliveryState{domain.DeliveryPending, domain.DeliveryDelivered, domain.DeliveryFailed}[r.IntN(3)],
			LastStatus: []int{0, 200, 500}[r.IntN(3)], LastError: []string{"", "timeout"}[r.IntN(2)], UpdatedAt: ms(),
		}
		if d.State == domain.DeliveryPending {
			d.NextAt = ms()
		}
		return domain.DeliveryRecorded{Delivery: d}
	}
}

// TestChangeLogMatchesMemstore commits a random history to the SQLite
// journal (folding every few batches, reopening now and then, sometimes
// after a simulated crash that skips the fold of Close) and to memstore, and
// requires Load to return the same snapshot from both throughout.
func TestChangeLogMatchesMemstore(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			ctx := context.Background()
			r := rand.New(rand.NewPCG(seed, 42))
			path := filepath.Join(t.TempDir(), "db")
			db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			foldEvery := int64(2 + seed%5)
			j := sqlite.NewJournal(db)
			sqlite.SetFoldEvery(j, foldEvery)
			mem := memstore.New()
			var counter domain.FencingToken
			var eventSeq uint64
			var creds, sawLog int
			check := func(when string) {
				t.Helper()
				got, err := j.Load(ctx)
				if err != nil {
					t.Fatalf("%s: sqlite Load: %v", when, err)
				}
				want, err := mem.Load(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: sqlite snapshot\n%+v\nmemstore snapshot\n%+v", when, got, want)
				}
			}
			for i := range 400 {
				b := randomBatch(r, &counter, &eventSeq, &creds)
				if err := mem.Commit(ctx, b); err != nil {
					t.Fatalf("batch %d: memstore: %v", i, err)
				}
				if err := j.Commit(ctx, b); err != nil {
					t.Fatalf("batch %d: sqlite: %v", i, err)
				}
				if n := int64(logRows(t, db)); n >= foldEvery {
					t.Fatalf("batch %d: %d change-log rows, the fold threshold is %d", i, n, foldEvery)
				} else if n > 0 {
					sawLog++
				}
				switch r.IntN(60) {
				case 0: // Load in the middle replays the log and matches
					check(fmt.Sprintf("after batch %d", i))
				case 1, 2: // clean restart or crash, then start-up
					if r.IntN(2) == 0 {
						if err := db.Close(); err != nil {
							t.Fatal(err)
						}
					} else {
						crash(t, db)
					}
					if db, err = sqlite.Open(ctx, sqlite.Config{Path: path}); err != nil {
						t.Fatal(err)
					}
					j = sqlite.NewJournal(db)
					sqlite.SetFoldEvery(j, foldEvery)
					check(fmt.Sprintf("reopened after batch %d", i))
				}
			}
			if sawLog == 0 {
				t.Fatal("no batch was ever left in the change log")
			}
			check("at the end")
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestChangeLogSurvivesCrash: a committed batch is durable in the change
// log alone; a crash (no fold at Close) loses nothing and Load replays it.
func TestChangeLogSurvivesCrash(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, j := openCrashable(t, path)
	gone := testLock("acme", "gone", 1)
	kept := testLock("acme", "kept", 2)
	sess := domain.Session{ID: "s1", Org: "acme", Owner: "alice", TTL: time.Minute,
		CreatedAt: time.UnixMilli(1e12), ExpiresAt: time.UnixMilli(1e12 + 6e4)}
	for _, b := range []domain.Batch{
		{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: gone}, domain.SessionSaved{Session: sess}}},
		{Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: kept}, domain.LockDeleted{Key: gone.Key}}},
	} {
		if err := j.Commit(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	var tableLocks int
	if err := db.Reader.QueryRow(`SELECT count(*) FROM locks`).Scan(&tableLocks); err != nil {
		t.Fatal(err)
	}
	if n := logRows(t, db); n != 2 || tableLocks != 0 {
		t.Fatalf("before the crash: %d change-log rows and %d lock rows, want 2 and 0", n, tableLocks)
	}
	crash(t, db)

	db = openDB(t, path)
	if n := logRows(t, db); n != 2 {
		t.Fatalf("after the crash: %d change-log rows, want 2", n)
	}
	s, err := sqlite.NewJournal(db).Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Locks) != 1 || s.Locks[0].Key != kept.Key || s.Locks[0].Token != 2 || len(s.Sessions) != 1 || s.Counter != 2 {
		t.Fatalf("after the crash: %+v, want lock %v and session s1", s, kept.Key)
	}
	if n := logRows(t, db); n != 2 {
		t.Errorf("after Load: %d change-log rows, want 2: Load replays the log without writing", n)
	}
}

// TestCloseFoldsChangeLog: a clean Close leaves an empty change log, and a
// fold inside Commit happens at the threshold.
func TestCloseFoldsChangeLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, j := openCrashable(t, path)
	sqlite.SetFoldEvery(j, 3)
	for i := range 4 {
		tok := domain.FencingToken(i + 1)
		if err := j.Commit(ctx, domain.Batch{Counter: tok, Changes: []domain.Change{domain.LockSaved{Lock: testLock("acme", fmt.Sprint("l", i), tok)}}}); err != nil {
			t.Fatal(err)
		}
		if want := []int{1, 2, 0, 1}[i]; logRows(t, db) != want {
			t.Fatalf("after commit %d: %d change-log rows, want %d", i, logRows(t, db), want)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path)
	var tableLocks int
	if err := db.Reader.QueryRow(`SELECT count(*) FROM locks`).Scan(&tableLocks); err != nil {
		t.Fatal(err)
	}
	if n := logRows(t, db); n != 0 || tableLocks != 4 {
		t.Fatalf("after Close: %d change-log rows and %d lock rows, want 0 and 4", n, tableLocks)
	}
}

// TestRefusedDatabaseKeepsItsLog: a database Load refuses is closed without
// folding its change log, so the refusal writes nothing.
func TestRefusedDatabaseKeepsItsLog(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, j := openCrashable(t, path)
	if err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: testLock("acme", "a", 1)}}}); err != nil {
		t.Fatal(err)
	}
	if err := db.Fold(ctx); err != nil {
		t.Fatal(err)
	}
	if err := j.Commit(ctx, domain.Batch{Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: testLock("acme", "b", 2)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer.ExecContext(ctx, `UPDATE locks SET holder = ''`); err != nil {
		t.Fatal(err)
	}
	crash(t, db)

	db = openDB(t, path)
	if _, err := sqlite.NewJournal(db).Load(ctx); err == nil {
		t.Fatal("Load of a doctored database = nil error")
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path)
	if n := logRows(t, db); n != 1 {
		t.Errorf("after closing a refused database: %d change-log rows, want the 1 it had", n)
	}
}

// dumpTables returns every row of every table of db, in a stable order.
func dumpTables(t *testing.T, db *sqlite.DB) string {
	t.Helper()
	var names []string
	rows, err := db.Reader.Query(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, n := range names {
		rows, err := db.Reader.Query(`SELECT * FROM "` + n + `" ORDER BY 1`)
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s %q\n", n, vals)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// TestLoadRefusesCorruptChangeLog: one flipped bit in a change-log row (in
// a string or a varint, where it would decode into another valid-looking
// change, or in the checksum) makes Load fail with an error naming the row; closing the
// refused database changes nothing in it.
func TestLoadRefusesCorruptChangeLog(t *testing.T) {
	for _, tc := range []struct {
		name string
		at   func(payload []byte) int // the byte to flip a bit of
	}{
		// "kept" becomes "kepv".
		{"in a lock name", func(p []byte) int { return bytes.Index(p, []byte("kept")) + 3 }},
		// After the lease id and the one-byte token: acquired_at moves by 1 ms.
		{"in a time varint", func(p []byte) int { return bytes.Index(p, []byte("L2-nonce")) + len("L2-nonce") + 1 }},
		{"in the checksum", func(p []byte) int { return len(p) - 1 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			path := filepath.Join(t.TempDir(), "db")
			db, j := openCrashable(t, path)
			for _, b := range []domain.Batch{
				{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: testLock("acme", "gone", 1)}}},
				{Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: testLock("acme", "kept", 2)}}},
			} {
				if err := j.Commit(ctx, b); err != nil {
					t.Fatal(err)
				}
			}
			var seq int64
			var p []byte
			if err := db.Reader.QueryRow(`SELECT seq, payload FROM change_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &p); err != nil {
				t.Fatal(err)
			}
			if seq != sqlite.CheckedSeqBase+1 {
				t.Fatalf("second row numbered %d, want %d", seq, sqlite.CheckedSeqBase+1)
			}
			at := tc.at(p)
			p[at] ^= 2
			if _, err := db.Writer.ExecContext(ctx, `UPDATE change_log SET payload = ? WHERE seq = ?`, p, seq); err != nil {
				t.Fatal(err)
			}
			crash(t, db)

			db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			before := dumpTables(t, db)
			_, err = sqlite.NewJournal(db).Load(ctx)
			t.Logf("byte %d flipped: Load: %v", at, err)
			if want := fmt.Sprintf("change log row %d: ", seq); err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("Load = %v, want an error naming %q", err, want)
			}
			if k := domain.KindOf(err); k != domain.KindInternal {
				t.Errorf("Load error kind = %v, want KindInternal", k)
			}
			if err := db.Fold(ctx); err == nil {
				t.Error("Fold of the corrupt log = nil error")
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			db = openDB(t, path)
			if after := dumpTables(t, db); after != before {
				t.Errorf("the refused database changed:\nbefore\n%s\nafter\n%s", before, after)
			}
		})
	}
}

// TestChangeLogReadsEarlierBuildsRows: a database an earlier build left
// after a crash holds format-1 rows numbered from 1; Load replays them,
// this build appends after them from CheckedSeqBase, and Close folds both.
func TestChangeLogReadsEarlierBuildsRows(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, j := openCrashable(t, path)
	a, b, c := testLock("acme", "a", 1), testLock("acme", "b", 2), testLock("acme", "c", 3)
	// What the earlier build committed: its counter and its two rows.
	if err := j.Commit(ctx, domain.Batch{Counter: 2}); err != nil {
		t.Fatal(err)
	}
	for i, p := range [][]byte{
		sqlite.PlainLogPayload(domain.LockSaved{Lock: a}),
		sqlite.PlainLogPayload(domain.LockSaved{Lock: b}, domain.LockDeleted{Key: a.Key}),
	} {
		if _, err := db.Writer.ExecContext(ctx, `INSERT INTO change_log (seq, payload) VALUES (?, ?)`, i+1, p); err != nil {
			t.Fatal(err)
		}
	}
	crash(t, db)

	db, j = openCrashable(t, path)
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Locks) != 1 || s.Locks[0].Key != b.Key {
		t.Fatalf("after the earlier build's rows: %+v, want lock b only", s.Locks)
	}
	if err := j.Commit(ctx, domain.Batch{Counter: 3, Changes: []domain.Change{domain.LockSaved{Lock: c}}}); err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	rows, err := db.Reader.Query(`SELECT seq FROM change_log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, s)
	}
	if want := []int64{1, 2, sqlite.CheckedSeqBase}; !reflect.DeepEqual(seqs, want) {
		t.Fatalf("change-log rows %v, want %v", seqs, want)
	}
	if s, err = j.Load(ctx); err != nil || len(s.Locks) != 2 {
		t.Fatalf("Load = %+v, %v; want locks b and c", s.Locks, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openDB(t, path)
	if n := logRows(t, db); n != 0 {
		t.Fatalf("after Close: %d change-log rows, want 0", n)
	}
	s, err = sqlite.NewJournal(db).Load(ctx)
	if err != nil || len(s.Locks) != 2 || s.Locks[0].Key != b.Key || s.Locks[1].Key != c.Key {
		t.Fatalf("after the fold: %+v, %v; want locks b and c", s.Locks, err)
	}
}
