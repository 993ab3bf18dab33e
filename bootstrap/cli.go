package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"go.uber.org/fx"

	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/adapters/sqlite"
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
func Serve(ctx context.Context, args, environ []string, version string, console io.Writer) error {
	cfg, err := LoadConfig(args, environ)
	if err != nil {
		return err
	}
	log := NewLogger(cfg, console)
	app := fx.New(Options(cfg, Env{Version: version, Logger: log, Console: console}),
		fx.StartTimeout(time.Minute), fx.StopTimeout(cfg.Shutdown.Timeout+5*time.Second))
	if err := app.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return err
	}
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

// Migrate runs an operator migration command (status, up or down) against
// the configured database, without starting the server.
func Migrate(ctx context.Context, action string, args, environ []string, out io.Writer) error {
	cfg, err := LoadConfig(args, environ)
	if err != nil {
		return err
	}
	db, err := sqlite.Open(ctx, sqlite.Config{Path: cfg.DB, Sync: cfg.Storage.Sync})
	if err != nil {
		return fmt.Errorf("open database %s: %w", cfg.DB, err)
	}
	defer db.Close()
	switch action {
	case "status":
		return db.MigrateStatus(ctx, out)
	case "up":
		if err := db.MigrateUp(ctx); err != nil {
			return err
		}
		return db.MigrateStatus(ctx, out)
	case "down":
		if err := db.MigrateDown(ctx); err != nil {
			return err
		}
		return db.MigrateStatus(ctx, out)
	}
	return fmt.Errorf("migrate: unknown action %q (want status, up or down)", action)
}

// Usage is the command-line help.
func Usage() string {
	var b strings.Builder
	b.WriteString(`Usage:
  octostore [serve] [flags]          run the server (default)
  octostore migrate status|up|down [flags]
                                     inspect or apply schema migrations by hand
  octostore backup FILE [flags]      write a consistent copy of the database while the server runs
  octostore openapi                  print the OpenAPI description (YAML)
  octostore version | --version      print the version

Flags:
`)
	b.WriteString(FlagUsage())
	b.WriteString(`
Environment: OCTOSTORE_ADDR, OCTOSTORE_DB, OCTOSTORE_STATIC_TOKENS, OCTOSTORE_ADMIN_TOKEN,
OCTOSTORE_LOG_FORMAT, OCTOSTORE_LOG_LEVEL, OCTOSTORE_STORAGE__SYNC, OCTOSTORE_LOCKS__SWEEP_INTERVAL,
OCTOSTORE_SHUTDOWN__TIMEOUT (nested keys use a double underscore).
`)
	return b.String()
}

// OpenAPI returns the API description as YAML, generated from the handlers
// without starting anything.
func OpenAPI() ([]byte, error) {
	return httpapi.New(httpapi.Config{}, httpapi.Services{}).API().OpenAPI().YAML()
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
