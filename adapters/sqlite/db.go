// Package sqlite stores OctoStore's committed state in one SQLite file
// (pure-Go driver modernc.org/sqlite) and implements ports.Journal on it.
//
// A DB holds two pools on the same file: a single-connection Writer whose
// transactions are all BEGIN IMMEDIATE, so writers queue in Go instead of
// failing with SQLITE_BUSY_SNAPSHOT, and a query-only Reader pool. The
// schema is managed by goose from the embedded sql/migrations; Open never
// creates tables, Migrate does.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/pressly/goose/v3"
	msqlite "modernc.org/sqlite"

	"github.com/octostore/octostore/sql/migrations"
)

// Sync modes accepted in Config.Sync.
const (
	// SyncFull fsyncs the WAL on every commit: an acknowledged batch
	// survives power loss, so a fencing token is never issued twice.
	SyncFull = "full"
	// SyncNormal skips that fsync; the last commits can be lost on power
	// loss (not on a process crash). Measure before choosing it.
	SyncNormal = "normal"
)

// DefaultReadConns is the size of the Reader pool when Config.ReadConns is 0.
const DefaultReadConns = 4

// Config says where the database lives and how durable commits are.
type Config struct {
	// Path is the database file; it is created if missing.
	Path string
	// Sync is SyncFull (the default when empty) or SyncNormal.
	Sync string
	// ReadConns is the number of Reader connections (DefaultReadConns if 0).
	// Journal.Load reads a large locks table on up to 4 of them at once.
	ReadConns int
}

// DB is an open database: the Writer pool (one connection, immediate
// transactions) and the Reader pool (query-only). Both are exported for the
// adapter's own tests and for operator tooling; application code reaches the
// database only through Journal.
type DB struct {
	Writer *sql.DB
	Reader *sql.DB

	path      string
	provider  *goose.Provider
	readConns int // size of the Reader pool

	// vouched is set once a Journal loaded or committed through this DB:
	// only then does Close fold the change log, so a database that Load
	// refused is closed without a write transaction.
	vouched atomic.Bool

	// checkpointDSN connects the background checkpointer, checkpointer is
	// its connection and stopCheckpoints stops it (nil until
	// StartCheckpoints).
	checkpointDSN   string
	checkpointer    *sql.DB
	stopCheckpoints func()

	closeOnce sync.Once
	closeErr  error
}

// Open opens (creating if needed) the database file of cfg, switches it to
// WAL and checks that both pools can connect. It does not create tables:
// call Migrate before using a Journal. Before SQLite may write anything it
// refuses, leaving the file as it was, a missing directory, a file this
// user cannot read and write, a file that is not SQLite, a SQLite file of
// another application, and a missing or empty file whose write-ahead log
// exists (see inspect); those errors say why without repeating the path.
// Returns an error for an invalid Config or a file SQLite cannot open. Open
// takes no lock: see Lock.
func Open(ctx context.Context, cfg Config) (*DB, error) {
	writerDSN, readerDSN, checkpointDSN, err := dsns(cfg)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	if err := inspect(ctx, cfg.Path); err != nil {
		return nil, err
	}
	reads := cfg.ReadConns
	if reads == 0 {
		reads = DefaultReadConns
	}

	writer, err := sql.Open("sqlite", writerDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer %s: %w", cfg.Path, err)
	}
	// One connection serializes writers in Go; keeping it open forever
	// keeps the prepared statements of the hot path.
	writer.SetMaxOpenConns(1)
	writer.SetMaxIdleConns(1)
	writer.SetConnMaxLifetime(0)
	writer.SetConnMaxIdleTime(0)
	if err := checkWAL(ctx, writer); err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite writer %s: %w", cfg.Path, err)
	}

	reader, err := sql.Open("sqlite", readerDSN)
	if err != nil {
		writer.Close()
		return nil, fmt.Errorf("open sqlite reader %s: %w", cfg.Path, err)
	}
	reader.SetMaxOpenConns(reads)
	reader.SetMaxIdleConns(reads)
	if err := reader.PingContext(ctx); err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("open sqlite reader %s: %w", cfg.Path, err)
	}

	prov, err := newProvider(writer)
	if err != nil {
		reader.Close()
		writer.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", cfg.Path, err)
	}
	return &DB{Writer: writer, Reader: reader, path: cfg.Path, provider: prov, readConns: reads, checkpointDSN: checkpointDSN}, nil
}

