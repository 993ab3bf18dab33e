package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// The contract of the GitHub sign-in routes, with a fake of GitHub's
// OAuth app (the full flow over real HTTP against a fake GitHub server is
// in bootstrap and adapters/oauth).

const dashboardURL = "https://dash.example/app"

// fakeGitHub authorizes at github.example and knows one code per login.
type fakeGitHub map[string]string // code -> login

func (f fakeGitHub) AuthCodeURL(state string) string {
	return "https://github.example/login/oauth/authorize?state=" + url.QueryEscape(state)
}

func (f fakeGitHub) Login(_ context.Context, code string) (domain.ExternalAccount, error) {
	if login, ok := f[code]; ok {
		return domain.ExternalAccount{Login: login}, nil
	}
	return domain.ExternalAccount{}, errors.New("bad_verification_code")
}

// redirect fails the test unless r is a 302 with a Location and no body.
func (r *response) redirect(t *testing.T) *response {
	t.Helper()
	if r.status != http.StatusFound || r.header.Get("Location") == "" || len(r.raw) != 0 || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("%v: want a 302 with a Location (%q), no body, no-store", r, r.header.Get("Location"))
	}
	return r
}

// startSignIn starts a sign-in and returns its state cookie's value.
func (a *api) startSignIn(t *testing.T) string {
	t.Helper()
	r := a.get("/auth/github", "").redirect(t)
	loc, err := url.Parse(r.header.Get("Location"))
	if err != nil || loc.Host != "github.example" {
		t.Fatalf("Location %q", r.header.Get("Location"))
	}
	state := loc.Query().Get("state")
	if len(state) < 22 { // 128 bits in base64url
		t.Fatalf("state %q is too short", state)
	}
	c, err := http.ParseSetCookie(r.header.Get("Set-Cookie"))
	if err != nil || c.Name != "__Host-octostore_oauth_state" || c.Value != state || !c.Secure || !c.HttpOnly ||
		c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.MaxAge != 600 || c.Domain != "" {
		t.Fatalf("Set-Cookie %q: %+v %v", r.header.Get("Set-Cookie"), c, err)
	}
	return state
}

// callback calls the callback with query q and the state cookie (none
// when empty).
func (a *api) callback(q url.Values, cookie string) *response {
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", "__Host-octostore_oauth_state="+cookie)
	}
	return a.send(request{method: http.MethodGet, path: "/auth/github/callback?" + q.Encode(), header: h})
}

