package bootstrap

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"text/tabwriter"
	"time"

	"go.uber.org/fx"

	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// NewLogger returns the process logger: text by default, JSON with
// --log-format json.
func NewLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by LoadConfig
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Serve loads the configuration from args and environ, starts the server and
// runs it until ctx is cancelled, then shuts down gracefully: stop
// accepting, finish in-flight requests, stop the writer, close the database.
// Logs and the first-start banner go to console. A start-up failure comes
// back as one line naming what failed and why (the database, the listen
// address, the configuration); fx's account of it is logged at debug level.
func Serve(ctx context.Context, args, environ []string, version string, console io.Writer) error {
	cfg, err := LoadConfig(args, environ)
	if err != nil {
		return oneLine(err)
	}
	log := NewLogger(cfg, console)
	ensureProcs(log)
	app := fx.New(Options(cfg, Env{Version: version, Logger: log, Console: console}),
		fx.StartTimeout(time.Minute), fx.StopTimeout(cfg.Shutdown.Timeout+5*time.Second))
	if err := app.Err(); err != nil {
		return explainStartup(log, err)
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return explainStartup(log, err)
	}
	tuneGC(log)
	log.Info("octostore started", "version", version)
	<-ctx.Done()
	log.Info("shutting down (a second signal exits at once)")
	stopCtx, cancelStop := context.WithTimeout(context.Background(), cfg.Shutdown.Timeout+5*time.Second)
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}

// minProcs is the fewest Ps the server runs with. The writer spends much of
// its time in fsync, a blocking system call that holds its P until the
// runtime hands it off; with one P (a one-CPU container) the HTTP
// goroutines then wait, and throughput halves. Measured with the server
// pinned to one core (taskset) at 64 clients: GOMAXPROCS=1 4,630 cycles/s,
// 2 8,560-8,670, 4 9,190-9,280.
const minProcs = 4

// ensureProcs raises GOMAXPROCS to minProcs unless the environment sets it.
func ensureProcs(log *slog.Logger) {
	if os.Getenv("GOMAXPROCS") != "" {
		return
	}
	if n := runtime.GOMAXPROCS(0); n < minProcs {
		runtime.GOMAXPROCS(minProcs)
		log.Debug("GOMAXPROCS raised", "from", n, "to", minProcs)
	}
}

// tuneGC trades memory the server does not need for CPU. With the default
// GOGC=100 a small live heap is collected every few megabytes of allocation,
// which costs the hot path about 15 % of its throughput; GOGC=400 plus a soft
// memory limit of twice the live heap after restore (at least 512 MiB) keeps
// that cost low while bounding memory with many locks. GOGC and GOMEMLIMIT
// in the environment take precedence. It also returns the restore's garbage
// to the operating system.
func tuneGC(log *slog.Logger) {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(max(512<<20, 2*int64(ms.HeapAlloc)))
	}
	debug.FreeOSMemory()
	log.Debug("gc tuned", "live_heap_bytes", ms.HeapAlloc, "memory_limit_bytes", debug.SetMemoryLimit(-1))
}

