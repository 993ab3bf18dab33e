package bootstrap_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/bootstrap"
)

// TestRestartKeepsLocksAndTokens stops the app gracefully and starts a new
// one on the same database file: held locks come back exactly, released
// ones stay free, old leases still work and fencing tokens keep growing.
func TestRestartKeepsLocksAndTokens(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")

	s1 := startServer(t, e2eConfig(db), nil, nil)
	a := s1.acquire(t, aliceToken, "db/primary", map[string]any{"ttl_seconds": 600, "metadata": "alice@10.0.0.1", "owner": "host-a"})
	c := s1.acquire(t, carolToken, "jobs/nightly", map[string]any{"ttl_seconds": 300, "metadata": "carol-meta"})
	gone := s1.acquire(t, aliceToken, "tmp/released", nil)
	s1.call(t, http.MethodPost, lockPath(gone.name, "/release"), aliceToken, map[string]string{"lease_id": gone.id}).ok(t, http.StatusOK)
	highest := max(a.token, c.token, gone.token)
	checkSpec(t, s1)
	s1.stop()
	if _, err := s1.do(req{method: http.MethodGet, path: "/health"}); err == nil {
		t.Error("the stopped server still answers")
	}

	s2 := startServer(t, e2eConfig(db), nil, nil)
	if r := s2.wantHeld(t, aliceToken, a.name, "user:alice/owner:host-a", a); r.str("metadata") != "alice@10.0.0.1" {
		t.Errorf("alice's lock after restart: %s", r.raw)
	}
	if r := s2.wantHeld(t, carolToken, c.name, "user:carol", c); r.str("metadata") != "carol-meta" {
		t.Errorf("carol's lock after restart: %s", r.raw)
	}
	s2.wantFree(t, aliceToken, gone.name)
	s2.wantFree(t, carolToken, a.name) // still scoped to its org
	s2.wantFree(t, aliceToken, c.name)

	// Another holder still cannot take the lock.
	r := s2.call(t, http.MethodPost, lockPath(a.name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
	if !r.time(t, "expires_at").Equal(a.expires) {
		t.Errorf("lock_held after restart: expires_at %s, want %s", r.str("expires_at"), a.expires)
	}
	// The holder re-acquiring with its owner gets the same lease back;
	// without it, it is refused.
	s2.call(t, http.MethodPost, lockPath(a.name, "/acquire"), aliceToken, nil).problem(t, http.StatusConflict, "lock_held")
	r = s2.call(t, http.MethodPost, lockPath(a.name, "/acquire"), aliceToken, map[string]any{"ttl_seconds": 1, "owner": "host-a"}).ok(t, http.StatusOK)
	if r.str("lease_id") != a.id || r.num(t, "fencing_token") != a.token || !r.time(t, "expires_at").Equal(a.expires) {
		t.Errorf("re-acquire after restart = %s, want lease %s token %d expiry %s", r.raw, a.id, a.token, a.expires)
	}

	// The old lease ids still renew and release.
	r = s2.call(t, http.MethodPost, lockPath(a.name, "/renew"), aliceToken, map[string]any{"lease_id": a.id, "ttl_seconds": 900}).ok(t, http.StatusOK)
	if r.str("lease_id") != a.id || r.num(t, "fencing_token") != a.token || !r.time(t, "expires_at").After(a.expires) {
		t.Errorf("renew after restart = %s", r.raw)
	}
	s2.call(t, http.MethodPost, lockPath(c.name, "/release"), carolToken, map[string]string{"lease_id": c.id}).ok(t, http.StatusOK)
	s2.wantFree(t, carolToken, c.name)
	// The lease released before the restart stays ended.
	s2.call(t, http.MethodPost, lockPath(gone.name, "/renew"), aliceToken, map[string]any{"lease_id": gone.id}).
		problem(t, http.StatusConflict, "lease_not_current")

	fresh := s2.acquire(t, bobToken, "fresh/after-restart", nil)
	if fresh.token <= highest {
		t.Errorf("first grant after restart has token %d, want > %d (highest before)", fresh.token, highest)
	}
	again := s2.acquire(t, carolToken, c.name, nil)
	if again.token <= fresh.token || again.id == c.id {
		t.Errorf("re-grant of a released lock: token %d lease %s (after %d, old lease %s)", again.token, again.id, fresh.token, c.id)
	}
	checkSpec(t, s2)
}

// TestRestartGraceForLocksExpiredWhileDown: a lock whose lease runs out
// while the server is down is given restore.grace from the moment the
// server is ready (an outage must not cost its holder the lock); the holder
// can renew it within the grace, and without a renewal it expires after it.
func TestRestartGraceForLocksExpiredWhileDown(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")
	s1 := startServer(t, e2eConfig(db), nil, nil)
	kept := s1.acquire(t, aliceToken, "grace/kept", map[string]any{"ttl_seconds": 1})
	lost := s1.acquire(t, aliceToken, "grace/lost", map[string]any{"ttl_seconds": 1})
	s1.stop()
	if d := time.Until(lost.expires); d > 0 {
		time.Sleep(d + 20*time.Millisecond)
	}
	cfg := e2eConfig(db)
	cfg.Restore.Grace = time.Second
	s2 := startServer(t, cfg, nil, nil)
	for _, l := range []lease{kept, lost} {
		if r := s2.get(t, aliceToken, l.name); r.str("status") != "held" || r.num(t, "fencing_token") != l.token ||
			!r.time(t, "expires_at").After(time.Now()) {
			t.Fatalf("after restart %s = %s, want held in its grace", l.name, r.raw)
		}
	}
	s2.call(t, http.MethodPost, lockPath(kept.name, "/renew"), aliceToken, map[string]any{"lease_id": kept.id, "ttl_seconds": 60}).
		ok(t, http.StatusOK)
	s2.call(t, http.MethodPost, lockPath(lost.name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
	s2.waitNotHeld(t, aliceToken, lost.name)
	s2.call(t, http.MethodPost, lockPath(lost.name, "/renew"), aliceToken, map[string]any{"lease_id": lost.id}).
		problem(t, http.StatusConflict, "lease_not_current")
	if b := s2.acquire(t, bobToken, lost.name, nil); b.token <= lost.token {
		t.Errorf("grant after restart: token %d, want > %d", b.token, lost.token)
	}
	if r := s2.get(t, aliceToken, kept.name); r.str("status") != "held" || r.num(t, "fencing_token") != kept.token {
		t.Fatalf("renewed lock %s = %s, want still held", kept.name, r.raw)
	}
}

// firstStartConfig has no static and no admin token.
func firstStartConfig(db string) bootstrap.Config {
	cfg := bootstrap.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = db
	cfg.Locks.SweepInterval = 50 * time.Millisecond
	cfg.Shutdown.Timeout = 5 * time.Second
	return cfg
}

// bannerToken returns the token printed at the end of the console line
// that contains label.
func bannerToken(t *testing.T, console, label string) string {
	t.Helper()
	for line := range strings.Lines(console) {
		if f := strings.Fields(line); strings.Contains(line, label) && len(f) > 0 {
			return f[len(f)-1]
		}
	}
	t.Fatalf("no %q line in the console output:\n%s", label, console)
	return ""
}

// TestFirstStartGeneratesTokens starts without any configured token: the
// app prints an admin and a user token once, on the console only; the user
// token works, also after a restart that prints nothing.
func TestFirstStartGeneratesTokens(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")
	var console bytes.Buffer
	var logs syncBuffer
	s1 := startServer(t, firstStartConfig(db), &console, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	out := console.String()
	user := bannerToken(t, out, "user token for default/admin:")
	admin := bannerToken(t, out, "admin token (")
	if user == admin || len(user) < 16 || len(admin) < 16 {
		t.Fatalf("generated tokens %q and %q", user, admin)
	}

	l := s1.acquire(t, user, "first/lock", map[string]any{"metadata": "generated", "owner": "first"})
	s1.wantHeld(t, user, l.name, "user:admin/owner:first", l)
	s1.call(t, http.MethodPost, lockPath(l.name, "/acquire"), admin, nil).problem(t, http.StatusForbidden, "admin_not_tenant")
	s1.call(t, http.MethodGet, "/locks", wrongToken, nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	checkSpec(t, s1)
	s1.stop()

	var console2 bytes.Buffer
	s2 := startServer(t, firstStartConfig(db), &console2, slog.New(slog.NewTextHandler(&logs, nil)))
	if console2.Len() != 0 {
		t.Errorf("second start printed:\n%s", console2.String())
	}
	s2.wantHeld(t, user, l.name, "user:admin/owner:first", l)
	r := s2.call(t, http.MethodPost, lockPath(l.name, "/acquire"), user, map[string]any{"owner": "first"}).ok(t, http.StatusOK)
	if r.str("lease_id") != l.id || r.num(t, "fencing_token") != l.token {
		t.Errorf("re-acquire with the generated token after restart = %s", r.raw)
	}
	s2.call(t, http.MethodGet, "/locks", admin, nil).problem(t, http.StatusForbidden, "admin_not_tenant")
	s2.stop()

	for _, tok := range []string{user, admin} {
		if strings.Contains(logs.String(), tok) {
			t.Errorf("a generated token reached the log")
		}
	}
}

// TestConfiguredTokensGenerateNothing: with static tokens configured,
// nothing is generated or printed, and only the configured tokens work.
func TestConfiguredTokensGenerateNothing(t *testing.T) {
	t.Parallel()
	var console bytes.Buffer
	s := startServer(t, e2eConfig(filepath.Join(t.TempDir(), "octostore.db")), &console, nil)
	if console.Len() != 0 {
		t.Errorf("start with static tokens printed:\n%s", console.String())
	}
	s.acquire(t, aliceToken, "cfg/x", nil)
}
