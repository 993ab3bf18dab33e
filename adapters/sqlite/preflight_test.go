package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octostore/octostore/adapters/sqlite"
)

// snapshotDir returns the name and content of every file in dir.
func snapshotDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			out[e.Name()] = nil
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// foreignDB writes a SQLite file of another application (rollback
// journal, a table of its own) at path.
func foreignDB(t *testing.T, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT); INSERT INTO users VALUES (1, 'ann')`); err != nil {
		t.Fatal(err)
	}
}

// TestOpenRefusesWhatItCannotServe: Open refuses each file it must not
// turn into an OctoStore database, says why, and leaves the directory as
// it was, byte for byte.
func TestOpenRefusesWhatItCannotServe(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string) string // returns the path to open
		want  string
	}{
		{"missing directory", func(_ *testing.T, p string) string { return filepath.Join(p, "nope", "db") }, "directory "},
		{"path is a directory", func(t *testing.T, p string) string {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
			return p
		}, "is a directory"},
		{"not a SQLite file", func(t *testing.T, p string) string {
			writeFile(t, p, strings.Repeat("not sqlite at all\n", 20))
			return p
		}, "not a SQLite database"},
		{"SQLite file of another application", func(t *testing.T, p string) string {
			foreignDB(t, p)
			return p
		}, "another application (tables: users)"},
		{"missing file with a write-ahead log", func(t *testing.T, p string) string {
			writeFile(t, p+"-wal", "wal frames")
			return p
		}, "file is missing but its write-ahead log"},
		{"empty file with a write-ahead log", func(t *testing.T, p string) string {
			writeFile(t, p, "")
			writeFile(t, p+"-wal", "wal frames")
			return p
		}, "file is empty but its write-ahead log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			path := tc.setup(t, filepath.Join(dir, "octostore.db"))
			before := snapshotDir(t, dir)
			db, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
			if err == nil {
				db.Close()
				t.Fatal("Open accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open error = %q, want it to contain %q", err, tc.want)
			}
			if after := snapshotDir(t, dir); !equalFiles(before, after) {
				t.Fatalf("the refused Open changed the directory: %d files before, %d after", len(before), len(after))
			}
		})
	}
}

func equalFiles(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w, ok := b[k]
		if !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestOpenAcceptsOwnDatabases: a new file, an empty file, a file whose
// migrations were all rolled back, and a migrated database all open.
func TestOpenAcceptsOwnDatabases(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	writeFile(t, empty, "")
	openDB(t, empty)

	rolledBack := filepath.Join(dir, "rolled-back.db")
	db, _ := openMigrated(t, rolledBack)
	for range 3 {
		if err := db.MigrateDown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	openDB(t, rolledBack)

	migrated := filepath.Join(dir, "migrated.db")
	db, _ = openMigrated(t, migrated)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	openDB(t, migrated)
}

// TestOpenRefusesUnwritableFile checks the permission wording on a file
// this user may only read. Root bypasses file permissions, so it skips
// there; TestNoAccessWording covers the wording as root too.
func TestOpenRefusesUnwritableFile(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root, which bypasses file permissions; TestNoAccessWording checks the message")
	}
	path := filepath.Join(t.TempDir(), "octostore.db")
	db, _ := openMigrated(t, path)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if err == nil || !strings.Contains(err.Error(), "permission denied: this user cannot read and write the file") {
		t.Fatalf("Open of a read-only file = %v, want a permission error", err)
	}
}

// TestMigrateRefusesNewerSchema: a schema written by a newer build is
// refused before goose touches it.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	db, _ := openMigrated(t, filepath.Join(t.TempDir(), "db"))
	if _, err := db.Writer.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
		t.Fatal(err)
	}
	err := db.Migrate(context.Background())
	if err == nil || !strings.Contains(err.Error(), "schema version 99999 is newer than this build's") {
		t.Fatalf("Migrate of a newer schema = %v", err)
	}
}

// TestLock: one holder at a time; the second is told who holds it; the
// lock can be taken again once released.
func TestLock(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "octostore.db")
	first, err := sqlite.Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqlite.Lock(path)
	var inUse *sqlite.InUseError
	if !errors.As(err, &inUse) {
		t.Fatalf("second Lock = %v, want an *InUseError", err)
	}
	if inUse.PID != os.Getpid() || inUse.LockFile != sqlite.LockPath(path) {
		t.Errorf("InUseError = %+v, want pid %d and %s", inUse, os.Getpid(), sqlite.LockPath(path))
	}
	if !strings.Contains(err.Error(), "another octostore process") || !strings.Contains(err.Error(), "serves it") {
		t.Errorf("message %q does not say another process serves it", err)
	}
	if err := first.Release(); err != nil {
		t.Fatal(err)
	}
	again, err := sqlite.Lock(path)
	if err != nil {
		t.Fatalf("Lock after Release: %v", err)
	}
	if err := again.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Lock(filepath.Join(t.TempDir(), "gone", "db")); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("Lock in a missing directory = %v", err)
	}
}
