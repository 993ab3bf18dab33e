package bootstrap_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/octostore/octostore/bootstrap"
)

// TestBackupAndRestore takes an online backup while the server runs, keeps
// granting, then restores: the backup's locks come back and fencing tokens
// continue above every token issued before the restore.
func TestBackupAndRestore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db := filepath.Join(dir, "octostore.db")
	copyPath := filepath.Join(dir, "backup.db")
	s1 := startServer(t, e2eConfig(db), nil, nil)
	before := s1.acquire(t, aliceToken, "backup/kept", map[string]any{"ttl_seconds": 3600})
	var out bytes.Buffer
	if err := bootstrap.Backup(ctx, copyPath, []string{"--db", db}, nil, &out); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.Contains(out.String(), "1 locks") {
		t.Fatalf("backup report: %q", out.String())
	}
	after := s1.acquire(t, aliceToken, "backup/later", map[string]any{"ttl_seconds": 3600})
	s1.stop()

	if err := bootstrap.Restore(ctx, copyPath, []string{"--db", db}, nil, &out); err != nil {
		t.Fatalf("restore: %v", err)
	}
	s2 := startServer(t, e2eConfig(db), nil, nil)
	s2.wantHeld(t, aliceToken, before.name, "user:alice", before)
	s2.wantFree(t, aliceToken, after.name)
	if fresh := s2.acquire(t, bobToken, "backup/fresh", nil); fresh.token <= after.token {
		t.Fatalf("token after restore %d, want above %d (issued after the backup)", fresh.token, after.token)
	}
	s2.call(t, http.MethodGet, "/health", "", nil).ok(t, http.StatusOK)
	if err := bootstrap.Backup(ctx, copyPath, []string{"--db", db}, nil, &out); err == nil {
		t.Fatal("backup overwrote an existing file")
	}
}