// Migrate runs an operator migration command (status, up or down) against
// the configured database, without starting the server. Up and down hold
// the database's lock, so they are refused while a server runs on it;
// status only reads.
func Migrate(ctx context.Context, action string, args, environ []string, out io.Writer) error {
	switch action {
	case "status", "up", "down":
	case "":
		return errors.New("migrate: give the action: octostore migrate status|up|down")
	default:
		return fmt.Errorf("migrate: unknown action %q (want status, up or down)", action)
	}
	cfg, err := LoadConfig(args, environ)
	if err != nil {
		return err
	}
	what := "migrate " + action + ": database " + cfg.DB
	db, done, err := openDatabaseFile(ctx, cfg, action != "status")
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer done()
	switch action {
	case "up":
		if err := db.MigrateUp(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	case "down":
		if err := db.MigrateDown(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return db.MigrateStatus(ctx, out)
}

// openDatabaseFile opens the configured database for an operator command.
// With exclusive it first takes the database's lock, so that the command is
// refused while a server (or another writing command) runs on the file.
// done closes the database and releases the lock; calling it after an
// explicit db.Close is harmless.
func openDatabaseFile(ctx context.Context, cfg Config, exclusive bool) (db *sqlite.DB, done func(), err error) {
	release := func() {}
	if exclusive {
		lock, err := sqlite.Lock(cfg.DB)
		if err != nil {
			return nil, nil, err
		}
		release = func() { _ = lock.Release() }
	}
	db, err = sqlite.Open(ctx, sqlite.Config{Path: cfg.DB, Sync: cfg.Storage.Sync})
	if err != nil {
		release()
		return nil, nil, err
	}
	return db, func() { _ = db.Close(); release() }, nil
}

// OpenAPI returns the API description as YAML, generated from the handlers
// without starting anything; version is its info.version.
func OpenAPI(version string) ([]byte, error) {
	return httpapi.New(httpapi.Config{Version: version}, httpapi.Services{}).API().OpenAPI().YAML()
}

// TokenCreate mints a token for a user (--org, --user) of the configured
// database while no server runs on it: it writes the token, once, as a line
// of its own to out, and stores only its SHA-256 hash, through the same
// credential record the first start writes. note gets a line for the
// operator. It holds the database's lock, so it is refused while a server
// runs on the file. A missing database is created, as the first start
// would.
func TokenCreate(ctx context.Context, args, environ []string, out, note io.Writer) error {
	var org, user string
	cfg, err := loadConfig(args, environ, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "org of the user")
		fs.StringVar(&user, "user", "", "user the token authenticates")
	})
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	if org == "" || user == "" {
		return errors.New("token create: give the user: octostore token create --org ORG --user USER")
	}
	p, err := domain.ParsePrincipal(org, user)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	return offline(ctx, cfg, "token create", true, func(j ports.Journal) error {
		g, err := application.CreateToken(ctx, j, p)
		if err != nil {
			return err
		}
		// The credential is committed: show the token even if closing fails.
		if _, err := fmt.Fprintln(out, g.Token); err != nil {
			return err
		}
		fmt.Fprintf(note, "octostore: token for %s/%s stored as its SHA-256 hash in %s; save it now, it is not shown again\n", p.Org, p.User, cfg.DB)
		return nil
	})
}

// offline runs fn on the journal of the configured database while holding
// its lock, so that no server serves it meanwhile (refused in one line if
// one does). With migrate the schema is brought up to date first, as the
// first start would. Errors come back prefixed with what ("token create:
// database FILE"). The database is closed afterwards.
func offline(ctx context.Context, cfg Config, what string, migrate bool, fn func(ports.Journal) error) error {
	what += ": database " + cfg.DB
	db, done, err := openDatabaseFile(ctx, cfg, true)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer done()
	if migrate {
		if err := db.Migrate(ctx); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	if err := fn(sqlite.NewJournal(db)); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// OrgCreate registers an org in the database while no server runs on it
// (a running server answers POST /admin/orgs instead).
func OrgCreate(ctx context.Context, args, environ []string, note io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("org create: give the org: octostore org create ORG")
	}
	name, args := args[0], args[1:]
	cfg, err := loadConfig(args, environ, nil)
	if err != nil {
		return fmt.Errorf("org create: %w", err)
	}
	return offline(ctx, cfg, "org create", true, func(j ports.Journal) error {
		o, err := application.CreateOrgOffline(ctx, j, name, time.Now())
		if err != nil {
			return err
		}
		fmt.Fprintf(note, "octostore: org %s registered in %s\n", o.ID, cfg.DB)
		return nil
	})
}

// UserAdd adds a user with a role to a registered org and prints its first
// token, while no server runs on the database (a running server answers
// POST /admin/orgs/{org}/users instead).
func UserAdd(ctx context.Context, args, environ []string, out, note io.Writer) error {
	var org, user, role string
	cfg, err := loadConfig(args, environ, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "the org (registered with octostore org create)")
		fs.StringVar(&user, "user", "", "the user to add")
		fs.StringVar(&role, "role", "member", "member or owner")
	})
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	if org == "" || user == "" {
		return errors.New("user add: give the user: octostore user add --org ORG --user USER [--role owner]")
	}
	return offline(ctx, cfg, "user add", true, func(j ports.Journal) error {
		m, g, err := application.AddUserOffline(ctx, j, org, user, role, time.Now())
		if err != nil {
			return err
		}
		// Committed: show the token even if closing fails.
		if _, err := fmt.Fprintln(out, g.Token); err != nil {
			return err
		}
		fmt.Fprintf(note, "octostore: %s/%s added as %s; its token is stored as a hash only: save it now, it is not shown again\n", m.Org, m.User, m.Role)
		return nil
	})
}

// TokenList prints the tokens stored in the database, one line each: id,
// org/user, creation time. The database must not be served (a running
// server answers GET /admin/tokens instead).
func TokenList(ctx context.Context, args, environ []string, out io.Writer) error {
	var org, user string
	cfg, err := loadConfig(args, environ, func(fs *flag.FlagSet) {
		fs.StringVar(&org, "org", "", "only tokens of this org")
		fs.StringVar(&user, "user", "", "only tokens of this user")
	})
	if err != nil {
		return fmt.Errorf("token list: %w", err)
	}
	return offline(ctx, cfg, "token list", false, func(j ports.Journal) error {
		ts, err := application.StoredTokens(ctx, j, domain.OrgID(org), user)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tPRINCIPAL\tCREATED")
		for _, t := range ts {
			who := string(t.Principal.Org) + "/" + t.Principal.User
			if t.Principal.Admin {
				who = "admin"
			}
			created := "-"
			if !t.CreatedAt.IsZero() {
				created = t.CreatedAt.UTC().Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", t.ID, who, created)
		}
		return tw.Flush()
	})
}

// TokenRevoke revokes one stored token by id while no server runs on the
// database (a running server answers DELETE /admin/tokens/{id} instead).
func TokenRevoke(ctx context.Context, args, environ []string, note io.Writer) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return errors.New("token revoke: give the token id: octostore token revoke TOKEN_ID (octostore token list shows them)")
	}
	id, args := args[0], args[1:]
	cfg, err := loadConfig(args, environ, nil)
	if err != nil {
		return fmt.Errorf("token revoke: %w", err)
	}
	return offline(ctx, cfg, "token revoke", false, func(j ports.Journal) error {
		t, err := application.RevokeStoredToken(ctx, j, id)
		if err != nil {
			return err
		}
		fmt.Fprintf(note, "octostore: token %s of %s/%s revoked\n", t.ID, t.Principal.Org, t.Principal.User)
		return nil
	})
}

