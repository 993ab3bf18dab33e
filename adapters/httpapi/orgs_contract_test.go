package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// The contract of the admin org routes.

func TestOrgRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.get("/admin/orgs/initech/users", adminTok).problem(t, http.StatusNotFound, "org_not_found")
	a.post("/admin/orgs/initech/users", adminTok, map[string]any{"user": "peter"}).problem(t, http.StatusNotFound, "org_not_found")
	if r := a.post("/admin/orgs", adminTok, map[string]any{"org": "initech"}).ok(t, http.StatusCreated).keys(t, "org", "created_at", "members", "source"); r.str("source") != "registered" {
		t.Fatalf("created %v", r)
	}
	a.post("/admin/orgs", adminTok, map[string]any{"org": "initech"}).problem(t, http.StatusConflict, "org_exists")
	a.post("/admin/orgs", adminTok, map[string]any{"org": "a b"}).problem(t, http.StatusUnprocessableEntity, "invalid_org")

	added := a.post("/admin/orgs/initech/users", adminTok, map[string]any{"user": "peter", "role": "owner"}).ok(t, http.StatusCreated).
		keys(t, "org", "user", "role", "token", "token_id", "added_at")
	if added.str("role") != "owner" || !strings.HasPrefix(added.str("token"), "octo_") || added.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("added %v", added)
	}
	a.get("/locks", added.str("token")).ok(t, http.StatusOK)
	a.post("/admin/orgs/initech/users", adminTok, map[string]any{"user": "peter"}).problem(t, http.StatusConflict, "user_exists")
	a.post("/admin/orgs/initech/users", adminTok, map[string]any{"user": "a b"}).problem(t, http.StatusUnprocessableEntity, "invalid_user")
	a.post("/admin/orgs/initech/users", adminTok, map[string]any{"user": "bill", "role": "king"}).problem(t, http.StatusUnprocessableEntity, "validation_failed")
	a.post("/admin/orgs/initech/users", adminTok, map[string]any{"user": "bill"}).ok(t, http.StatusCreated)

	users := a.get("/admin/orgs/initech/users", adminTok).ok(t, http.StatusOK)
	if !strings.Contains(string(users.raw), `{"user":"bill","role":"member"`) || !strings.Contains(string(users.raw), `"user":"peter","role":"owner"`) ||
		strings.Contains(string(users.raw), "octo_") {
		t.Fatalf("users: %s", users.raw)
	}
	// The static tokens' orgs are listed too, marked, without a creation
	// time; so is an org only a stored token names.
	a.post("/admin/orgs/aviato/users/erlich/tokens", adminTok, nil).ok(t, http.StatusCreated)
	orgs := a.get("/admin/orgs", adminTok).ok(t, http.StatusOK)
	var list struct {
		Orgs []map[string]any `json:"orgs"`
	}
	if err := json.Unmarshal(orgs.raw, &list); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range list.Orgs {
		_, created := o["created_at"]
		got = append(got, fmt.Sprintf("%v %v %v %t", o["org"], o["source"], o["members"], created))
	}
	if want := []string{"acme static 0 false", "aviato tokens 0 false", "globex static 0 false", "initech registered 2 true"}; !slices.Equal(got, want) {
		t.Fatalf("orgs: %s\ngot  %q\nwant %q", orgs.raw, got, want)
	}
	for _, r := range []request{
		{method: http.MethodPost, path: "/admin/orgs", body: map[string]any{"org": "hooli"}},
		{method: http.MethodPost, path: "/admin/orgs/initech/users", body: map[string]any{"user": "milton"}},
	} {
		a.journal.FailNextCommit(errors.New("disk full"))
		r.token = adminTok
		a.send(r).problem(t, http.StatusServiceUnavailable, "unavailable").nowhere(t)
	}
	if orgs := a.get("/admin/orgs", adminTok).ok(t, http.StatusOK); strings.Contains(string(orgs.raw), "hooli") {
		t.Fatalf("a failed commit registered an org: %s", orgs.raw)
	}
	for _, path := range []string{"/admin/orgs", "/admin/orgs/initech/users"} {
		a.get(path, aliceTok).problem(t, http.StatusForbidden, "admin_only")
	}
	a.post("/admin/orgs", aliceTok, map[string]any{"org": "hooli"}).problem(t, http.StatusForbidden, "admin_only")
	a.post("/admin/orgs/initech/users", aliceTok, map[string]any{"user": "milton"}).problem(t, http.StatusForbidden, "admin_only")
}
