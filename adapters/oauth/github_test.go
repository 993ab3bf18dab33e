package oauth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/octostore/octostore/adapters/oauth"
)

// fakeGitHub serves GitHub's token endpoint and /user: code "good" is
// worth access token "gho_fake", which /user knows as Octocat.
func fakeGitHub(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login/oauth/access_token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.PostForm.Get("code") != "good" {
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
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": "gho_fake", "token_type": "bearer"})
	})
	mux.HandleFunc("GET /user", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer gho_fake" {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"login": "Octocat"})
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
	login, err := g.Login(context.Background(), "good")
	if err != nil || login != "Octocat" {
		t.Fatalf("Login = %q, %v", login, err)
	}
	if _, err := g.Login(context.Background(), "bad"); err == nil {
		t.Fatal("a refused code signed in")
	}
}

func TestGitHubDefaults(t *testing.T) {
	u := oauth.NewGitHub(oauth.Config{ClientID: "cid"}).AuthCodeURL("s")
	if !strings.HasPrefix(u, oauth.DefaultAuthorizeURL+"?") {
		t.Fatalf("AuthCodeURL = %s", u)
	}
}
