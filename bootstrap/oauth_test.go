package bootstrap_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/octostore/octostore/bootstrap"
)

// fakeGitHub is GitHub's OAuth endpoints and /user for the sign-in tests:
// the code "good-code" is worth an access token whose user is Octocat.
// The authorize page is not served: a test follows the 302 itself.
type fakeGitHub struct {
	*httptest.Server
	exchanges atomic.Int64 // codes exchanged successfully
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := r.ParseForm(); err != nil || r.PostForm.Get("code") != "good-code" {
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code"})
			return
		}
		f.exchanges.Add(1)
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "gho_fake", "token_type": "bearer"})
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gho_fake" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"login": "Octocat"})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

const testDashboard = "https://dashboard.example/signed-in"

// withGitHub turns GitHub sign-in on in cfg, against f.
func withGitHub(cfg bootstrap.Config, f *fakeGitHub) bootstrap.Config {
	cfg.OAuth.GitHub.ClientID = "test-client"
	cfg.OAuth.GitHub.ClientSecret = "test-secret"
	cfg.OAuth.GitHub.AuthorizeURL = f.URL + "/login/oauth/authorize"
	cfg.OAuth.GitHub.TokenURL = f.URL + "/login/oauth/access_token"
	cfg.OAuth.GitHub.APIURL = f.URL
	cfg.OAuth.RedirectURL = "https://octo.example/auth/github/callback"
	cfg.OAuth.DashboardURL = testDashboard
	return cfg
}

// newGitHubServer starts a server with GitHub sign-in against a fake.
func newGitHubServer(t *testing.T) (*server, *fakeGitHub) {
	t.Helper()
	f := newFakeGitHub(t)
	s := startServer(t, withGitHub(e2eConfig(filepath.Join(t.TempDir(), "octostore.db")), f), nil, nil)
	s.signIn = func(t *testing.T) string { return signIn(t, s, f) }
	return s, f
}

// startSignIn follows GET /auth/github as a browser would up to GitHub's
// authorize page and returns the state it carries, checking that the
// redirect names the configured callback and sets the state cookie.
func startSignIn(t *testing.T, s *server, f *fakeGitHub) string {
	t.Helper()
	r := s.send(t, req{method: http.MethodGet, path: "/auth/github"})
	loc, err := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), f.URL+"/login/oauth/authorize?") {
		t.Fatalf("GET /auth/github: %d, Location %q", r.status, r.header.Get("Location"))
	}
	state := loc.Query().Get("state")
	if loc.Query().Get("redirect_uri") != "https://octo.example/auth/github/callback" || loc.Query().Get("client_id") != "test-client" || len(state) < 22 {
		t.Fatalf("authorize URL %s", loc)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "__Host-octostore_oauth_state" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != state || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode ||
		cookie.Path != "/" || cookie.MaxAge != 600 {
		t.Fatalf("state cookie %+v", cookie)
	}
	return state
}

// callback calls the callback as GitHub's redirect would, with the state
// cookie when cookie is not empty.
func callback(t *testing.T, s *server, q url.Values, cookie string) *resp {
	t.Helper()
	h := http.Header{}
	if cookie != "" {
		h.Set("Cookie", "__Host-octostore_oauth_state="+cookie)
	}
	return s.send(t, req{method: http.MethodGet, path: "/auth/github/callback?" + q.Encode(), header: h})
}

// signIn runs a whole GitHub sign-in and returns the exchange code the
// dashboard receives.
func signIn(t *testing.T, s *server, f *fakeGitHub) string {
	t.Helper()
	state := startSignIn(t, s, f)
	r := callback(t, s, url.Values{"code": {"good-code"}, "state": {state}}, state)
	code, ok := strings.CutPrefix(r.header.Get("Location"), testDashboard+"#code=")
	if r.status != http.StatusFound || !ok || code == "" {
		t.Fatalf("callback: %d, Location %q: %s", r.status, r.header.Get("Location"), r.raw)
	}
	return code
}

