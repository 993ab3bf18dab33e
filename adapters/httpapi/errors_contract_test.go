package httpapi_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The contract of the errors every route shares: authentication, the
// admin's place, input validation with errors[].location, malformed,
// oversized and mistyped bodies, and the router's own answers. A refused
// request changes nothing.

// everyRoute is one request to each operation that needs a token, with a
// well-formed body where it takes one.
func everyRoute(lockName, sessionID string) []request {
	lease := map[string]any{"lease_id": "L1-0011223344556677"}
	return []request{
		{method: http.MethodPost, path: lockPath(lockName, "/acquire"), body: map[string]any{"metadata": "changed"}},
		{method: http.MethodPost, path: lockPath(lockName, "/release"), body: lease},
		{method: http.MethodPost, path: lockPath(lockName, "/renew"), body: lease},
		{method: http.MethodPost, path: lockPath(lockName, "/validate"), body: map[string]any{"fencing_token": 1}},
		{method: http.MethodGet, path: lockPath(lockName, "")},
		{method: http.MethodGet, path: "/locks"},
		{method: http.MethodPost, path: "/sessions"},
		{method: http.MethodPost, path: sessionPath(sessionID, "/keepalive")},
		{method: http.MethodGet, path: sessionPath(sessionID, "")},
		{method: http.MethodDelete, path: sessionPath(sessionID, "")},
		{method: http.MethodGet, path: "/admin/stats"},
		{method: http.MethodGet, path: "/metrics"},
		{method: http.MethodGet, path: "/admin/orgs/acme/quotas"},
		{method: http.MethodPut, path: "/admin/orgs/acme/quotas", body: map[string]any{"locks": 0}},
		{method: http.MethodGet, path: "/events"},
		{method: http.MethodGet, path: lockPath(lockName, "/watch")},
		{method: http.MethodGet, path: "/watch"},
		{method: http.MethodPost, path: "/webhooks", body: map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}}},
		{method: http.MethodGet, path: "/webhooks"},
		{method: http.MethodGet, path: "/webhooks/wh_0011223344556677"},
		{method: http.MethodDelete, path: "/webhooks/wh_0011223344556677"},
		{method: http.MethodGet, path: "/webhooks/wh_0011223344556677/deliveries"},
		{method: http.MethodPost, path: "/auth/token/rotate"},
		{method: http.MethodGet, path: "/admin/tokens"},
		{method: http.MethodPost, path: "/admin/orgs/acme/users/dave/tokens"},
		{method: http.MethodDelete, path: "/admin/tokens/tok_0011223344556677"},
		{method: http.MethodPost, path: "/admin/orgs", body: map[string]any{"org": "initech"}},
		{method: http.MethodGet, path: "/admin/orgs"},
		{method: http.MethodPost, path: "/admin/orgs/acme/users", body: map[string]any{"user": "zed"}},
		{method: http.MethodGet, path: "/admin/orgs/acme/users"},
		{method: http.MethodPut, path: "/config/app%2Fx", body: map[string]any{"value": map[string]any{"a": 1}}},
		{method: http.MethodGet, path: "/config/app%2Fx"},
		{method: http.MethodGet, path: "/config/app%2Fx/history"},
		{method: http.MethodDelete, path: "/config/app%2Fx"},
		{method: http.MethodGet, path: "/config"},
		{method: http.MethodGet, path: "/config/app%2Fx/watch"},
		{method: http.MethodPut, path: "/flags/" + url.PathEscape(lockName), body: map[string]any{"enabled": true}},
		{method: http.MethodGet, path: "/flags/" + url.PathEscape(lockName)},
		{method: http.MethodGet, path: "/flags"},
		{method: http.MethodDelete, path: "/flags/" + url.PathEscape(lockName)},
		{method: http.MethodGet, path: "/flags/" + url.PathEscape(lockName) + "/evaluate?subject=u"},
		{method: http.MethodPost, path: "/flags/evaluate", body: map[string]any{"subject": "u", "flags": []string{"x"}}},
		{method: http.MethodPost, path: "/limits/" + url.PathEscape(lockName) + "/check", body: map[string]any{"limit": 1, "window_seconds": 1}},
		{method: http.MethodGet, path: "/limits/" + url.PathEscape(lockName)},
		{method: http.MethodGet, path: "/limits"},
		{method: http.MethodDelete, path: "/limits/" + url.PathEscape(lockName)},
		{method: http.MethodPut, path: "/teams/dba", body: map[string]any{"members": []string{"bob"}}},
		{method: http.MethodGet, path: "/teams"},
		{method: http.MethodGet, path: "/teams/dba"},
		{method: http.MethodDelete, path: "/teams/dba"},
		{method: http.MethodPut, path: "/acls/db", body: map[string]any{"acquire": []string{"org"}}},
		{method: http.MethodGet, path: "/acls"},
		{method: http.MethodGet, path: "/acls/db"},
		{method: http.MethodDelete, path: "/acls/db"},
		{method: http.MethodPost, path: forcePath("acme", lockName)},
		{method: http.MethodGet, path: "/admin/api/overview"},
		{method: http.MethodGet, path: "/admin/api/orgs/acme/locks"},
		{method: http.MethodGet, path: "/admin/api/orgs/acme/sessions"},
		{method: http.MethodGet, path: "/admin/api/orgs/acme/webhooks"},
		{method: http.MethodGet, path: "/admin/api/events"},
	}
}

