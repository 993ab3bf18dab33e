package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/pressly/goose/v3"
)

// Migrate applies every pending embedded migration on the Writer. Start-up
// calls it before Load; it is a no-op on an up-to-date database. Returns an
// error, and changes nothing, if the database records a schema version
// newer than this build's; returns an error if a migration fails (that
// migration is rolled back; earlier ones stay applied).
func (db *DB) Migrate(ctx context.Context) error {
	have, err := storedVersion(ctx, db.Writer)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if want := db.latestVersion(); have > want {
		return fmt.Errorf("schema version %d is newer than this build's %d: it was written by a newer octostore; "+
			"run that version, or restore a backup made with this one", have, want)
	}
	if _, err := db.provider.Up(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", db.path, err)
	}
	return nil
}

// MigrateUp applies every pending migration, for the operator CLI. It is
// the same operation as Migrate, with the same errors.
func (db *DB) MigrateUp(ctx context.Context) error { return db.Migrate(ctx) }

// MigrateDown rolls back the most recently applied migration, for the
// operator CLI. Rolling back 00001 drops every table and its data. Returns
// an error wrapping goose.ErrNoNextVersion when nothing is applied. It
// first folds the change log into the tables, so that rolling back the
// migration that created the log loses nothing.
func (db *DB) MigrateDown(ctx context.Context) error {
	if err := db.foldIfKnown(ctx); err != nil {
		return fmt.Errorf("migrate down %s: %w", db.path, err)
	}
	if _, err := db.provider.Down(ctx); err != nil {
		return fmt.Errorf("migrate down %s: %w", db.path, err)
	}
	return nil
}

// MigrateStatus writes one line per embedded migration to w: version, file
// name, and "applied <time>" or "pending". It creates goose's version table
// if it is missing (as every goose command does) but changes nothing else.
func (db *DB) MigrateStatus(ctx context.Context, w io.Writer) error {
	st, err := db.provider.Status(ctx)
	if err != nil {
		return fmt.Errorf("migration status %s: %w", db.path, err)
	}
	for _, s := range st {
		state := string(s.State)
		if s.State == goose.StateApplied {
			state += " " + s.AppliedAt.UTC().Format("2006-01-02T15:04:05Z")
		}
		if _, err := fmt.Fprintf(w, "%05d  %-30s  %s\n", s.Source.Version, s.Source.Path, state); err != nil {
			return fmt.Errorf("migration status: %w", err)
		}
	}
	return nil
}

// latestVersion is the highest embedded migration version: the schema
// version this build reads and writes.
func (db *DB) latestVersion() int64 {
	src := db.provider.ListSources()
	if len(src) == 0 {
		return 0
	}
	return src[len(src)-1].Version
}

// checkSchema refuses a database whose schema version is not exactly the
// one this build was written for: unmigrated, behind (pending migrations)
// or ahead (written by a newer build). It reads goose's table directly so
// that it works on the query-only Reader inside a read transaction.
func (db *DB) checkSchema(ctx context.Context, tx *sql.Tx) error {
	have, err := storedVersion(ctx, tx)
	if err != nil {
		return err
	}
	if have < 0 {
		return errors.New("schema version: database is not migrated (no goose_db_version table); run migrations first")
	}
	want := db.latestVersion()
	switch {
	case have > want:
		return fmt.Errorf("schema version %d is newer than this build supports (%d); refusing to read it", have, want)
	case have < want:
		return fmt.Errorf("schema version %d is older than this build's %d; run migrations first", have, want)
	}
	return nil
}

// querier is what storedVersion reads through: a pool or a transaction.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// storedVersion returns the highest schema version goose recorded in the
// database, or -1 if it has no goose_db_version table (never migrated).
func storedVersion(ctx context.Context, q querier) (int64, error) {
	var n int
	err := q.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'goose_db_version'`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	if n == 0 {
		return -1, nil
	}
	var have int64
	err = q.QueryRowContext(ctx,
		`SELECT CAST(COALESCE(MAX(version_id), 0) AS INTEGER) FROM goose_db_version`).Scan(&have)
	if err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return have, nil
}
