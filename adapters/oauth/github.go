// Package oauth signs users in with GitHub (golang.org/x/oauth2): it builds
// the authorize URL, exchanges the code GitHub returns for an access token
// and reads the user's login, and when asked their org memberships, with it.
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

	"github.com/octostore/octostore/domain"
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
	// ReadOrgs asks for the read:org scope and reads the user's active
	// org memberships ({APIURL}/user/memberships/orgs) at sign-in.
	ReadOrgs bool
	// HTTPClient makes the calls to GitHub (a client with a 10 s timeout
	// when nil).
	HTTPClient *http.Client
}

// GitHub is the sign-in with GitHub.
type GitHub struct {
	oauth    oauth2.Config
	api      string
	client   *http.Client
	readOrgs bool
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
	g := &GitHub{
		oauth: oauth2.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, RedirectURL: c.RedirectURL,
			Endpoint: oauth2.Endpoint{AuthURL: c.AuthorizeURL, TokenURL: c.TokenURL}},
		api:      strings.TrimSuffix(c.APIURL, "/"),
		client:   c.HTTPClient,
		readOrgs: c.ReadOrgs,
	}
	if c.ReadOrgs {
		// Without it GitHub lists only the memberships the user made public.
		g.oauth.Scopes = []string{"read:org"}
	}
	return g
}

// AuthCodeURL returns the URL that asks the user to authorize the app;
// GitHub sends state back to the callback unchanged.
func (g *GitHub) AuthCodeURL(state string) string { return g.oauth.AuthCodeURL(state) }

// Login exchanges the code GitHub sent to the callback for an access token
// and returns the account it belongs to: its login and, when the GitHub
// was made with ReadOrgs, its active org memberships (the first 100). The
// access token is used for these calls and forgotten.
func (g *GitHub) Login(ctx context.Context, code string) (domain.ExternalAccount, error) {
	ctx = context.WithValue(ctx, oauth2.HTTPClient, g.client)
	tok, err := g.oauth.Exchange(ctx, code)
	if err != nil {
		return domain.ExternalAccount{}, fmt.Errorf("github: exchange code: %w", err)
	}
	client := g.oauth.Client(ctx, tok)
	var user struct {
		Login string `json:"login"`
	}
	if err := g.get(ctx, client, "/user", &user); err != nil {
		return domain.ExternalAccount{}, fmt.Errorf("github: read user: %w", err)
	}
	if user.Login == "" {
		return domain.ExternalAccount{}, errors.New("github: read user: no login")
	}
	a := domain.ExternalAccount{Login: user.Login}
	if !g.readOrgs {
		return a, nil
	}
	var memberships []struct {
		State        string `json:"state"`
		Role         string `json:"role"`
		Organization struct {
			Login string `json:"login"`
		} `json:"organization"`
	}
	if err := g.get(ctx, client, "/user/memberships/orgs?state=active&per_page=100", &memberships); err != nil {
		return domain.ExternalAccount{}, fmt.Errorf("github: read org memberships: %w", err)
	}
	a.Orgs = []domain.ExternalOrg{}
	for _, m := range memberships {
		if m.State == "active" && m.Organization.Login != "" {
			a.Orgs = append(a.Orgs, domain.ExternalOrg{Name: m.Organization.Login, Admin: m.Role == "admin"})
		}
	}
	return a, nil
}

// get reads the JSON answer of GET {api}{path} into v.
func (g *GitHub) get(ctx context.Context, client *http.Client, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.api+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(v)
}