// unchanged requires that the lock l and the session s of alice are as
// they were.
func unchanged(t *testing.T, a *api, l lease, s session) {
	t.Helper()
	if r := a.wantHeld(t, aliceTok, l, "acme/alice", nil); r.str("metadata") != "orig" {
		t.Errorf("%v: metadata changed", r)
	}
	r := a.get(sessionPath(s.id, ""), aliceTok).ok(t, http.StatusOK)
	if !r.time(t, "expires_at").Equal(s.expires) {
		t.Errorf("%v: the session changed", r)
	}
}

func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "auth/x", map[string]any{"metadata": "orig"})
	s := a.openSession(t, aliceTok, 60)
	for _, auth := range []struct {
		name   string
		header string // Authorization; none when empty
	}{
		{"no token", ""},
		{"an unknown token", "Bearer " + badTok},
		{"basic auth", "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+aliceTok))},
		{"the token without a scheme", aliceTok},
		{"an empty bearer", "Bearer "},
	} {
		for _, r := range everyRoute(l.name, s.id) {
			if auth.header != "" {
				r.header = http.Header{"Authorization": {auth.header}}
			}
			res := a.send(r).problem(t, http.StatusUnauthorized, "unauthenticated").nowhere(t)
			if got := res.header.Get("WWW-Authenticate"); got != `Bearer realm="octostore"` {
				t.Errorf("%s: %v: WWW-Authenticate %q", auth.name, res, got)
			}
		}
	}
	// The scheme is case-insensitive.
	a.send(request{method: http.MethodGet, path: "/locks", header: http.Header{"Authorization": {"bearer " + aliceTok}}}).ok(t, http.StatusOK)
	// Two Authorization headers are refused, even two valid ones: which
	// one counts would be a guess.
	for _, r := range everyRoute(l.name, s.id) {
		r.header = http.Header{"Authorization": {"Bearer " + aliceTok, "Bearer " + aliceTok}}
		a.send(r).problem(t, http.StatusBadRequest, "multiple_authorization_headers").nowhere(t)
	}
	unchanged(t, a, l, s)
}

// TestAdminPlace: the admin token opens the admin routes only; a user
// token does not open them.
func TestAdminPlace(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "admin/x", map[string]any{"metadata": "orig"})
	s := a.openSession(t, aliceTok, 60)
	for _, r := range everyRoute(l.name, s.id) {
		// The admin routes open, and anyone may rotate a stored token of
		// their own (this admin token is configured: static_token).
		if strings.HasPrefix(r.path, "/admin/") || r.path == "/metrics" || r.path == "/auth/token/rotate" {
			continue
		}
		r.token = adminTok
		a.send(r).problem(t, http.StatusForbidden, "admin_not_tenant").nowhere(t)
	}
	a.post("/auth/token/rotate", adminTok, nil).problem(t, http.StatusConflict, "static_token")
	for _, tok := range []string{aliceTok, carolTok} {
		a.get("/admin/stats", tok).problem(t, http.StatusForbidden, "admin_only").nowhere(t)
	}
	r := a.get("/admin/stats", adminTok).ok(t, http.StatusOK)
	r.keys(t, "batches", "requests", "changes", "avg_batch", "last_batch", "commit_seconds_total", "avg_commit_seconds", "lock_records")
	// Start-up, the acquire and the session each committed a batch (the
	// sweep may have shared one).
	if r.num(t, "batches") < 3 || r.num(t, "requests") < 3 || r.num(t, "changes") < 2 || r.num(t, "lock_records") != 1 || r.num(t, "last_batch") < 1 {
		t.Errorf("%v: the counters do not count the acquire and the session", r)
	}
	unchanged(t, a, l, s)
}

