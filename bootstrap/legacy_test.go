package bootstrap_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// legacyGrants is testdata/legacy-holders/*/grants.json: what the release
// before "a holder is a client" answered when it wrote the database.
type legacyGrants struct {
	User struct {
		LeaseID string `json:"lease_id"`
	} `json:"user"`
	Session struct {
		SessionID string `json:"session_id"`
	} `json:"session"`
	Ephemeral struct {
		LeaseID string `json:"lease_id"`
	} `json:"ephemeral"`
	SessionLock struct {
		LeaseID string `json:"lease_id"`
	} `json:"session_lock"`
}

// TestLegacyHoldersKeepWorking starts the server on databases written by the
// previous release, whose holders are stored as user:<user> and
// session:<id>, both folded into the tables and still in the change log
// after a kill -9: the locks are shown with their principal, renewed and
// released by their lease ids, and the new holder rule applies to them.
func TestLegacyHoldersKeepWorking(t *testing.T) {
	for _, variant := range []string{"clean", "crashed"} {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			src := filepath.Join("testdata", "legacy-holders", variant)
			dir := t.TempDir()
			for _, f := range []string{"octostore.db", "octostore.db-wal"} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if os.IsNotExist(err) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := os.ReadFile(filepath.Join(src, "grants.json"))
			if err != nil {
				t.Fatal(err)
			}
			var g legacyGrants
			if err := json.Unmarshal(raw, &g); err != nil {
				t.Fatal(err)
			}
			s := startServer(t, e2eConfig(filepath.Join(dir, "octostore.db")), nil, nil)
			sid := g.Session.SessionID

			// Shown with the principal; the session holder's user comes
			// from its session.
			if r := s.get(t, bobToken, "legacy/user"); r.str("status") != "held" || r.str("holder") != "acme/alice" ||
				r.str("owner") != "" || r.str("session_id") != "" || r.str("metadata") != "old-user" {
				t.Errorf("legacy user lock: %s", r.raw)
			}
			for _, name := range []string{"legacy/eph", "legacy/sess"} {
				if r := s.get(t, aliceToken, name); r.str("status") != "held" || r.str("holder") != "acme/bob" || r.str("session_id") != sid {
					t.Errorf("legacy session lock %s: %s", name, r.raw)
				}
			}

			// The new rule applies: nobody re-acquires an anonymous holder's lock.
			s.call(t, http.MethodPost, lockPath("legacy/user", "/acquire"), aliceToken, nil).problem(t, http.StatusConflict, "lock_held")
			// The session still re-acquires its own lock (same lease).
			r := s.call(t, http.MethodPost, lockPath("legacy/eph", "/acquire"), bobToken,
				map[string]any{"session_id": sid, "ephemeral": true}).ok(t, http.StatusOK)
			if r.str("lease_id") != g.Ephemeral.LeaseID {
				t.Errorf("session re-acquire of its legacy lock = %s, want lease %s", r.raw, g.Ephemeral.LeaseID)
			}

			// Renew and release by lease id.
			s.call(t, http.MethodPost, lockPath("legacy/user", "/renew"), aliceToken,
				map[string]any{"lease_id": g.User.LeaseID, "ttl_seconds": 60}).ok(t, http.StatusOK)
			s.call(t, http.MethodPost, lockPath("legacy/sess", "/renew"), bobToken,
				map[string]any{"lease_id": g.SessionLock.LeaseID, "ttl_seconds": 60}).ok(t, http.StatusOK)
			for name, lease := range map[string]string{"legacy/user": g.User.LeaseID, "legacy/sess": g.SessionLock.LeaseID, "legacy/eph": g.Ephemeral.LeaseID} {
				s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": lease}).ok(t, http.StatusOK)
				s.wantFree(t, bobToken, name)
			}
			// Tokens continue above the old ones.
			if l := s.acquire(t, aliceToken, "legacy/user", nil); l.token <= 3 {
				t.Errorf("token after the legacy grants: %d, want > 3", l.token)
			}
		})
	}
}
