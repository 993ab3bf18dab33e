// Package oauth signs users in with GitHub (golang.org/x/oauth2): it builds
// the authorize URL, exchanges the code GitHub returns for an access token
// and reads the user's login with it.
package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// GitHub's endpoints, the defaults of Config.
const (
	DefaultAuthorizeURL = "https://github.com/login/oauth/authorize"
	DefaultTokenURL     = "https://github.com/login/oauth/access_token"
	DefaultAPIURL       = "https://api.github.com"
)

// Config configures the GitHub sign-in. The endpoints default to GitHub's;
// tests point them at a fake.
type Config struct {
	ClientID     string
	ClientSecret string
	AuthorizeURL string
	TokenURL     string
	APIURL       string // the REST API's base; the login is read from {APIURL}/user
	RedirectURL  string // the public URL of the callback route
	// HTTPClient makes the calls to GitHub (a client with a 10 s timeout
	// when nil).
	HTTPClient *http.Client
}

// GitHub is the sign-in with GitHub.
type GitHub struct {
	oauth  oauth2.Config
	api    string
	client *http.Client
}

// NewGitHub returns the GitHub sign-in configured by c.
func NewGitHub(c Config) *GitHub {
	if c.AuthorizeURL == "" {
		c.AuthorizeURL = DefaultAuthorizeURL
	}
	if c.TokenURL == "" {
		c.TokenURL = DefaultTokenURL
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &GitHub{
		oauth: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: oauth2.Endpoint{AuthURL: c.AuthorizeURL, TokenURL: c.TokenURL}},
		api:    strings.TrimSuffix(c.APIURL, "/"),
		client: c.HTTPClient,
	}
}

// AuthCodeURL returns the URL that asks the user to authorize the app;
// GitHub sends state back to the callback unchanged.
func (g *GitHub) AuthCodeURL(state string) string { return g.oauth.AuthCodeURL(state) }

// Login exchanges the code GitHub sent to the callback for an access token
// and returns the login of the user it belongs to. The access token is
// used for this one call and forgotten.
func (g *GitHub) Login(ctx context.Context, code string) (string, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.client)
	tok, err := g.oauth.Exchange(ctx, code)
	if err != nil {
		return "", fmt.Errorf("github: exchange code: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+"/user", nil)
	if err != nil {
		return "", fmt.Errorf("github: read user: %w", err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	res, err := g.oauth.Client(ctx, tok).Do(req)
	if err != nil {
		return "", fmt.Errorf("github: read user: %w", err)
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("github: read user: status %d", res.StatusCode)
	}
	var user struct {
		Login string `json:"login"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&user); err != nil {
		return "", fmt.Errorf("github: read user: %w", err)
	}
	if user.Login == "" {
		return "", errors.New("github: read user: no login")
	}
	return user.Login, nil
}
