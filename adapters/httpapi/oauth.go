package httpapi

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// GitHub is what the sign-in routes need from GitHub's OAuth app.
type GitHub interface {
	// AuthCodeURL returns the URL that asks the user to authorize the
	// app; GitHub sends state back to the callback.
	AuthCodeURL(state string) string
	// Login exchanges the code GitHub sent to the callback and returns
	// the account of the user who authorized (with its org memberships
	// when an org mapping needs them).
	Login(ctx context.Context, code string) (domain.ExternalAccount, error)
}

// stateCookie binds the OAuth state to the browser that started the
// sign-in. The __Host- prefix makes browsers refuse it unless it is
// Secure, has Path=/ and no Domain, so no other site or subdomain can set it.
const stateCookie = "__Host-octostore_oauth_state"

// stateMaxAge is how long a started sign-in may take, in seconds.
const stateMaxAge = 600

type redirectOutput struct {
	Location     string `header:"Location" doc:"Where the browser goes next."`
	SetCookie    string `header:"Set-Cookie" doc:"Starts or ends the sign-in's state cookie."`
	CacheControl string `header:"Cache-Control"`
}

type callbackInput struct {
	Code  string `query:"code" maxLength:"512" doc:"The code GitHub issued."`
	State string `query:"state" maxLength:"128" doc:"The state the sign-in started with."`
	Error string `query:"error" maxLength:"64" doc:"Set by GitHub when the user refused (access_denied)."`
	// The cookie the sign-in set; it must equal state.
	Cookie string `cookie:"__Host-octostore_oauth_state" maxLength:"128" doc:"Set by GET /auth/github; must equal state."`
}

// ExchangeRequest is the body of an exchange.
type ExchangeRequest struct {
	Code string `json:"code" minLength:"1" maxLength:"128" doc:"The one-time code from the dashboard URL's fragment (#code=…)." example:"Vh3k9q2x7LmN0pQrStUvWxYz0123456789abcdefGHI"`
}

type exchangeInput struct {
	Body ExchangeRequest
}

var (
	errOAuthNotConfigured = newProblem(http.StatusNotFound, "oauth_not_configured",
		"GitHub sign-in is not configured on this server (oauth.github.client_id and oauth.github.client_secret)")
	errStateMismatch = newProblem(http.StatusBadRequest, "oauth_state_mismatch",
		"the sign-in's state is missing or does not match its cookie; start again at /auth/github")
	errOAuthDenied = newProblem(http.StatusForbidden, "oauth_denied", "the sign-in was refused at GitHub")
	errNoMappedOrg = newProblem(http.StatusForbidden, domain.ErrNoMappedOrg.Code,
		"your GitHub account is an active member of none of the GitHub orgs this server admits; ask an admin of one of them to add you, then sign in again")
	errOAuthFailed = newProblem(http.StatusBadGateway, "oauth_failed",
		"GitHub did not confirm the sign-in; start again at /auth/github")
	errBadExchangeCode = newProblem(http.StatusBadRequest, domain.ErrInvalidExchangeCode.Code, domain.ErrInvalidExchangeCode.Msg)

	docNotConfigured = errorDoc{http.StatusNotFound, "`oauth_not_configured`: GitHub sign-in is not configured on this server.", errOAuthNotConfigured}
)

// fresh returns a copy of the problem p for one answer: the error
// transformer fills in the request's instance and id, which must not land
// in a problem other requests share.
func fresh(p *Problem) *Problem {
	c := *p
	return &c
}

