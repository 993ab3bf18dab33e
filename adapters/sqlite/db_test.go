package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/domain"
)

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRowContext(context.Background(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestOpenPragmas(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct{ sync, want string }{{"", "2"}, {"full", "2"}, {"NORMAL", "1"}} {
		t.Run("sync="+tc.sync, func(t *testing.T) {
			db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "db"), Sync: tc.sync, ReadConns: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			want := map[string]string{"journal_mode": "wal", "busy_timeout": "5000", "foreign_keys": "1", "synchronous": tc.want}
			for name, w := range want {
				if got := pragma(t, db.Writer, name); got != w {
					t.Errorf("writer PRAGMA %s = %q, want %q", name, got, w)
				}
				if got := pragma(t, db.Reader, name); got != w {
					t.Errorf("reader PRAGMA %s = %q, want %q", name, got, w)
				}
			}
			if got := pragma(t, db.Writer, "query_only"); got != "0" {
				t.Errorf("writer query_only = %s", got)
			}
			if got := pragma(t, db.Reader, "query_only"); got != "1" {
				t.Errorf("reader query_only = %s", got)
			}
			if _, err := db.Reader.ExecContext(ctx, "CREATE TABLE x (a INTEGER)"); err == nil {
				t.Error("the reader pool accepted a write")
			}
		})
	}
}

func TestOpenCreatesNoTables(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "db"))
	var n int
	if err := db.Reader.QueryRow("SELECT count(*) FROM sqlite_schema").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("Open created %d schema objects, want 0", n)
	}
}

// TestOpenEscapesPath checks that URI syntax in a path is taken literally.
func TestOpenEscapesPath(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "we?ird #dir %41&_txlock=deferred")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "octo store.db")
	_, j := openMigrated(t, path)
	l := testLock("acme", "db", 1)
	if err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: l}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("database not at the configured path: %v", err)
	}
	entries, _ := os.ReadDir(filepath.Dir(dir))
	if len(entries) != 1 {
		t.Errorf("files created outside the configured directory: %v", entries)
	}
}

func TestOpenRejectsBadConfig(t *testing.T) {
	dir := t.TempDir()
	for name, cfg := range map[string]sqlite.Config{
		"empty path":     {},
		"unknown sync":   {Path: filepath.Join(dir, "a"), Sync: "off"},
		"negative conns": {Path: filepath.Join(dir, "b"), ReadConns: -1},
		"missing dir":    {Path: filepath.Join(dir, "no", "such", "dir", "db")},
	} {
		if db, err := sqlite.Open(context.Background(), cfg); err == nil {
			db.Close()
			t.Errorf("Open(%s) = nil error", name)
		}
	}
}

func TestCloseTwice(t *testing.T) {
	db, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(t.TempDir(), "db")})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// TestBackgroundCheckpoints: the writer leaves the log to the background
// checkpointer (its own automatic checkpoint waits for 10,000 pages), whose
// checkpoint copies every committed page of the log into the main file
// beside an open writer; Close stops it and still leaves one
// self-contained file.
func TestBackgroundCheckpoints(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if got := pragma(t, db.Writer, "wal_autocheckpoint"); got != "10000" {
		t.Errorf("writer wal_autocheckpoint = %s, want 10000", got)
	}
	var failed []error
	// An hour: the test's own call below is the only checkpoint.
	if err := db.StartCheckpoints(time.Hour, func(err error) { failed = append(failed, err) }); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Writer.ExecContext(ctx, "CREATE TABLE blobs (b BLOB)"); err != nil {
		t.Fatal(err)
	}
	for range 8 {
		// 256 KiB each: 512 pages of log in all, below the backstop.
		if _, err := db.Writer.ExecContext(ctx, "INSERT INTO blobs VALUES (randomblob(262144))"); err != nil {
			t.Fatal(err)
		}
	}
	frames, copied, err := sqlite.CheckpointNow(db)
	if err != nil {
		t.Fatal(err)
	}
	if frames < 512 || copied != frames {
		t.Errorf("checkpoint: %d of %d frames copied, want all of at least 512", copied, frames)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if len(failed) > 0 {
		t.Errorf("checkpoints failed: %v", failed)
	}
	if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > 0 {
		t.Errorf("the log holds %d bytes after Close", fi.Size())
	}
}