// newProvider builds the goose provider over the embedded migrations. It
// reads only the embedded files, not the database.
func newProvider(writer *sql.DB) (*goose.Provider, error) {
	p, err := goose.NewProvider(goose.DialectSQLite3, writer, migrations.FS)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// checkWAL connects the writer and verifies that the journal_mode pragma
// took effect, which it silently does not on file systems without shared
// memory support.
func checkWAL(ctx context.Context, writer *sql.DB) error {
	var mode string
	if err := writer.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal", mode)
	}
	return nil
}

// dsns builds the writer and reader DSNs. The path is percent-escaped into a
// file: URI so that '?', '#' and '%' in directory names cannot be read as
// URI syntax.
func dsns(cfg Config) (writer, reader, checkpointer string, err error) {
	if cfg.Path == "" {
		return "", "", "", errors.New("config: path is empty")
	}
	if cfg.ReadConns < 0 {
		return "", "", "", fmt.Errorf("config: read conns %d is negative", cfg.ReadConns)
	}
	var syncMode string
	switch strings.ToLower(cfg.Sync) {
	case "", SyncFull:
		syncMode = "FULL"
	case SyncNormal:
		syncMode = "NORMAL"
	default:
		return "", "", "", fmt.Errorf("config: sync %q is not %q or %q", cfg.Sync, SyncFull, SyncNormal)
	}
	abs, err := filepath.Abs(cfg.Path)
	if err != nil {
		return "", "", "", fmt.Errorf("config: path %s: %w", cfg.Path, err)
	}
	uri := func(extra url.Values) string {
		q := url.Values{"_pragma": {
			"journal_mode(WAL)",
			"busy_timeout(5000)",
			"foreign_keys(1)",
			"synchronous(" + syncMode + ")",
		}}
		for k, v := range extra {
			q[k] = append(q[k], v...)
		}
		u := url.URL{Scheme: "file", OmitHost: true, Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
		return u.String()
	}
	// _txlock applies to every BeginTx of a pool, so only the writer gets
	// it. The writer checkpoints the log itself only as a backstop (see
	// StartCheckpoints).
	writer = uri(url.Values{"_txlock": {"immediate"}, "_pragma": {"wal_autocheckpoint(" + strconv.Itoa(backstopPages) + ")"}})
	reader = uri(url.Values{"_pragma": {"query_only(1)"}})
	return writer, reader, uri(nil), nil
}

// Close closes both pools. It first closes the Reader, then folds the change
// log into the tables (when this build can fold its schema, see
// foldIfKnown, and a Journal has loaded or committed through db), then
// checkpoints the WAL into the main file (PRAGMA wal_checkpoint(TRUNCATE))
// so that the database is a single self-contained file, then closes the
// Writer. A failed checkpoint is an error unless the database is
// read-only. Calling Close again returns the first result.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		if db.stopCheckpoints != nil {
			db.stopCheckpoints()
		}
		errR := db.Reader.Close()
		var errF error
		if db.vouched.Load() {
			errF = db.foldIfKnown(context.Background())
		}
		errC := checkpoint(db.Writer)
		errW := db.Writer.Close()
		if err := errors.Join(errR, errF, errC, errW); err != nil {
			db.closeErr = fmt.Errorf("close sqlite %s: %w", db.path, err)
		}
	})
	return db.closeErr
}

// sqliteReadOnly is the primary result code SQLITE_READONLY.
const sqliteReadOnly = 8

// isReadOnly reports whether err is SQLITE_READONLY (any extended code).
func isReadOnly(err error) bool {
	var se *msqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqliteReadOnly
}

func checkpoint(writer *sql.DB) error {
	var busy, log, done int64
	err := writer.QueryRow("PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &log, &done)
	if isReadOnly(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	return nil
}