// TestGitHubSignIn runs the sign-in end to end against a fake GitHub: the
// token it ends with works, belongs to org octocat, and never appears in a
// redirect; the refusals change nothing.
func TestGitHubSignIn(t *testing.T) {
	s, f := newGitHubServer(t)
	state := startSignIn(t, s, f)
	for _, c := range []struct {
		name   string
		q      url.Values
		cookie string
		status int
		code   string
	}{
		{"state differs from the cookie", url.Values{"code": {"good-code"}, "state": {state}}, startSignIn(t, s, f), http.StatusBadRequest, "oauth_state_mismatch"},
		{"no cookie", url.Values{"code": {"good-code"}, "state": {state}}, "", http.StatusBadRequest, "oauth_state_mismatch"},
		{"no state", url.Values{"code": {"good-code"}}, state, http.StatusBadRequest, "oauth_state_mismatch"},
		{"denied at GitHub", url.Values{"error": {"access_denied"}, "state": {state}}, state, http.StatusForbidden, "oauth_denied"},
		{"a code GitHub refuses", url.Values{"code": {"forged"}, "state": {state}}, state, http.StatusBadGateway, "oauth_failed"},
	} {
		r := callback(t, s, c.q, c.cookie)
		if r.status != c.status || r.str("code") != c.code || r.header.Get("Location") != "" {
			t.Errorf("%s: %d %s", c.name, r.status, r.raw)
		}
	}
	if n := f.exchanges.Load(); n != 0 {
		t.Fatalf("refused callbacks exchanged %d codes with GitHub", n)
	}

	r := callback(t, s, url.Values{"code": {"good-code"}, "state": {state}}, state)
	code, ok := strings.CutPrefix(r.header.Get("Location"), testDashboard+"#code=")
	if r.status != http.StatusFound || !ok {
		t.Fatalf("callback: %d, Location %q", r.status, r.header.Get("Location"))
	}
	x := s.call(t, http.MethodPost, "/auth/exchange", "", map[string]string{"code": code})
	token := x.str("token")
	if x.status != http.StatusOK || x.str("org") != "octocat" || x.str("user") != "Octocat" || !strings.HasPrefix(token, "octo_") ||
		x.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("exchange: %d %s (Cache-Control %q)", x.status, x.raw, x.header.Get("Cache-Control"))
	}
	if strings.Contains(r.header.Get("Location"), token) {
		t.Fatal("the token is in the redirect")
	}
	if got := s.call(t, http.MethodGet, "/locks", token, nil); got.status != http.StatusOK {
		t.Fatalf("GET /locks with the signed-in token: %d %s", got.status, got.raw)
	}
	// The token acts in org octocat: a lock it takes is not acme's.
	if got := s.call(t, http.MethodPost, "/locks/gh/acquire", token, map[string]any{}); got.status != http.StatusOK ||
		!strings.HasPrefix(got.str("holder"), "octocat/Octocat") {
		t.Fatalf("acquire with the signed-in token: %d %s", got.status, got.raw)
	}
	if got := s.call(t, http.MethodGet, "/locks/gh", aliceToken, nil); got.str("status") != "free" {
		t.Fatalf("acme sees octocat's lock: %s", got.raw)
	}
	users := s.call(t, http.MethodGet, "/admin/orgs/octocat/users", adminTok, nil)
	if users.status != http.StatusOK || !strings.Contains(string(users.raw), `"role":"owner"`) {
		t.Fatalf("users of octocat: %d %s", users.status, users.raw)
	}
	// A code works once.
	if again := s.call(t, http.MethodPost, "/auth/exchange", "", map[string]string{"code": code}); again.status != http.StatusBadRequest ||
		again.str("code") != "invalid_exchange_code" {
		t.Fatalf("a replayed code: %d %s", again.status, again.raw)
	}
	// Signing in again finds the org and user and makes another token.
	second := s.call(t, http.MethodPost, "/auth/exchange", "", map[string]string{"code": signIn(t, s, f)})
	if second.status != http.StatusOK || second.str("token") == token || second.str("org") != "octocat" {
		t.Fatalf("second sign-in: %d %s", second.status, second.raw)
	}
	checkSpec(t, s)
}

// TestGitHubSignInOff: without client id and secret the sign-in routes
// answer 404 oauth_not_configured.
func TestGitHubSignInOff(t *testing.T) {
	s := newServer(t)
	for _, path := range []string{"/auth/github", "/auth/github/callback?code=c&state=s"} {
		if r := s.call(t, http.MethodGet, path, "", nil); r.status != http.StatusNotFound || r.str("code") != "oauth_not_configured" {
			t.Errorf("GET %s: %d %s", path, r.status, r.raw)
		}
	}
}