func TestGitHubSignIn(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{github: fakeGitHub{"good": "Octocat", "weird": "not a name"}})
	state := a.startSignIn(t)
	if other := a.startSignIn(t); other == state {
		t.Fatal("two sign-ins got the same state")
	}

	// Refusals at once share no problem document (run with -race).
	done := make(chan *response, 8)
	for range cap(done) {
		go func() { done <- a.callback(url.Values{"code": {"good"}, "state": {"x"}}, state) }()
	}
	ids := map[string]bool{}
	for range cap(done) {
		r := <-done
		ids[r.str("request_id")] = true
	}
	if len(ids) != cap(done) {
		t.Fatalf("%d request ids in %d concurrent refusals", len(ids), cap(done))
	}

	// The state must come back and match the cookie.
	a.callback(url.Values{"code": {"good"}}, state).problem(t, http.StatusBadRequest, "oauth_state_mismatch")
	a.callback(url.Values{"code": {"good"}, "state": {state}}, "").problem(t, http.StatusBadRequest, "oauth_state_mismatch")
	a.callback(url.Values{"code": {"good"}, "state": {state}}, state+"x").problem(t, http.StatusBadRequest, "oauth_state_mismatch")
	a.callback(url.Values{"code": {"good"}, "state": {strings.Repeat("s", 200)}}, state).problem(t, http.StatusUnprocessableEntity, "validation_failed")
	a.callback(url.Values{"error": {"access_denied"}, "state": {state}}, state).problem(t, http.StatusForbidden, "oauth_denied")
	a.callback(url.Values{"code": {"nope"}, "state": {state}}, state).problem(t, http.StatusBadGateway, "oauth_failed")
	a.callback(url.Values{"code": {"weird"}, "state": {state}}, state).problem(t, http.StatusBadGateway, "oauth_failed")
	a.callback(url.Values{"state": {state}}, state).problem(t, http.StatusBadGateway, "oauth_failed")
	a.journal.FailNextCommit(errors.New("disk full"))
	a.callback(url.Values{"code": {"good"}, "state": {state}}, state).problem(t, http.StatusServiceUnavailable, "unavailable")
	a.get("/admin/orgs", adminTok).ok(t, http.StatusOK)
	if r := a.get("/admin/orgs", adminTok); strings.Contains(string(r.raw), "octocat") {
		t.Fatalf("refused sign-ins registered an org: %s", r.raw)
	}

	r := a.callback(url.Values{"code": {"good"}, "state": {state}}, state).redirect(t)
	loc := r.header.Get("Location")
	code, ok := strings.CutPrefix(loc, dashboardURL+"#code=")
	if !ok || code == "" || strings.Contains(loc, "octo_") {
		t.Fatalf("callback Location %q", loc)
	}
	if c, err := http.ParseSetCookie(r.header.Get("Set-Cookie")); err != nil || c.MaxAge >= 0 || c.Name != "__Host-octostore_oauth_state" {
		t.Fatalf("the state cookie is not cleared: %q", r.header.Get("Set-Cookie"))
	}

	x := a.post("/auth/exchange", "", map[string]any{"code": code}).ok(t, http.StatusOK).keys(t, "token", "token_id", "org", "user", "created_at")
	if x.str("org") != "octocat" || x.str("user") != "Octocat" || !strings.HasPrefix(x.str("token"), "octo_") || x.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("exchange: %v (Cache-Control %q)", x, x.header.Get("Cache-Control"))
	}
	a.get("/locks", x.str("token")).ok(t, http.StatusOK)
	a.post("/auth/exchange", "", map[string]any{"code": code}).problem(t, http.StatusBadRequest, "invalid_exchange_code")
	users := a.get("/admin/orgs/octocat/users", adminTok).ok(t, http.StatusOK)
	if !strings.Contains(string(users.raw), `"role":"owner"`) {
		t.Fatalf("users of octocat: %s", users.raw)
	}

	// A code is good for a minute of the server's clock.
	r = a.callback(url.Values{"code": {"good"}, "state": {state}}, state).redirect(t)
	late := strings.TrimPrefix(r.header.Get("Location"), dashboardURL+"#code=")
	a.clock.Advance(application.ExchangeCodeTTL)
	a.post("/auth/exchange", "", map[string]any{"code": late}).problem(t, http.StatusBadRequest, "invalid_exchange_code")

	// Bodies.
	a.post("/auth/exchange", "", map[string]any{"code": ""}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.code")
	a.send(request{method: http.MethodPost, path: "/auth/exchange", body: `{"code":`}).problem(t, http.StatusBadRequest, "malformed_request")
	a.send(request{method: http.MethodPost, path: "/auth/exchange", body: `{"code":"x"}`, ctype: "text/plain"}).problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	a.post("/auth/exchange", "", `{"code":"`+strings.Repeat("x", 1<<20)+`"}`).problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
}

// TestGitHubSignInOff: without GitHub configured the sign-in routes are
// not found, and no code exchanges.
func TestGitHubSignInOff(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.get("/auth/github", "").problem(t, http.StatusNotFound, "oauth_not_configured")
	a.callback(url.Values{"code": {"good"}, "state": {"s"}}, "s").problem(t, http.StatusNotFound, "oauth_not_configured")
	a.post("/auth/exchange", "", map[string]any{"code": "x"}).problem(t, http.StatusBadRequest, "invalid_exchange_code")
}
