package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	msqlite "modernc.org/sqlite"
)

// sqliteNotADB is the result code SQLITE_NOTADB: the file has no SQLite
// header (or is encrypted).
const sqliteNotADB = 26

// markerTables are tables every OctoStore schema has had since 00001. A
// database that has any table but lacks one of these belongs to another
// application.
var markerTables = []string{"goose_db_version", "meta", "locks"}

// inspect checks, before SQLite is allowed to write anything, that path can
// become or already is an OctoStore database: its directory exists and is
// writable, the file (if any) is a readable and writable SQLite file whose
// tables are OctoStore's, and a missing or empty file has no write-ahead
// log left that a fresh database would silently discard. It reads the file
// only through a read-only SQLite connection, so a refused file is left
// byte for byte as it was, and no file descriptor of this process on the
// database is closed behind SQLite's back (closing one would drop SQLite's
// POSIX locks). The errors do not repeat path; callers name it.
func inspect(ctx context.Context, path string) error {
	if err := checkDir(path); err != nil {
		return err
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkNoWAL(path, "missing")
	case err != nil:
		return describePathError(err)
	case st.IsDir():
		return errors.New("it is a directory, not a database file")
	case !st.Mode().IsRegular():
		return errors.New("it is not a regular file")
	case st.Size() == 0:
		return checkNoWAL(path, "empty")
	}
	if err := accessible(path); err != nil {
		return noAccess("this user cannot read and write the file", err)
	}
	return probe(ctx, path)
}

// checkDir reports a missing or unwritable directory of path.
func checkDir(path string) error {
	dir := filepath.Dir(path)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("directory %s does not exist", dir)
	case err != nil:
		return describePathError(err)
	case !st.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := accessible(dir); err != nil {
		return noAccess("this user cannot create files in directory "+dir, err)
	}
	return nil
}

// checkNoWAL refuses a database file that is missing or empty (state)
// while its write-ahead log exists. SQLite writes the database header
// before it ever creates the log, so the log outlived its database: it was
// deleted, moved or truncated. Starting a fresh database there would
// restart the fencing tokens at 1.
func checkNoWAL(path, state string) error {
	wal := path + "-wal"
	if _, err := os.Stat(wal); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return describePathError(err)
	}
	return fmt.Errorf("the file is %s but its write-ahead log %s exists, so the database was deleted, moved or truncated; "+
		"a fresh database would restart fencing tokens at 1: restore the file or a backup (octostore restore), "+
		"or remove %s and %s-shm to start an empty database on purpose", state, wal, wal, path)
}

// probe opens path read-only and checks that it is a SQLite database whose
// tables, if it has any, are OctoStore's.
func probe(ctx context.Context, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(abs),
		RawQuery: url.Values{"mode": {"ro"}, "_pragma": {"busy_timeout(5000)"}}.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return fmt.Errorf("open read-only: %w", err)
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx,
		`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
	if err != nil {
		var se *msqlite.Error
		if errors.As(err, &se) && se.Code()&0xff == sqliteNotADB {
			return errors.New("the file is not a SQLite database")
		}
		return fmt.Errorf("read its schema: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("read its schema: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read its schema: %w", err)
	}
	return ownTables(names)
}

// ownTables accepts the table names of an OctoStore database: none (a new
// file), goose's version table alone (every migration rolled back), or a
// set that holds every marker table.
func ownTables(names []string) error {
	if len(names) == 0 || (len(names) == 1 && names[0] == markerTables[0]) {
		return nil
	}
	for _, m := range markerTables {
		found := false
		for _, n := range names {
			found = found || n == m
		}
		if !found {
			shown := names
			if len(shown) > 5 {
				shown = append(shown[:5:5], "…")
			}
			return fmt.Errorf("it is a SQLite database of another application (tables: %s), not an OctoStore database; refusing to change it",
				strings.Join(shown, ", "))
		}
	}
	return nil
}

// noAccess words a failed access check: what the server cannot do, and
// why when that is not plain permission.
func noAccess(what string, err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return fmt.Errorf("permission denied: %s", what)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// describePathError words a file-system error for an operator, without
// the operation and path that *fs.PathError repeats.
func describePathError(err error) error {
	var pe *fs.PathError
	switch {
	case errors.Is(err, fs.ErrPermission):
		if errors.As(err, &pe) {
			return fmt.Errorf("permission denied on %s", pe.Path)
		}
		return errors.New("permission denied")
	case errors.As(err, &pe):
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}
