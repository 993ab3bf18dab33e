package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func (r *response) noContent(t *testing.T) {
	t.Helper()
	if r.status != http.StatusNoContent || len(r.raw) != 0 {
		t.Errorf("%v: want 204 without a body", r)
	}
}

// makeOwner registers acme and adds alice (a configured token) as its
// owner, through the admin API.
func (a *api) makeOwner(t *testing.T) {
	t.Helper()
	a.post("/admin/orgs", adminTok, map[string]any{"org": "acme"}).ok(t, http.StatusCreated)
	a.post("/admin/orgs/acme/users", adminTok, map[string]any{"user": "alice", "role": "owner"}).ok(t, http.StatusCreated)
}

func TestTeamRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.put("/teams/dba", aliceTok, map[string]any{"members": []string{"bob"}}).problem(t, http.StatusForbidden, "permission_denied")
	a.makeOwner(t)
	r := a.put("/teams/dba", aliceTok, map[string]any{"members": []string{"dave", "bob", "bob"}}).ok(t, http.StatusOK).keys(t, "name", "members", "updated_at")
	if !strings.Contains(string(r.raw), `"members":["bob","dave"]`) {
		t.Errorf("members not sorted and deduplicated: %s", r.raw)
	}
	a.put("/teams/dba", bobTok, map[string]any{"members": []string{"bob"}}).problem(t, http.StatusForbidden, "permission_denied")
	a.put("/teams/dba", adminTok, map[string]any{"members": []string{"bob"}}).problem(t, http.StatusForbidden, "admin_not_tenant")
	a.put("/teams/a%20b", aliceTok, map[string]any{"members": []string{}}).problem(t, http.StatusUnprocessableEntity, "invalid_team").at(t, "path.team")
	a.put("/teams/ops", aliceTok, map[string]any{"members": []string{"not ok"}}).problem(t, http.StatusUnprocessableEntity, "invalid_user")
	a.put("/teams/ops", aliceTok, map[string]any{}).problem(t, http.StatusUnprocessableEntity, "validation_failed")
	a.send(request{method: http.MethodPut, path: "/teams/ops", token: aliceTok, body: `{"members":[]}`, ctype: "text/plain"}).
		problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	a.put("/teams/ops", aliceTok, `{"members":["`+strings.Repeat("x", 1<<20)+`"]}`).problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
	a.send(request{method: http.MethodPut, path: "/acls/db", token: aliceTok, body: `{}`, ctype: "text/plain"}).
		problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	a.put("/acls/db", aliceTok, `{"acquire":["`+strings.Repeat("x", 1<<20)+`"]}`).problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
	a.get("/teams/ops", aliceTok).problem(t, http.StatusNotFound, "team_not_found")
	a.get("/acls/db", aliceTok).problem(t, http.StatusNotFound, "acl_not_found")

	// Every member reads; other orgs see nothing.
	if r := a.get("/teams", bobTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"name":"dba"`) {
		t.Errorf("teams: %s", r.raw)
	}
	a.get("/teams/dba", bobTok).ok(t, http.StatusOK)
	if r := a.get("/teams", carolTok).ok(t, http.StatusOK); string(r.raw) != "{\"teams\":[]}\n" {
		t.Errorf("globex sees acme's teams: %s", r.raw)
	}
	a.get("/teams/dba", carolTok).problem(t, http.StatusNotFound, "team_not_found")
	a.call(http.MethodDelete, "/teams/dba", carolTok, nil).problem(t, http.StatusForbidden, "permission_denied")
	a.get("/teams", adminTok).problem(t, http.StatusForbidden, "admin_not_tenant")

	a.put("/acls/db", aliceTok, map[string]any{"acquire": []string{"team:dba"}}).ok(t, http.StatusOK)
	a.call(http.MethodDelete, "/teams/dba", aliceTok, nil).problem(t, http.StatusConflict, "team_in_use")
	a.call(http.MethodDelete, "/acls/db", aliceTok, nil).noContent(t)
	a.journal.FailNextCommit(errors.New("disk full"))
	a.call(http.MethodDelete, "/teams/dba", aliceTok, nil).problem(t, http.StatusServiceUnavailable, "unavailable")
	a.journal.FailNextCommit(errors.New("disk full"))
	a.put("/teams/x", aliceTok, map[string]any{"members": []string{}}).problem(t, http.StatusServiceUnavailable, "unavailable")
	a.call(http.MethodDelete, "/teams/dba", aliceTok, nil).noContent(t)
	a.call(http.MethodDelete, "/teams/dba", aliceTok, nil).problem(t, http.StatusNotFound, "team_not_found")
	a.get("/teams/x", aliceTok).problem(t, http.StatusNotFound, "team_not_found")
}

func TestACLRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.makeOwner(t)
	a.put("/teams/dba", aliceTok, map[string]any{"members": []string{"dave"}}).ok(t, http.StatusOK)
	a.put("/acls/db", aliceTok, map[string]any{"acquire": []string{"team:nope"}}).problem(t, http.StatusUnprocessableEntity, "invalid_principal")
	a.put("/acls/db", aliceTok, map[string]any{"acquire": []string{"everyone"}}).problem(t, http.StatusUnprocessableEntity, "invalid_principal")
	a.put("/acls/db%2F%2Fx", aliceTok, map[string]any{}).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.prefix")
	a.put("/acls/db", bobTok, map[string]any{}).problem(t, http.StatusForbidden, "permission_denied")
	a.journal.FailNextCommit(errors.New("disk full"))
	a.put("/acls/db", aliceTok, map[string]any{}).problem(t, http.StatusServiceUnavailable, "unavailable")
	a.get("/acls/db", aliceTok).problem(t, http.StatusNotFound, "acl_not_found")

	r := a.put("/acls/db", aliceTok, map[string]any{"acquire": []string{"team:dba"}}).ok(t, http.StatusOK).
		keys(t, "prefix", "acquire", "observe", "updated_at", "updated_by")
	if !strings.Contains(string(r.raw), `"acquire":["team:dba"],"observe":["org"]`) || r.str("updated_by") != "alice" {
		t.Errorf("rule: %s (observe left out: every member)", r.raw)
	}
	a.put("/acls/db%2Fsecret", aliceTok, map[string]any{"acquire": []string{"user:dave"}, "observe": []string{"user:dave"}}).ok(t, http.StatusOK)
	if r := a.get("/acls", bobTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"prefix":"db"`) || !strings.Contains(string(r.raw), `"prefix":"db/secret"`) {
		t.Errorf("acls: %s", r.raw)
	}
	a.get("/acls/db%2Fsecret", bobTok).ok(t, http.StatusOK)
	a.get("/acls/db%2F%2F", bobTok).problem(t, http.StatusUnprocessableEntity, "invalid_name")
	a.get("/acls", adminTok).problem(t, http.StatusForbidden, "admin_not_tenant")
	a.get("/acls/db", carolTok).problem(t, http.StatusNotFound, "acl_not_found")
	if r := a.get("/acls", carolTok).ok(t, http.StatusOK); string(r.raw) != "{\"acls\":[]}\n" {
		t.Errorf("globex sees acme's rules: %s", r.raw)
	}

	// Enforcement over HTTP: bob may not take db/x; dave (team dba) may;
	// nobody but dave sees db/secret/...; other orgs are not affected.
	a.post(lockPath("db/x", "/acquire"), bobTok, nil).problem(t, http.StatusForbidden, "permission_denied")
	a.acquire(t, daveTok, "db/x", nil)
	a.post(lockPath("db/x", "/validate"), bobTok, map[string]any{"fencing_token": 1}).problem(t, http.StatusForbidden, "permission_denied")
	a.post(lockPath("db/x", "/release"), bobTok, map[string]any{"lease_id": "L1-0011223344556677"}).problem(t, http.StatusForbidden, "permission_denied")
	a.post(lockPath("db/x", "/renew"), bobTok, map[string]any{"lease_id": "L1-0011223344556677"}).problem(t, http.StatusForbidden, "permission_denied")
	a.get(lockPath("db/x", ""), bobTok).ok(t, http.StatusOK)
	a.acquire(t, daveTok, "db/secret/k", nil)
	a.get(lockPath("db/secret/k", ""), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	a.get(lockPath("db/secret/k", "/watch"), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	if r := a.get("/locks?prefix=db", bobTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "db/secret") || !strings.Contains(string(r.raw), `"name":"db/x"`) {
		t.Errorf("bob's listing: %s", r.raw)
	}
	if r := a.get("/locks?prefix=db", daveTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), "db/secret/k") {
		t.Errorf("dave's listing: %s", r.raw)
	}
	a.acquire(t, carolTok, "db/x", nil) // globex has no rules

	a.call(http.MethodDelete, "/acls/db", bobTok, nil).problem(t, http.StatusForbidden, "permission_denied")
	a.call(http.MethodDelete, "/acls/db%2F%2F", aliceTok, nil).problem(t, http.StatusUnprocessableEntity, "invalid_name")
	a.journal.FailNextCommit(errors.New("disk full"))
	a.call(http.MethodDelete, "/acls/db", aliceTok, nil).problem(t, http.StatusServiceUnavailable, "unavailable")
	a.call(http.MethodDelete, "/acls/db", aliceTok, nil).noContent(t)
	a.call(http.MethodDelete, "/acls/db", aliceTok, nil).problem(t, http.StatusNotFound, "acl_not_found")
	a.acquire(t, bobTok, "db/y", nil) // no rule decides db/y now
}