// Backup writes a consistent online copy of the configured database to dest
// while a server may be running on it, then checks that the copy loads.
func Backup(ctx context.Context, dest string, args, environ []string, out io.Writer) error {
	if dest == "" {
		return errors.New("backup: give the destination file: octostore backup FILE")
	}
	cfg, err := LoadConfig(args, environ)
	if err != nil {
		return err
	}
	if _, err := os.Stat(cfg.DB); err != nil {
		return fmt.Errorf("backup: database %s: %w", cfg.DB, err)
	}
	db, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.DB, Sync: cfg.Storage.Sync})
	if err != nil {
		return fmt.Errorf("open database %s: %w", cfg.DB, err)
	}
	defer db.Close()
	began := time.Now()
	if err := db.Backup(ctx, dest); err != nil {
		return err
	}
	copyDB, err := sqlite.Open(ctx, sqlite.Config{Path: dest})
	if err != nil {
		return fmt.Errorf("check backup %s: %w", dest, err)
	}
	defer copyDB.Close()
	snap, err := sqlite.NewJournal(copyDB).Load(ctx)
	if err != nil {
		return fmt.Errorf("check backup %s: %w", dest, err)
	}
	_, err = fmt.Fprintf(out, "backup %s written in %s: %d locks, fencing counter %d\n",
		dest, time.Since(began).Round(time.Millisecond), len(snap.Locks), uint64(snap.Counter))
	return err
}

// Restore replaces the configured database with the backup src. Run it with
// the server stopped: it holds the database's lock, so it is refused while
// a server runs on the file. The fencing counter of the result is the higher of the
// backup's and the replaced database's (when that one can still be read), so
// tokens handed out after the backup was taken are never issued again.
func Restore(ctx context.Context, src string, args, environ []string, out io.Writer) error {
	if src == "" {
		return errors.New("restore: give the backup file: octostore restore FILE")
	}
	cfg, err := LoadConfig(args, environ)
	if err != nil {
		return err
	}
	// Hold the lock throughout: replacing the file under a server would
	// let it go on from the old state.
	lock, err := sqlite.Lock(cfg.DB)
	if err != nil {
		return fmt.Errorf("restore: database %s: %w", cfg.DB, err)
	}
	defer lock.Release()
	backup, err := readSnapshot(ctx, src)
	if err != nil {
		return fmt.Errorf("restore: backup %s: %w", src, err)
	}
	floor := backup.Counter
	if _, statErr := os.Stat(cfg.DB); statErr == nil {
		if old, err := readSnapshot(ctx, cfg.DB); err == nil {
			floor = max(floor, old.Counter)
		} else {
			fmt.Fprintf(out, "warning: cannot read the fencing counter of %s (%v); tokens continue from the backup's %d\n", cfg.DB, err, uint64(backup.Counter))
		}
	}
	if err := copyFile(src, cfg.DB); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	db, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.DB, Sync: cfg.Storage.Sync})
	if err != nil {
		return fmt.Errorf("restore: open %s: %w", cfg.DB, err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	j := sqlite.NewJournal(db)
	if _, err := j.Load(ctx); err != nil {
		return fmt.Errorf("restore: check %s: %w", cfg.DB, err)
	}
	if err := j.Commit(ctx, domain.Batch{Counter: floor}); err != nil {
		return fmt.Errorf("restore: raise the fencing counter: %w", err)
	}
	_, err = fmt.Fprintf(out, "restored %s from %s: %d locks, %d sessions, fencing counter %d\n",
		cfg.DB, src, len(backup.Locks), len(backup.Sessions), uint64(floor))
	return err
}

// readSnapshot loads a database file without migrating or changing it.
func readSnapshot(ctx context.Context, path string) (domain.Snapshot, error) {
	db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		return domain.Snapshot{}, err
	}
	defer db.Close()
	return sqlite.NewJournal(db).Load(ctx)
}

// copyFile copies src over dst atomically: a synced temporary file renamed
// into place, after removing dst's WAL and shared-memory files.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".restore-tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err := out.Close(); err != nil {
		return err
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(dst + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return os.Rename(tmp, dst)
}