// TestInvalidNames: every route with a lock name refuses a bad one with 422
// invalid_name at path.name, and reminds that '/' is sent as %2F.
func TestInvalidNames(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	long := strings.Repeat(strings.Repeat("a", 64)+"%2F", 3) + strings.Repeat("a", 64) // 259 bytes decoded
	for _, name := range []string{
		"a%2F%2Fb", "%2E%2E", "%2E", "a%2F..%2Fb", "%2Fa", "a%2F", "a%20b", "caf%C3%A9", long,
		strings.Repeat("c", 65), "ok%2F" + strings.Repeat("c", 65),
	} {
		for _, r := range everyRoute("x", "s")[:5] {
			r.path = strings.Replace(r.path, "/locks/x", "/locks/"+name, 1)
			r.token = aliceTok
			res := a.send(r).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
			if !strings.Contains(res.str("detail"), "%2F") {
				t.Errorf("%v: the detail does not mention %%2F", res)
			}
		}
	}
	// The longest name and component are fine.
	a.acquire(t, aliceTok, strings.Repeat(strings.Repeat("a", 64)+"/", 3)+strings.Repeat("a", 61), nil)
	a.acquire(t, aliceTok, strings.Repeat("c", 64), nil)
}

// TestInvalidInput: each field out of its rules is refused with 422 and
// errors[].location naming it, with the schema's code or the domain's.
func TestInvalidInput(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const name = "inv/target"
	l := a.acquire(t, aliceTok, name, map[string]any{"ttl_seconds": 600, "metadata": "orig"})
	s := a.openSession(t, aliceTok, 60)
	acq, rel, ren, val := lockPath(name, "/acquire"), lockPath(name, "/release"), lockPath(name, "/renew"), lockPath(name, "/validate")
	for _, c := range []struct {
		name, path, body, code, loc string
	}{
		{"ttl 0", acq, `{"ttl_seconds":0}`, "validation_failed", "body.ttl_seconds"},
		{"ttl 3601", acq, `{"ttl_seconds":3601}`, "validation_failed", "body.ttl_seconds"},
		{"ttl negative", acq, `{"ttl_seconds":-5}`, "validation_failed", "body.ttl_seconds"},
		{"ttl a string", acq, `{"ttl_seconds":"5"}`, "validation_failed", "body.ttl_seconds"},
		{"metadata over 1024 characters", acq, `{"metadata":"` + strings.Repeat("m", 1025) + `"}`, "validation_failed", "body.metadata"},
		{"metadata over 1024 bytes", acq, `{"metadata":"` + strings.Repeat("é", 600) + `"}`, "invalid_metadata", "body.metadata"},
		{"owner empty", acq, `{"owner":""}`, "validation_failed", "body.owner"},
		{"owner with a tab", acq, `{"owner":"tab\there"}`, "validation_failed", "body.owner"},
		{"owner not ASCII", acq, `{"owner":"café"}`, "validation_failed", "body.owner"},
		{"owner over 128", acq, `{"owner":"` + strings.Repeat("o", 129) + `"}`, "validation_failed", "body.owner"},
		{"owner with a session", acq, `{"owner":"host-a","session_id":"` + s.id + `"}`, "owner_with_session", "body.owner"},
		{"ephemeral without session", acq, `{"ephemeral":true}`, "ephemeral_needs_session", "body.session_id"},
		{"ephemeral with an empty session", acq, `{"ephemeral":true,"session_id":""}`, "ephemeral_needs_session", "body.session_id"},
		{"session id over 128", acq, `{"session_id":"` + strings.Repeat("s", 129) + `"}`, "validation_failed", "body.session_id"},
		{"lock delay 61", acq, `{"lock_delay_seconds":61}`, "validation_failed", "body.lock_delay_seconds"},
		{"lock delay negative", acq, `{"lock_delay_seconds":-1}`, "validation_failed", "body.lock_delay_seconds"},
		{"lock delay a fraction", acq, `{"lock_delay_seconds":1.5}`, "validation_failed", "body.lock_delay_seconds"},
		{"lock delay a string", acq, `{"lock_delay_seconds":"2"}`, "validation_failed", "body.lock_delay_seconds"},
		{"wait 61", acq, `{"wait_seconds":61}`, "validation_failed", "body.wait_seconds"},
		{"wait negative", acq, `{"wait_seconds":-1}`, "validation_failed", "body.wait_seconds"},
		{"wait a fraction", acq, `{"wait_seconds":0.5}`, "validation_failed", "body.wait_seconds"},
		{"unknown field", acq, `{"ttl_seconds":5,"bogus":1}`, "validation_failed", "body.bogus"},
		{"JSON null", acq, `null`, "validation_failed", "body"},
		{"renew ttl 0", ren, `{"lease_id":"` + l.id + `","ttl_seconds":0}`, "validation_failed", "body.ttl_seconds"},
		{"renew ttl 3601", ren, `{"lease_id":"` + l.id + `","ttl_seconds":3601}`, "validation_failed", "body.ttl_seconds"},
		{"renew without lease", ren, `{}`, "validation_failed", "body"},
		{"release without lease", rel, `{}`, "validation_failed", "body"},
		{"release empty lease", rel, `{"lease_id":""}`, "validation_failed", "body.lease_id"},
		{"release lease over 128", rel, `{"lease_id":"` + strings.Repeat("L", 129) + `"}`, "validation_failed", "body.lease_id"},
		{"release unknown field", rel, `{"lease_id":"` + l.id + `","force":true}`, "validation_failed", "body.force"},
		{"validate token 0", val, `{"fencing_token":0}`, "validation_failed", "body.fencing_token"},
		{"validate negative", val, `{"fencing_token":-1}`, "validation_failed", "body.fencing_token"},
		{"validate a string", val, `{"fencing_token":"7"}`, "validation_failed", "body.fencing_token"},
		{"validate without token", val, `{}`, "validation_failed", "body"},
		{"validate unknown field", val, `{"fencing_token":1,"lease_id":"x"}`, "validation_failed", "body.lease_id"},
		{"session ttl 9", "/sessions", `{"ttl_seconds":9}`, "validation_failed", "body.ttl_seconds"},
		{"session ttl 301", "/sessions", `{"ttl_seconds":301}`, "validation_failed", "body.ttl_seconds"},
		{"session ttl a string", "/sessions", `{"ttl_seconds":"30"}`, "validation_failed", "body.ttl_seconds"},
		{"session unknown field", "/sessions", `{"ttl_seconds":30,"bogus":1}`, "validation_failed", "body.bogus"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.post(c.path, aliceTok, c.body).problem(t, http.StatusUnprocessableEntity, c.code).at(t, c.loc)
		})
	}
	for _, c := range []struct {
		name, query, code, loc string
	}{
		{"cursor not base64", "?cursor=!!!", "invalid_cursor", "query.cursor"},
		{"cursor not a name", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("a//b")), "invalid_cursor", "query.cursor"},
		{"cursor over 512", "?cursor=" + strings.Repeat("a", 513), "validation_failed", "query.cursor"},
		{"limit 0", "?limit=0", "validation_failed", "query.limit"},
		{"limit 1001", "?limit=1001", "validation_failed", "query.limit"},
		{"limit not a number", "?limit=x", "validation_failed", "query.limit"},
		{"prefix with an empty component", "?prefix=a%2F%2Fb", "invalid_name", "query.prefix"},
		{"prefix dot-dot", "?prefix=%2E%2E", "invalid_name", "query.prefix"},
		{"prefix over 256 bytes", "?prefix=" + strings.Repeat(strings.Repeat("a", 64)+"%2F", 4), "invalid_name", "query.prefix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.get("/locks"+c.query, aliceTok).problem(t, http.StatusUnprocessableEntity, c.code).at(t, c.loc)
		})
	}
	unchanged(t, a, l, s)
}

