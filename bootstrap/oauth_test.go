package bootstrap_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/octostore/octostore/bootstrap"
)

// fakeGitHub is GitHub's OAuth endpoints, /user and the user's org
// memberships for the sign-in tests: the code "good-code" is worth an
// access token whose user is Octocat. The authorize page is not served: a
// test follows the 302 itself.
type fakeGitHub struct {
	*httptest.Server
	exchanges atomic.Int64 // codes exchanged successfully
	// memberships is the body GET /user/memberships/orgs answers ("[]"
	// when nil); membershipsFail makes it answer 500 instead.
	memberships     atomic.Pointer[string]
	membershipsFail atomic.Bool
	membershipCalls atomic.Int64
}

// setMemberships makes Octocat an active member (or admin) of the given
// GitHub orgs, listed after a pending (not yet accepted) admin
// membership of "acme-corp", which never counts.
func (f *fakeGitHub) setMemberships(orgs map[string]string) {
	type org struct {
		Login string `json:"login"`
	}
	type membership struct {
		State        string `json:"state"`
		Role         string `json:"role"`
		Organization org    `json:"organization"`
	}
	list := []membership{{State: "pending", Role: "admin", Organization: org{"acme-corp"}}}
	for name, role := range orgs {
		list = append(list, membership{State: "active", Role: role, Organization: org{name}})
	}
	b, _ := json.Marshal(list)
	body := string(b)
	f.memberships.Store(&body)
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
	mux.HandleFunc("GET /user/memberships/orgs", func(w http.ResponseWriter, r *http.Request) {
		f.membershipCalls.Add(1)
		if r.Header.Get("Authorization") != "Bearer gho_fake" {
			http.Error(w, `{"message":"Bad credentials"}`, http.StatusUnauthorized)
			return
		}
		if f.membershipsFail.Load() {
			http.Error(w, `{"message":"Server Error"}`, http.StatusInternalServerError)
			return
		}
		body := "[]"
		if b := f.memberships.Load(); b != nil {
			body = *b
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, body)
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
	if n := f.membershipCalls.Load(); n != 0 {
		t.Fatalf("without an org mapping the memberships were read %d times", n)
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

// TestGitHubOrgMapping runs sign-ins end to end with oauth.github.orgs
// set: GitHub is asked for read:org; the user lands in the first mapped
// org (in configuration order) whose GitHub org they are an active member
// of, as owner when a GitHub org admin, else member, and keeps the role
// they have; a user in none lands in the personal org; a failed
// memberships call is 502 oauth_failed.
func TestGitHubOrgMapping(t *testing.T) {
	f := newFakeGitHub(t)
	cfg := withGitHub(e2eConfig(filepath.Join(t.TempDir(), "octostore.db")), f)
	cfg.OAuth.GitHub.Orgs = []string{"acme-corp:acme", "globex-gh:globex"}
	s := startServer(t, cfg, nil, nil)
	exchange := func() *resp {
		t.Helper()
		x := s.call(t, http.MethodPost, "/auth/exchange", "", map[string]string{"code": signIn(t, s, f)})
		if x.status != http.StatusOK {
			t.Fatalf("exchange: %d %s", x.status, x.raw)
		}
		return x
	}
	role := func(org string) string {
		t.Helper()
		var users struct {
			Users []struct{ User, Role string }
		}
		r := s.call(t, http.MethodGet, "/admin/orgs/"+org+"/users", adminTok, nil)
		if err := json.Unmarshal(r.raw, &users); err != nil || r.status != http.StatusOK {
			t.Fatalf("users of %s: %d %s", org, r.status, r.raw)
		}
		for _, u := range users.Users {
			if u.User == "Octocat" {
				return u.Role
			}
		}
		return ""
	}

	loc, _ := url.Parse(s.send(t, req{method: http.MethodGet, path: "/auth/github"}).header.Get("Location"))
	if loc == nil || loc.Query().Get("scope") != "read:org" {
		t.Fatalf("the authorize URL does not ask for read:org: %v", loc)
	}

	// A member of globex-gh (and a pending admin of acme-corp, which does
	// not count) lands in globex as a member, beside carol's static token.
	f.setMemberships(map[string]string{"globex-gh": "member"})
	x := exchange()
	if x.str("org") != "globex" || x.str("user") != "Octocat" || role("globex") != "member" {
		t.Fatalf("a member of globex-gh: %s, role %q", x.raw, role("globex"))
	}
	s.acquire(t, x.str("token"), "gh/shared", map[string]any{})
	if r := s.get(t, carolToken, "gh/shared"); r.str("status") != "held" || !strings.HasPrefix(r.str("holder"), "globex/Octocat") {
		t.Fatalf("globex's static user does not see the signed-in user's lock: %s", r.raw)
	}

	// Now also an admin of acme-corp, the first mapping: acme, as owner.
	// An admin of globex-gh later still keeps the member role there.
	f.setMemberships(map[string]string{"globex-gh": "admin", "acme-corp": "admin"})
	if x := exchange(); x.str("org") != "acme" || role("acme") != "owner" {
		t.Fatalf("an admin of acme-corp: %s, role %q", x.raw, role("acme"))
	}
	f.setMemberships(map[string]string{"globex-gh": "admin"})
	if x := exchange(); x.str("org") != "globex" || role("globex") != "member" {
		t.Fatalf("a globex-gh admin who was a member: %s, role %q", x.raw, role("globex"))
	}

	// In none of the mapped orgs: the personal org, as today.
	f.setMemberships(map[string]string{"other": "admin"})
	if x := exchange(); x.str("org") != "octocat" || role("octocat") != "owner" {
		t.Fatalf("a user in no mapped org: %s", x.raw)
	}

	// GitHub fails to list the memberships: nothing is signed in.
	f.membershipsFail.Store(true)
	state := startSignIn(t, s, f)
	r := callback(t, s, url.Values{"code": {"good-code"}, "state": {state}}, state)
	if r.status != http.StatusBadGateway || r.str("code") != "oauth_failed" || r.header.Get("Location") != "" {
		t.Fatalf("memberships call failed: %d %s", r.status, r.raw)
	}
	checkSpec(t, s)
}

// TestGitHubOrgMappingStrict: with oauth.github.personal_orgs off, a user
// in none of the mapped orgs is refused with 403 oauth_denied and nothing
// is registered; a member still signs in.
func TestGitHubOrgMappingStrict(t *testing.T) {
	f := newFakeGitHub(t)
	cfg := withGitHub(e2eConfig(filepath.Join(t.TempDir(), "octostore.db")), f)
	cfg.OAuth.GitHub.Orgs = []string{"acme-corp:acme"}
	cfg.OAuth.GitHub.PersonalOrgs = false
	s := startServer(t, cfg, nil, nil)
	orgs := func() string {
		t.Helper()
		var list struct {
			Orgs []struct{ Org, Source string }
		}
		r := s.call(t, http.MethodGet, "/admin/orgs", adminTok, nil)
		if err := json.Unmarshal(r.raw, &list); err != nil || r.status != http.StatusOK {
			t.Fatalf("GET /admin/orgs: %d %s", r.status, r.raw)
		}
		var out []string
		for _, o := range list.Orgs {
			out = append(out, o.Org+":"+o.Source)
		}
		return strings.Join(out, " ")
	}
	// The orgs of the static tokens are known before anyone registers them.
	if got := orgs(); got != "acme:static globex:static" {
		t.Fatalf("orgs at start: %s", got)
	}

	f.setMemberships(map[string]string{"other": "admin"})
	state := startSignIn(t, s, f)
	r := callback(t, s, url.Values{"code": {"good-code"}, "state": {state}}, state)
	if r.status != http.StatusForbidden || r.str("code") != "oauth_denied" || !strings.Contains(r.str("detail"), "none of the GitHub orgs this server admits") ||
		r.header.Get("Location") != "" {
		t.Fatalf("a user in no mapped org: %d %s", r.status, r.raw)
	}
	if r := s.call(t, http.MethodGet, "/admin/orgs/octocat/users", adminTok, nil); r.status != http.StatusNotFound {
		t.Fatalf("the refused sign-in registered org octocat: %d %s", r.status, r.raw)
	}
	if f.membershipCalls.Load() != 1 {
		t.Fatalf("memberships read %d times", f.membershipCalls.Load())
	}

	f.setMemberships(map[string]string{"acme-corp": "member"})
	x := s.call(t, http.MethodPost, "/auth/exchange", "", map[string]string{"code": signIn(t, s, f)})
	if x.status != http.StatusOK || x.str("org") != "acme" {
		t.Fatalf("a member of acme-corp: %d %s", x.status, x.raw)
	}
	if got := orgs(); got != "acme:registered globex:static" {
		t.Fatalf("orgs after the sign-in: %s", got)
	}
	checkSpec(t, s)
}
