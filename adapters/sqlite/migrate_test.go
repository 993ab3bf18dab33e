package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/sql/migrations"
)

// columns returns the column names of table, in order.
func columns(t *testing.T, db *sql.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM pragma_table_info(?) ORDER BY cid`, table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols
}

// tables returns which of names exist as tables.
func tables(t *testing.T, db *sql.DB, names ...string) []string {
	t.Helper()
	var found []string
	for _, n := range names {
		var c int
		if err := db.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, n).Scan(&c); err != nil {
			t.Fatal(err)
		}
		if c != 0 {
			found = append(found, n)
		}
	}
	return found
}

func TestMigrateUpDownUp(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	var out strings.Builder
	if err := db.MigrateStatus(ctx, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"00001_init.sql", "00002_sessions_delay_events.sql", "00003_change_log_event_batches.sql", "00004_webhooks.sql", "00005_orgs.sql", "00006_quotas.sql", "00007_access.sql", "00008_config.sql", "00009_flags.sql", "00010_config_bounds.sql"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("status after up does not list %s:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "pending") {
		t.Errorf("status after up:\n%s", out.String())
	}
	t.Logf("status after up:\n%s", out.String())
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on a migrated database: %v", err)
	}
	sess := domain.Session{ID: "s1", Org: "acme", Owner: "alice", TTL: time.Minute, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Minute)}
	l := testLock("acme", "db", 1)
	l.Holder, l.Ephemeral, l.LockDelay = sess.Holder(), true, 5*time.Second
	full := domain.Batch{Counter: 1, AliveAt: time.Now(), Changes: []domain.Change{
		domain.SessionSaved{Session: sess}, domain.LockSaved{Lock: l},
		domain.EventRecorded{Event: domain.Event{Seq: 1, Org: "acme", Kind: domain.EventLockAcquired, Name: "db", Token: 1, At: time.Now()}},
		domain.WebhookSaved{Webhook: domain.Webhook{ID: "wh_1", Org: "acme", URL: "https://example.com/", Events: []string{"*"}, CreatedAt: time.Now()}},
		domain.DeliveryRecorded{Delivery: domain.Delivery{Webhook: "wh_1", Seq: 1, Kind: domain.EventLockAcquired, State: domain.DeliveryPending}},
		domain.QuotaSet{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: 3}},
		domain.ConfigSaved{Entry: domain.ConfigEntry{Key: domain.LockKey{Org: "acme", Name: "app/x"}, Version: 1,
			Value: []byte(`{"a":1}`), At: time.Now(), By: "alice"}},
		domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "app/gone"}, Floor: 4},
		domain.FlagSaved{Flag: domain.Flag{Key: domain.FlagKey{Org: "acme", Name: "checkout"}, Percentage: 5, Version: 1, UpdatedAt: time.Now(), UpdatedBy: "alice"}},
	}}
	if err := j.Commit(ctx, full); err != nil {
		t.Fatal(err)
	}
	if s, err := j.Load(ctx); err != nil || len(s.Configs) != 1 || string(s.Configs[0].Value) != `{"a":1}` {
		t.Fatalf("Load after up: %+v, %v; want the config value", s.Configs, err)
	}
	if s, err := j.Load(ctx); err != nil || len(s.Quotas) != 1 || s.Quotas[0].Limits[domain.QuotaLocks] != 3 {
		t.Fatalf("Load after up: %+v, %v; want the quota override", s.Quotas, err)
	}
	if s, err := j.Load(ctx); err != nil || len(s.Flags) != 1 || s.Flags[0].Percentage != 5 {
		t.Fatalf("Load after up: %+v, %v; want the flag", s.Flags, err)
	}
	if s, err := j.Load(ctx); err != nil || len(s.ConfigFloors) != 1 || s.ConfigFloors[0].Version != 4 || len(s.ConfigSizes) != 1 {
		t.Fatalf("Load after up: %+v %+v, %v; want the floor and the sizes", s.ConfigFloors, s.ConfigSizes, err)
	}

	// Rolling back 00010 drops the config floors, nothing else.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00010: %v", err)
	}
	if got := tables(t, db.Reader, "config_floors", "config_versions", "flags"); !slices.Equal(got, []string{"config_versions", "flags"}) {
		t.Errorf("tables after rolling back 00010: %v", got)
	}

	// Rolling back 00009 drops the flags, nothing else.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00009: %v", err)
	}
	if got := tables(t, db.Reader, "flags", "quotas"); !slices.Equal(got, []string{"quotas"}) {
		t.Errorf("tables after rolling back 00009: %v", got)
	}

	// Rolling back 00008 drops the config versions, nothing else.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00008: %v", err)
	}
	if got := tables(t, db.Reader, "quotas", "config_versions"); !slices.Equal(got, []string{"quotas"}) {
		t.Errorf("tables after rolling back 00008: %v", got)
	}

	// Rolling back 00007 drops the teams and ACL rules and the webhooks'
	// owners, nothing else.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00007: %v", err)
	}
	if got := tables(t, db.Reader, "teams", "acls", "quotas"); !slices.Equal(got, []string{"quotas"}) {
		t.Errorf("tables after rolling back 00007: %v", got)
	}
	if got := columns(t, db.Reader, "webhooks"); slices.Contains(got, "owner") {
		t.Errorf("webhooks columns after rolling back 00007: %v", got)
	}

	// Rolling back 00006 drops the quota overrides, and 00005 the orgs,
	// nothing else; the steps below start from version 4.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00006: %v", err)
	}
	if got := tables(t, db.Reader, "webhooks", "quotas"); !slices.Equal(got, []string{"webhooks"}) {
		t.Errorf("tables after rolling back 00006: %v", got)
	}
	if _, err := j.Load(ctx); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("Load at version 5 = %v, want a schema-version error", err)
	}
	// Rolling back 00005 drops the orgs and their members, nothing else.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00005: %v", err)
	}
	if got := tables(t, db.Reader, "orgs", "members", "webhooks"); !slices.Equal(got, []string{"webhooks"}) {
		t.Errorf("tables after rolling back 00005: %v", got)
	}

	// Rolling back 00004 drops the webhooks and their deliveries, nothing
	// else; migrating up again brings back empty tables.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00004: %v", err)
	}
	if got := tables(t, db.Reader, "locks", "sessions", "change_log", "event_batches", "webhooks", "webhook_deliveries"); !slices.Equal(got, []string{"locks", "sessions", "change_log", "event_batches"}) {
		t.Errorf("tables after rolling back 00004: %v", got)
	}
	if _, err := j.Load(ctx); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("Load at version 3 = %v, want a schema-version error", err)
	}
	if err := db.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp to 00004: %v", err)
	}
	if got := columns(t, db.Reader, "webhooks"); !slices.Equal(got, []string{"id", "org", "url", "events", "prefix", "secret", "created_at_ms", "cursor", "owner"}) {
		t.Errorf("webhooks columns: %v", got)
	}
	if got := columns(t, db.Reader, "webhook_deliveries"); !slices.Equal(got, []string{"webhook_id", "seq", "kind", "attempts", "state", "last_status", "last_error", "next_at_ms", "updated_at_ms"}) {
		t.Errorf("webhook_deliveries columns: %v", got)
	}
	if s, err := j.Load(ctx); err != nil || len(s.Locks) != 1 || len(s.Sessions) != 1 || s.EventSeq != 1 ||
		len(s.Webhooks) != 0 || len(s.Deliveries) != 0 || len(s.Quotas) != 0 {
		t.Errorf("Load after 00004 down and up: %+v, %v; want the lock, session and event without the webhook and quota", s, err)
	}
	for _, v := range []string{"00010", "00009", "00008", "00007", "00006", "00005", "00004"} {
		if err := db.MigrateDown(ctx); err != nil {
			t.Fatalf("MigrateDown %s: %v", v, err)
		}
	}

	// Rolling back 00003 folds the change log into the tables first and
	// moves the events back into their table.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00003: %v", err)
	}
	if got := tables(t, db.Reader, "locks", "meta", "credentials", "sessions", "events", "change_log", "event_batches"); !slices.Equal(got, []string{"locks", "meta", "credentials", "sessions", "events"}) {
		t.Errorf("tables after rolling back 00003: %v", got)
	}
	var locks, events int
	if err := db.Reader.QueryRow(`SELECT (SELECT count(*) FROM locks), (SELECT count(*) FROM events WHERE seq = 1 AND name = 'db' AND fencing_token = 1)`).Scan(&locks, &events); err != nil {
		t.Fatal(err)
	}
	if locks != 1 || events != 1 {
		t.Errorf("after rolling back 00003: %d locks and %d events, want 1 and 1", locks, events)
	}
	// Migrating up again moves the events into event_batches, one row each.
	if err := db.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp to 00004: %v", err)
	}
	var batch string
	if err := db.Reader.QueryRow(`SELECT first_seq || '-' || last_seq || ' ' || events FROM event_batches`).Scan(&batch); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(batch, `1-1 [{"seq":1,"org":"acme","kind":"lock.acquired","name":"db","token":1,"at_ms":`) {
		t.Errorf("event_batches after 00003 up: %s", batch)
	}
	if s, err := j.Load(ctx); err != nil || len(s.Locks) != 1 || s.EventSeq != 1 {
		t.Errorf("Load after 00003 down and up: %+v, %v", s, err)
	}
	for _, v := range []string{"00010", "00009", "00008", "00007", "00006", "00005", "00004", "00003"} {
		if err := db.MigrateDown(ctx); err != nil {
			t.Fatalf("MigrateDown %s: %v", v, err)
		}
	}

	// Rolling back 00002 keeps the locks and the counter of 00001.
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00002: %v", err)
	}
	if got := tables(t, db.Reader, "locks", "meta", "credentials", "sessions", "events"); !slices.Equal(got, []string{"locks", "meta", "credentials"}) {
		t.Errorf("tables after rolling back 00002: %v", got)
	}
	wantCols := []string{"org", "name", "holder", "lease_id", "fencing_token", "acquired_at_ms", "expires_at_ms", "metadata"}
	if got := columns(t, db.Reader, "locks"); !slices.Equal(got, wantCols) {
		t.Errorf("locks columns after rolling back 00002: %v, want %v", got, wantCols)
	}
	var metas int
	if err := db.Reader.QueryRow(`SELECT (SELECT count(*) FROM locks), (SELECT count(*) FROM meta)`).Scan(&locks, &metas); err != nil {
		t.Fatal(err)
	}
	if locks != 1 || metas != 1 {
		t.Errorf("after rolling back 00002: %d locks and %d meta rows, want 1 and 1", locks, metas)
	}
	if _, err := j.Load(ctx); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("Load at version 1 = %v, want a schema-version error", err)
	}
	if err := db.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp from version 1: %v", err)
	}
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatalf("Load after 00002 down and up: %v", err)
	}
	if len(s.Locks) != 1 || s.Locks[0].Ephemeral || s.Locks[0].LockDelay != 0 || s.Counter != 1 ||
		len(s.Sessions) != 0 || s.EventSeq != 0 || !s.AliveAt.IsZero() {
		t.Errorf("after 00002 down and up: %+v, want the lock without its new fields", s)
	}

	// Rolling back everything.
	for range 10 {
		if err := db.MigrateDown(ctx); err != nil {
			t.Fatalf("MigrateDown: %v", err)
		}
	}
	if got := tables(t, db.Reader, "locks", "meta", "credentials", "sessions", "events", "change_log", "event_batches", "webhooks", "webhook_deliveries", "quotas", "orgs", "members", "teams", "acls", "config_versions", "flags", "config_floors"); len(got) != 0 {
		t.Fatalf("after down: tables %v left", got)
	}
	out.Reset()
	if err := db.MigrateStatus(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if strings.Count(out.String(), "pending") != 10 {
		t.Errorf("status after down:\n%s", out.String())
	}
	if _, err := j.Load(ctx); err == nil || !strings.Contains(err.Error(), "older") {
		t.Errorf("Load after down = %v, want a schema-version error", err)
	}
	if err := j.Ping(ctx); err == nil {
		t.Error("Ping after down = nil, want an error")
	}
	if err := db.MigrateDown(ctx); !errors.Is(err, goose.ErrNoNextVersion) {
		t.Errorf("MigrateDown with nothing applied = %v, want ErrNoNextVersion", err)
	}

	if err := db.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	s, err = j.Load(ctx)
	if err != nil {
		t.Fatalf("Load after up again: %v", err)
	}
	if len(s.Locks) != 0 || s.Counter != 0 || len(s.Sessions) != 0 || s.EventSeq != 0 || !s.AliveAt.IsZero() {
		t.Errorf("after down and up: %+v, want empty", s)
	}
	// Prepared statements survive the schema change.
	if err := j.Commit(ctx, full); err != nil {
		t.Fatalf("Commit after down and up: %v", err)
	}
	if s, err := j.Load(ctx); err != nil || len(s.Sessions) != 1 || s.EventSeq != 1 || !s.Locks[0].Ephemeral ||
		len(s.Webhooks) != 1 || len(s.Deliveries) != 1 {
		t.Errorf("Load after the last Commit = %+v, %v", s, err)
	}
}

// TestMigrateFromVersion1 upgrades a database written by a build that knew
// only 00001: its locks load as non-ephemeral with no lock delay.
func TestMigrateFromVersion1(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "db"))
	old, err := goose.NewProvider(goose.DialectSQLite3, db.Writer, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.UpTo(ctx, 1); err != nil {
		t.Fatalf("goose up to 1: %v", err)
	}
	if _, err := db.Writer.ExecContext(ctx, `
		INSERT INTO locks (org, name, holder, lease_id, fencing_token, acquired_at_ms, expires_at_ms, metadata)
		VALUES ('acme', 'db/primary', 'user:alice', 'L7-nonce', 7, 1700000000000, 1700000060000, 'm');
		UPDATE meta SET value = 9 WHERE key = 'fencing_counter';`); err != nil {
		t.Fatal(err)
	}
	j := sqlite.NewJournal(db)
	if _, err := j.Load(ctx); err == nil || !strings.Contains(err.Error(), "older") {
		t.Fatalf("Load of a version 1 database = %v, want a schema-version error", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate from version 1: %v", err)
	}
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatalf("Load after migrating: %v", err)
	}
	want := domain.Lock{
		Key:        domain.LockKey{Org: "acme", Name: "db/primary"},
		Holder:     "user:alice",
		Lease:      "L7-nonce",
		Token:      7,
		AcquiredAt: time.UnixMilli(1700000000000),
		ExpiresAt:  time.UnixMilli(1700000060000),
		Metadata:   "m",
	}
	if len(s.Locks) != 1 || s.Locks[0] != want {
		t.Errorf("locks after migrating = %+v, want [%+v]", s.Locks, want)
	}
	if s.Counter != 9 || len(s.Sessions) != 0 || s.EventSeq != 0 || !s.AliveAt.IsZero() {
		t.Errorf("snapshot after migrating = %+v", s)
	}
	// The upgraded database takes the new changes.
	b := domain.Batch{Counter: 9, AliveAt: time.Now(), Changes: []domain.Change{
		domain.EventRecorded{Event: domain.Event{Seq: 1, Org: "acme", Kind: domain.EventLockReleased, Name: "db/primary", Token: 7, At: time.Now()}},
		domain.LockDeleted{Key: want.Key},
	}}
	if err := j.Commit(ctx, b); err != nil {
		t.Fatalf("Commit after migrating: %v", err)
	}
}

func TestLoadRefusesUnmigrated(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, filepath.Join(t.TempDir(), "db"))
	j := sqlite.NewJournal(db)
	_, err := j.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "not migrated") {
		t.Errorf("Load before Migrate = %v, want a not-migrated error", err)
	}
	if err := j.Commit(ctx, domain.Batch{Counter: 1}); err == nil {
		t.Error("Commit before Migrate = nil error")
	}
}

func TestLoadRefusesNewerSchema(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	if _, err := db.Writer.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
		t.Fatal(err)
	}
	_, err := j.Load(ctx)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Load of a newer schema = %v, want a schema-version error", err)
	}
}

// TestMigrateDownFoldsEarlierSchemasLog: rolling back 00003 removes the
// change log, so MigrateDown folds it first even when the database is at
// version 3 (left by an earlier build, or by rolling back 00004), not only
// at this build's version.
func TestMigrateDownFoldsEarlierSchemasLog(t *testing.T) {
	ctx := context.Background()
	db, _ := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00004: %v", err)
	}
	l := testLock("acme", "db", 1)
	if _, err := db.Writer.ExecContext(ctx, `INSERT INTO change_log (seq, payload) VALUES (?, ?)`,
		sqlite.CheckedSeqBase, sqlite.LogPayload(domain.LockSaved{Lock: l})); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer.ExecContext(ctx, `UPDATE meta SET value = 1 WHERE key = 'fencing_counter'`); err != nil {
		t.Fatal(err)
	}
	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown 00003: %v", err)
	}
	var locks int
	if err := db.Reader.QueryRow(`SELECT count(*) FROM locks WHERE org = 'acme' AND name = 'db' AND fencing_token = 1`).Scan(&locks); err != nil {
		t.Fatal(err)
	}
	if locks != 1 {
		t.Errorf("after rolling back 00003 at version 3: %d lock rows, want the 1 the change log held", locks)
	}
}
