package bootstrap_test

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

// TestACLsEndToEnd runs the ACL model on the real server and a real SQLite
// file: an owner's rules decide acquire and observe, a prefix watch stops
// seeing a name the moment the rule hides it, and the rules survive a
// restart.
func TestACLsEndToEnd(t *testing.T) {
	db := filepath.Join(t.TempDir(), "octostore.db")
	s := startServer(t, e2eConfig(db), nil, nil)
	s.call(t, http.MethodPost, "/admin/orgs", adminTok, map[string]any{"org": "acme"}).ok(t, http.StatusCreated)
	s.call(t, http.MethodPost, "/admin/orgs/acme/users", adminTok, map[string]any{"user": "alice", "role": "owner"}).ok(t, http.StatusCreated)
	s.call(t, http.MethodPut, "/teams/dba", bobToken, map[string]any{"members": []string{"bob"}}).problem(t, http.StatusForbidden, "permission_denied")
	s.call(t, http.MethodPut, "/teams/dba", aliceToken, map[string]any{"members": []string{"alice"}}).ok(t, http.StatusOK)
	// Broad: only dba acquires below db. Narrow: db/scratch is open to
	// every member again (the narrower allow beats the broader deny).
	s.call(t, http.MethodPut, "/acls/db", aliceToken, map[string]any{"acquire": []string{"team:dba"}}).ok(t, http.StatusOK)
	s.call(t, http.MethodPut, "/acls/db%2Fscratch", aliceToken, map[string]any{"acquire": []string{"org"}}).ok(t, http.StatusOK)
	s.call(t, http.MethodPost, lockPath("db/primary", "/acquire"), bobToken, nil).problem(t, http.StatusForbidden, "permission_denied")
	s.acquire(t, bobToken, "db/scratch/t1", nil)
	s.acquire(t, aliceToken, "db/primary", nil)

	st := s.watch(t, bobToken, "/watch?prefix=db", "")
	if snap := st.mustNext(t); snap.event != "snapshot" || !strings.Contains(snap.data, "db/primary") {
		t.Fatalf("bob's snapshot: %+v", snap)
	}
	// Hide db/secret from bob, then make events on it and on a name he
	// may see: only the second reaches him.
	s.call(t, http.MethodPut, "/acls/db%2Fsecret", aliceToken, map[string]any{"acquire": []string{"team:dba"}, "observe": []string{"team:dba"}}).ok(t, http.StatusOK)
	s.acquire(t, aliceToken, "db/secret/k", nil)
	s.acquire(t, bobToken, "db/scratch/t2", nil)
	if f := st.mustNext(t); f.event != "lock.acquired" || !strings.Contains(f.data, `"name":"db/scratch/t2"`) {
		t.Fatalf("bob's next event: %+v (db/secret/k must be hidden)", f)
	}
	if r := s.call(t, http.MethodGet, "/locks?prefix=db", bobToken, nil).ok(t, http.StatusOK); strings.Contains(string(r.raw), "db/secret") {
		t.Errorf("bob lists a hidden lock: %s", r.raw)
	}
	if r := s.call(t, http.MethodGet, "/events?prefix=db", bobToken, nil).ok(t, http.StatusOK); strings.Contains(string(r.raw), "db/secret") {
		t.Errorf("bob's events page shows a hidden lock: %s", r.raw)
	}
	s.call(t, http.MethodGet, lockPath("db/secret/k", ""), bobToken, nil).problem(t, http.StatusForbidden, "permission_denied")
	// Another org is not governed by acme's rules.
	s.acquire(t, carolToken, "db/secret/k", nil)

	s.stop()
	s = startServer(t, e2eConfig(db), nil, nil)
	s.call(t, http.MethodPost, lockPath("db/other", "/acquire"), bobToken, nil).problem(t, http.StatusForbidden, "permission_denied")
	s.call(t, http.MethodGet, lockPath("db/secret/k", ""), bobToken, nil).problem(t, http.StatusForbidden, "permission_denied")
	s.acquire(t, bobToken, "db/scratch/t3", nil)
	if r := s.call(t, http.MethodGet, "/acls", bobToken, nil).ok(t, http.StatusOK); strings.Count(string(r.raw), `"prefix"`) != 3 {
		t.Errorf("rules after restart: %s", r.raw)
	}
}