// TestUnreadableBodies: a body that is not JSON is 400 and one of another
// media type 415, both about the body as a whole; one over 1 MiB is 413.
// So on every route that takes a body.
func TestUnreadableBodies(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "body/x", map[string]any{"metadata": "orig"})
	s := a.openSession(t, aliceTok, 60)
	huge := `{"metadata":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, path := range []string{lockPath(l.name, "/acquire"), lockPath(l.name, "/release"), lockPath(l.name, "/renew"), lockPath(l.name, "/validate"), "/sessions", "/webhooks",
		"/admin/orgs", "/admin/orgs/acme/users"} {
		tok := aliceTok
		if strings.HasPrefix(path, "/admin/") {
			tok = adminTok
		}
		for _, c := range []struct {
			body, ctype string
			status      int
			code        string
		}{
			{`{"ttl_seconds":`, "", http.StatusBadRequest, "malformed_request"},
			{`[`, "", http.StatusBadRequest, "malformed_request"},
			{`{} x`, "", http.StatusBadRequest, "malformed_request"},
			{`{"metadata":"changed"}`, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
		} {
			a.send(request{method: http.MethodPost, path: path, token: tok, body: c.body, ctype: c.ctype}).problem(t, c.status, c.code).at(t, "body")
		}
		a.post(path, tok, huge).problem(t, http.StatusRequestEntityTooLarge, "body_too_large").nowhere(t)
	}
	// A body of unknown length is cut off at 1 MiB as well.
	chunked := io.MultiReader(strings.NewReader(`{"metadata":"`), strings.NewReader(strings.Repeat("x", 1<<20)), strings.NewReader(`"}`))
	a.send(request{method: http.MethodPost, path: lockPath("body/free", "/acquire"), token: aliceTok, body: chunked}).
		problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
	// A route whose body is required refuses none at all.
	a.send(request{method: http.MethodPost, path: lockPath(l.name, "/release"), token: aliceTok}).problem(t, http.StatusBadRequest, "malformed_request")
	a.send(request{method: http.MethodPost, path: "/webhooks", token: aliceTok}).problem(t, http.StatusBadRequest, "malformed_request")
	if r := a.get("/webhooks", aliceTok).ok(t, http.StatusOK); string(r.raw) != "{\"webhooks\":[]}\n" {
		t.Errorf("%v: a refused body created a webhook", r)
	}
	// A refused acquire of a free lock does not take it.
	a.send(request{method: http.MethodPost, path: lockPath("body/free", "/acquire"), token: aliceTok, body: `{}`, ctype: "text/plain"}).
		problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	a.wantFree(t, aliceTok, "body/free")
	unchanged(t, a, l, s)
}

// TestRouter: a path that is no route is 404 (with the %2F reminder under
// /locks/), a route under another method 405 with Allow; both problems.
func TestRouter(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.get("/nope", aliceTok).problem(t, http.StatusNotFound, "not_found").nowhere(t)
	a.post(lockPath("x", "/steal"), aliceTok, nil).problem(t, http.StatusNotFound, "not_found")
	r := a.post("/locks/db/primary/acquire", aliceTok, nil).problem(t, http.StatusNotFound, "not_found")
	if !strings.Contains(r.str("detail"), "%2F") {
		t.Errorf("%v: the 404 of an unencoded name does not mention %%2F", r)
	}
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodDelete, "/health", "GET"},
		{http.MethodPost, "/locks", "GET"},
		{http.MethodDelete, lockPath("x", ""), "GET"},
		{http.MethodGet, lockPath("x", "/acquire"), "POST"},
		{http.MethodPut, "/sessions", "POST"},
		{http.MethodPost, sessionPath("s_1", ""), "GET, DELETE"},
	} {
		r := a.call(c.method, c.path, aliceTok, nil).problem(t, http.StatusMethodNotAllowed, "method_not_allowed").nowhere(t)
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%v: Allow %q, want %q", r, got, c.allow)
		}
	}
}

// TestRequestID: every response carries an X-Request-Id, the client's when
// it is short and plain, and a problem repeats it.
func TestRequestID(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	for _, r := range []request{
		{method: http.MethodGet, path: "/health"},
		{method: http.MethodGet, path: "/nope"},
		{method: http.MethodGet, path: "/locks"},
		{method: http.MethodPost, path: lockPath("rid/x", "/acquire"), token: aliceTok, body: `{"ttl_seconds":0}`},
		{method: http.MethodPost, path: lockPath("rid/x", "/acquire"), token: aliceTok},
	} {
		r.header = http.Header{"X-Request-Id": {"client-req_42.A"}}
		res := a.send(r)
		if got := res.header.Get("X-Request-Id"); got != "client-req_42.A" {
			t.Errorf("%v: X-Request-Id %q, want the client's", res, got)
		}
		if res.status >= 400 && res.str("request_id") != "client-req_42.A" {
			t.Errorf("%v: request_id is not the client's", res)
		}
	}
	for _, bad := range []string{strings.Repeat("a", 65), "has space", "new\\nline", "<script>"} {
		res := a.send(request{method: http.MethodGet, path: "/health", header: http.Header{"X-Request-Id": {bad}}})
		if got := res.header.Get("X-Request-Id"); got == bad || got == "" {
			t.Errorf("X-Request-Id %q answered with %q", bad, got)
		}
	}
	x := a.get("/health", "").header.Get("X-Request-Id")
	if y := a.get("/health", "").header.Get("X-Request-Id"); x == y {
		t.Errorf("two requests got the same generated id %q", x)
	}
}

// TestPublicRoutes: the health check, the OpenAPI document and the docs
// need no token.
func TestPublicRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.get("/openapi.json", "")
	if r.status != http.StatusOK || !strings.HasSuffix(r.mediaType(), "json") || !strings.HasPrefix(r.str("openapi"), "3.") {
		t.Errorf("%.200v: want the OpenAPI document", r)
	}
	r = a.get("/openapi.yaml", "")
	if r.status != http.StatusOK || !strings.Contains(string(r.raw), "openapi: 3.") || !strings.Contains(string(r.raw), "/locks/{name}/acquire") {
		t.Errorf("%.200v: want the OpenAPI document in YAML", r)
	}
	r = a.get("/docs", "")
	if r.status != http.StatusOK || r.mediaType() != "text/html" || !strings.Contains(string(r.raw), "<html") {
		t.Errorf("%.200v: want the docs page", r)
	}
}

// TestTenantIsolation: a name lives inside the caller's org. Another org
// sees nothing of acme's lock, cannot touch it with its lease, and holds a
// lock of the same name of its own beside it.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const name = "db/primary"
	l := a.acquire(t, aliceTok, name, map[string]any{"metadata": "orig"})
	s := a.openSession(t, aliceTok, 60)
	a.wantFree(t, carolTok, name)
	for _, q := range []string{"", "?prefix=db", "?prefix=db%2Fprimary"} {
		if r := a.get("/locks"+q, carolTok).ok(t, http.StatusOK); string(r.raw) != "{\"locks\":[]}\n" {
			t.Errorf("%v: globex lists acme's locks", r)
		}
	}
	a.post(lockPath(name, "/release"), carolTok, map[string]string{"lease_id": l.id}).problem(t, http.StatusConflict, "lease_not_current")
	a.post(lockPath(name, "/renew"), carolTok, map[string]any{"lease_id": l.id, "ttl_seconds": 1}).problem(t, http.StatusConflict, "lease_not_current")
	unchanged(t, a, l, s)

	c := a.acquire(t, carolTok, name, map[string]any{"metadata": "globex"})
	if c.id == l.id || c.token == l.token {
		t.Errorf("globex got acme's lease or token: %+v, %+v", c, l)
	}
	if r := a.wantHeld(t, carolTok, c, "globex/carol", nil); r.str("metadata") != "globex" {
		t.Errorf("%v: want globex's metadata", r)
	}
	for _, who := range []struct{ token, holder string }{{aliceTok, "acme/alice"}, {carolTok, "globex/carol"}} {
		r := a.get("/locks?prefix=db", who.token).ok(t, http.StatusOK)
		if locks, _ := r.obj["locks"].([]any); len(locks) != 1 || locks[0].(map[string]any)["holder"] != who.holder {
			t.Errorf("%v: want only the lock of %s", r, who.holder)
		}
	}
	a.post(lockPath(name, "/release"), aliceTok, map[string]string{"lease_id": c.id}).problem(t, http.StatusConflict, "lease_not_current")
	a.release(t, carolTok, c)
	a.wantFree(t, carolTok, name)
	unchanged(t, a, l, s)
}
