package sqlite_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
)

func TestMigrateUpDownUp(t *testing.T) {
	ctx := context.Background()
	db, j := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	var out strings.Builder
	if err := db.MigrateStatus(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "00001") || !strings.Contains(out.String(), "00001_init.sql") ||
		!strings.Contains(out.String(), "applied") {
		t.Errorf("status after up:\n%s", out.String())
	}
	t.Logf("status after up:\n%s", out.String())
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate on a migrated database: %v", err)
	}
	l := testLock("acme", "db", 1)
	if err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: l}}}); err != nil {
		t.Fatal(err)
	}

	if err := db.MigrateDown(ctx); err != nil {
		t.Fatalf("MigrateDown: %v", err)
	}
	var n int
	if err := db.Reader.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('locks', 'meta', 'credentials')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after down: %d tables left (%v)", n, err)
	}
	out.Reset()
	if err := db.MigrateStatus(ctx, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "pending") {
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
	s, err := j.Load(ctx)
	if err != nil {
		t.Fatalf("Load after up again: %v", err)
	}
	if len(s.Locks) != 0 || s.Counter != 0 {
		t.Errorf("after down and up: %+v, want empty", s)
	}
	// Prepared statements survive the schema change.
	if err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: l}}}); err != nil {
		t.Fatalf("Commit after down and up: %v", err)
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
