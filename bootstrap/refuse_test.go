package bootstrap_test

import (
	"bytes"
	"context"
	"database/sql"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	_ "modernc.org/sqlite"

	"github.com/octostore/octostore/bootstrap"
)

// TestRefusesDatabaseItCannotReadCorrectly: a lock whose fencing token is
// above the stored counter would let a token be issued twice. The server
// must refuse to start with a clear message and leave the file untouched.
func TestRefusesDatabaseItCannotReadCorrectly(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "octostore.db")
	s := startServer(t, e2eConfig(path), nil, nil)
	s.acquire(t, aliceToken, "doctored", nil)
	s.stop()

	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE locks SET fencing_token = 99, lease_id = 'L99-0011223344556677'`); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	app := fx.New(bootstrap.Options(e2eConfig(path), bootstrap.Env{Version: "test", Logger: slog.New(slog.DiscardHandler)}))
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = app.Start(ctx)
	if err == nil {
		_ = app.Stop(ctx)
		t.Fatal("server started on a database whose lock token is above the fencing counter")
	}
	if !strings.Contains(err.Error(), "above the fencing counter") {
		t.Fatalf("start error does not say what is wrong: %v", err)
	}
	_ = app.Stop(ctx)
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Fatal("the refused database was modified")
	}
}
