package bootstrap_test

import (
	"net/http"
	"testing"
)

func TestAdminStats(t *testing.T) {
	s := newServer(t)
	s.acquire(t, aliceToken, "stats/a", map[string]any{"ttl_seconds": 60})
	r := s.call(t, http.MethodGet, "/admin/stats", adminTok, nil).ok(t, http.StatusOK)
	if r.num(t, "batches") < 1 || r.num(t, "requests") < 1 || r.num(t, "lock_records") < 1 {
		t.Fatalf("stats do not count the acquire: %s", r.raw)
	}
	s.call(t, http.MethodGet, "/admin/stats", aliceToken, nil).problem(t, http.StatusForbidden, "admin_only")
	s.call(t, http.MethodGet, "/admin/stats", "", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	checkSpec(t, s)
}
