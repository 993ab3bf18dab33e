package oauth_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/octostore/octostore/adapters/oauth"
	"github.com/octostore/octostore/domain"
)

// fakeGitHub serves GitHub's token endpoint, /user and the org
// memberships: code "good" is worth access token "gho_fake", which /user
// knows as Octocat; code "no-orgs" is worth "gho_no_orgs", for which
// /user works but the memberships answer 403 (a token without read:org).
func fakeGitHub(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("code") != "good" && r.PostForm.Get("code") != "no-orgs" {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]string{"error": "bad_verification_code"})
			return
		}
		if id, secret, _ := r.BasicAuth(); id != "cid" || secret != "csecret" {
			if r.PostForm.Get("client_id") != "cid" || r.PostForm.Get("client_secret") != "csecret" {
				http.Error(w, "bad client", http.StatusUnauthorized)
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		tok := "gho_fake"
		if r.PostForm.Get("code") == "no-orgs" {
			tok = "gho_no_orgs"
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": tok, "token_type": "bearer"})
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "Bearer gho_fake" && a != "Bearer gho_no_orgs" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"login": "Octocat"})
	})
	mux.HandleFunc("GET /user/memberships/orgs", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gho_fake" || r.URL.Query().Get("state") != "active" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `[{"state":"active","role":"admin","organization":{"login":"Acme-Corp"}},
			{"state":"pending","role":"admin","organization":{"login":"pending-org"}},
			{"state":"active","role":"member","organization":{"login":"globex-gh"}}]`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHub(t *testing.T) {
	srv := fakeGitHub(t)
	g := oauth.NewGitHub(oauth.Config{ClientID: "cid", ClientSecret: "csecret",
		AuthorizeURL: srv.URL + "/login/oauth/authorize", TokenURL: srv.URL + "/login/oauth/access_token", APIURL: srv.URL + "/",
		RedirectURL: "https://octo.example/auth/github/callback", HTTPClient: srv.Client()})

	u, err := url.Parse(g.AuthCodeURL("st4te"))
	if err != nil || !strings.HasPrefix(u.String(), srv.URL+"/login/oauth/authorize?") || u.Query().Get("state") != "st4te" ||
		u.Query().Get("client_id") != "cid" || u.Query().Get("redirect_uri") != "https://octo.example/auth/github/callback" ||
		strings.Contains(u.String(), "csecret") {
		t.Fatalf("AuthCodeURL = %s", u)
	}
	if u.Query().Get("scope") != "" {
		t.Fatalf("AuthCodeURL asks for scopes without an org mapping: %s", u)
	}
	a, err := g.Login(context.Background(), "good")
	if err != nil || a.Login != "Octocat" || a.Orgs != nil {
		t.Fatalf("Login = %+v, %v", a, err)
	}
	if _, err := g.Login(context.Background(), "bad"); err == nil {
		t.Fatal("a refused code signed in")
	}
}

// TestGitHubOrgs: with ReadOrgs the sign-in asks for read:org and reads
// the active memberships; a failed memberships call fails the sign-in.
func TestGitHubOrgs(t *testing.T) {
	srv := fakeGitHub(t)
	cfg := oauth.Config{ClientID: "cid", ClientSecret: "csecret",
		AuthorizeURL: srv.URL + "/login/oauth/authorize", TokenURL: srv.URL + "/login/oauth/access_token", APIURL: srv.URL,
		RedirectURL: "https://octo.example/auth/github/callback", HTTPClient: srv.Client(), ReadOrgs: true}
	g := oauth.NewGitHub(cfg)
	u, err := url.Parse(g.AuthCodeURL("st4te"))
	if err != nil || u.Query().Get("scope") != "read:org" {
		t.Fatalf("AuthCodeURL = %s", u)
	}
	a, err := g.Login(context.Background(), "good")
	want := []domain.ExternalOrg{{Name: "Acme-Corp", Admin: true}, {Name: "globex-gh"}}
	if err != nil || a.Login != "Octocat" || !slices.Equal(a.Orgs, want) {
		t.Fatalf("Login = %+v, %v", a, err)
	}
	if _, err := g.Login(context.Background(), "no-orgs"); err == nil || !strings.Contains(err.Error(), "org memberships") {
		t.Fatalf("Login whose memberships GitHub refuses: %v", err)
	}
	cfg.APIURL = srv.URL + "/nowhere" // /user answers 404
	if _, err := oauth.NewGitHub(cfg).Login(context.Background(), "good"); err == nil || !strings.Contains(err.Error(), "read user") {
		t.Fatalf("Login against a failing API: %v", err)
	}
}

func TestGitHubDefaults(t *testing.T) {
	u := oauth.NewGitHub(oauth.Config{ClientID: "cid"}).AuthCodeURL("s")
	if !strings.HasPrefix(u, oauth.DefaultAuthorizeURL+"?") {
		t.Fatalf("AuthCodeURL = %s", u)
	}
}
