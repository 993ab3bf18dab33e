package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

// The contract of token rotation and the admin token routes.

func TestTokenRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	issued := a.post("/admin/orgs/acme/users/dave/tokens", adminTok, nil).ok(t, http.StatusCreated).
		keys(t, "token", "token_id", "org", "user", "created_at")
	tok, id := issued.str("token"), issued.str("token_id")
	if !strings.HasPrefix(tok, "octo_") || len(tok) != len("octo_")+43 || !strings.HasPrefix(id, "tok_") ||
		issued.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("issued %v (Cache-Control %q)", issued, issued.header.Get("Cache-Control"))
	}
	a.get("/locks", tok).ok(t, http.StatusOK)

	list := a.get("/admin/tokens?org=acme&user=dave", adminTok).ok(t, http.StatusOK)
	if !strings.Contains(string(list.raw), `"id":"`+id+`"`) || strings.Contains(string(list.raw), tok) ||
		!strings.Contains(string(list.raw), `"last_used_at"`) {
		t.Fatalf("listing: %s", list.raw)
	}

	rotated := a.post("/auth/token/rotate", tok, nil).ok(t, http.StatusCreated).keys(t, "token", "token_id", "org", "user", "created_at")
	if rotated.str("user") != "dave" || rotated.str("token") == tok || rotated.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("rotated %v", rotated)
	}
	a.get("/locks", tok).problem(t, http.StatusUnauthorized, "unauthenticated")
	a.post("/auth/token/rotate", tok, nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	a.get("/locks", rotated.str("token")).ok(t, http.StatusOK)
	a.post("/auth/token/rotate", aliceTok, nil).problem(t, http.StatusConflict, "static_token")

	if r := a.call(http.MethodDelete, "/admin/tokens/"+rotated.str("token_id"), adminTok, nil); r.status != http.StatusNoContent || len(r.raw) != 0 {
		t.Fatalf("revoke: %v", r)
	}
	a.get("/locks", rotated.str("token")).problem(t, http.StatusUnauthorized, "unauthenticated")
	a.call(http.MethodDelete, "/admin/tokens/"+rotated.str("token_id"), adminTok, nil).problem(t, http.StatusNotFound, "token_not_found")

	// Admin routes refuse tenant tokens.
	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/admin/tokens"},
		{http.MethodPost, "/admin/orgs/acme/users/dave/tokens"},
		{http.MethodDelete, "/admin/tokens/tok_0000000000000000"},
	} {
		a.call(r.method, r.path, aliceTok, nil).problem(t, http.StatusForbidden, "admin_only")
		a.call(r.method, r.path, "", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	}
	a.post("/admin/orgs/acme/users/a%20b/tokens", adminTok, nil).problem(t, http.StatusUnprocessableEntity, "invalid_user")

	// A failed commit changes nothing: no token issued, rotated or revoked.
	stored := a.post("/admin/orgs/acme/users/erin/tokens", adminTok, nil).ok(t, http.StatusCreated)
	for _, r := range []request{
		{method: http.MethodPost, path: "/admin/orgs/acme/users/erin/tokens", token: adminTok},
		{method: http.MethodPost, path: "/auth/token/rotate", token: stored.str("token")},
		{method: http.MethodDelete, path: "/admin/tokens/" + stored.str("token_id"), token: adminTok},
	} {
		a.journal.FailNextCommit(errors.New("disk full"))
		a.send(r).problem(t, http.StatusServiceUnavailable, "unavailable").nowhere(t)
	}
	a.get("/locks", stored.str("token")).ok(t, http.StatusOK)
	if list := a.get("/admin/tokens?user=erin", adminTok).ok(t, http.StatusOK); strings.Count(string(list.raw), `"id"`) != 1 {
		t.Errorf("after failed commits: %s", list.raw)
	}
	a.post("/auth/token/rotate", "", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
}