func (s *Server) registerOAuth() {
	register(s, huma.Operation{
		OperationID: "github-login", Method: http.MethodGet, Path: "/auth/github", DefaultStatus: http.StatusFound,
		Summary: "Sign in with GitHub", Tags: []string{"auth"}, Security: public,
		Description: "Redirects the browser to GitHub to authorize OctoStore, with a random `state` also set in a 10-minute `__Host-octostore_oauth_state` cookie. No token needed. " +
			"Open it in a browser; the sign-in ends at the dashboard URL with a one-time code for `POST /auth/exchange`.",
	}, s.githubLogin, docNotConfigured)

	register(s, huma.Operation{
		OperationID: "github-callback", Method: http.MethodGet, Path: "/auth/github/callback", DefaultStatus: http.StatusFound,
		Summary: "GitHub sign-in callback", Tags: []string{"auth"}, Security: public,
		Description: "Where GitHub sends the browser back. Checks `state` against the cookie, exchanges the code with GitHub and reads the user's login (and, when `oauth.github.orgs` maps GitHub orgs, the user's active org memberships). " +
			"The user's org is the first mapped org whose GitHub org the user is in (as owner if a GitHub org admin, else member), otherwise the org named by the login in lower case (as owner). " +
			"The org is registered and the user added when missing (an existing member keeps its role), a token is made, and the browser is redirected to " +
			"the dashboard URL with a one-time code in the fragment (`#code=…`), never the token. No token needed.",
	}, s.githubCallback, docNotConfigured, errUnavailable,
		errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter is longer than the schema allows.",
			&Problem{Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Code: "validation_failed",
				Detail: "validation failed", Errors: []*FieldError{{Location: "query.state", Message: "expected length <= 128"}}}},
		errorDoc{http.StatusBadRequest, "`oauth_state_mismatch`: `state` is missing or differs from the sign-in's cookie.", errStateMismatch},
		errorDoc{http.StatusForbidden, "`oauth_denied`: the user refused at GitHub, or is an active member of none of the GitHub orgs in `oauth.github.orgs` while `oauth.github.personal_orgs` is off.", errOAuthDenied},
		errorDoc{http.StatusBadGateway, "`oauth_failed`: GitHub did not confirm the sign-in (code refused, GitHub unreachable, no login).", errOAuthFailed})

	register(s, huma.Operation{
		OperationID: "exchange-code", Method: http.MethodPost, Path: "/auth/exchange",
		Summary: "Trade a sign-in code for a token", Tags: []string{"auth"}, Security: public,
		RequestBody: requestExample("code", "Trade the code from #code=…", "", ExchangeRequest{Code: "Vh3k9q2x7LmN0pQrStUvWxYz0123456789abcdefGHI"}),
		Description: "Answers the token a GitHub sign-in made, once: a code works a single time, within 60 seconds. No token needed.",
	}, s.exchangeCode, errMalformed, errTooLarge, errMediaType,
		errorDoc{http.StatusBadRequest, "`invalid_exchange_code`: the code is unknown, expired or used already.", errBadExchangeCode},
		errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the body violates the schema.",
			&Problem{Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Code: "validation_failed",
				Detail: "validation failed", Errors: []*FieldError{{Location: "body.code", Message: "expected length >= 1"}}}})
}

func (s *Server) githubLogin(_ context.Context, _ *struct{}) (*redirectOutput, error) {
	if s.github == nil {
		return nil, fresh(errOAuthNotConfigured)
	}
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	state := base64.RawURLEncoding.EncodeToString(b[:])
	c := http.Cookie{Name: stateCookie, Value: state, Path: "/", MaxAge: stateMaxAge, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	return &redirectOutput{Location: s.github.AuthCodeURL(state), SetCookie: c.String(), CacheControl: "no-store"}, nil
}

func (s *Server) githubCallback(ctx context.Context, in *callbackInput) (*redirectOutput, error) {
	if s.github == nil {
		return nil, fresh(errOAuthNotConfigured)
	}
	if in.State == "" || subtle.ConstantTimeCompare([]byte(in.State), []byte(in.Cookie)) != 1 {
		return nil, fresh(errStateMismatch)
	}
	if in.Error == "access_denied" {
		return nil, fresh(errOAuthDenied)
	}
	if in.Error != "" || in.Code == "" {
		s.log.WarnContext(ctx, "github sign-in: no code", "request_id", RequestID(ctx), "error", in.Error)
		return nil, fresh(errOAuthFailed)
	}
	account, err := s.github.Login(ctx, in.Code)
	if err != nil {
		s.log.WarnContext(ctx, "github sign-in", "request_id", RequestID(ctx), "err", err)
		return nil, fresh(errOAuthFailed)
	}
	code, err := s.login.SignIn(ctx, account)
	if errors.Is(err, domain.ErrNoMappedOrg) {
		s.log.InfoContext(ctx, "github sign-in: in no mapped org", "request_id", RequestID(ctx), "login", account.Login)
		return nil, fresh(errNoMappedOrg)
	}
	if domain.KindOf(err) == domain.KindInvalid {
		s.log.WarnContext(ctx, "github sign-in: login is no valid org or user name", "request_id", RequestID(ctx), "err", err)
		return nil, fresh(errOAuthFailed)
	}
	if err != nil {
		return nil, err
	}
	done := http.Cookie{Name: stateCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	dashboard, _, _ := strings.Cut(s.cfg.DashboardURL, "#")
	return &redirectOutput{Location: dashboard + "#code=" + code, SetCookie: done.String(), CacheControl: "no-store"}, nil
}

func (s *Server) exchangeCode(ctx context.Context, in *exchangeInput) (*newTokenOutput, error) {
	g, info, err := s.login.Exchange(ctx, in.Body.Code)
	if errors.Is(err, domain.ErrInvalidExchangeCode) {
		return nil, fresh(errBadExchangeCode)
	}
	if err != nil {
		return nil, err
	}
	return newTokenOf(g, info), nil
}
