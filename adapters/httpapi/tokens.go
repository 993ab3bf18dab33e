package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// NewToken is a token just made: shown this once, stored only as a hash.
type NewToken struct {
	Token     string `json:"token" doc:"The bearer token. It is shown only now; store it safely." example:"octo_3q2+7w…"`
	TokenID   string `json:"token_id" doc:"Names the token in listings and revocations." example:"tok_4f2a9c1e5b7d2a44"`
	Org       string `json:"org,omitempty" example:"acme"`
	User      string `json:"user" example:"alice"`
	CreatedAt Time   `json:"created_at"`
}

type newTokenOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         NewToken
}

// TokenInfo describes a stored token, never the token itself.
type TokenInfo struct {
	ID         string `json:"id" example:"tok_4f2a9c1e5b7d2a44"`
	Org        string `json:"org,omitempty" example:"acme"`
	User       string `json:"user" example:"alice"`
	Admin      bool   `json:"admin,omitempty" doc:"The admin token (made at first start)."`
	CreatedAt  *Time  `json:"created_at,omitempty" doc:"When it was made (absent for tokens made before this was recorded)."`
	LastUsedAt *Time  `json:"last_used_at,omitempty" doc:"When it last authenticated a request, since the server started."`
}

// TokenList is the answer of a token listing.
type TokenList struct {
	Tokens []TokenInfo `json:"tokens" nullable:"false"`
}

type tokenListOutput struct {
	Body TokenList
}

type listTokensInput struct {
	Org  string `query:"org" maxLength:"64" doc:"Only tokens of this org." example:"acme"`
	User string `query:"user" maxLength:"64" doc:"Only tokens of this user." example:"alice"`
}

type issueTokenInput struct {
	Org  string `path:"org" maxLength:"64" example:"acme"`
	User string `path:"user" maxLength:"64" example:"alice"`
}

type tokenIDPath struct {
	ID string `path:"token_id" maxLength:"64" example:"tok_4f2a9c1e5b7d2a44"`
}

var (
	errStaticToken = errorDoc{http.StatusConflict,
		"`static_token`: the token is configured (static_tokens or admin_token), not stored; change it in the configuration.", domain.ErrStaticToken}
	errTokenNotFound = errorDoc{http.StatusNotFound, "`token_not_found`: no stored token has this id.", domain.ErrTokenNotFound}
	errBadPrincipal  = errorDoc{http.StatusUnprocessableEntity, "`invalid_org`, `invalid_user`: not a valid org or user name.",
		atField("path.user", domain.Invalid("invalid_user", `user "a b": only letters, digits, '.', '_' and '-'`))}
)

func (s *Server) registerTokens() {
	register(s, huma.Operation{
		OperationID: "rotate-token", Method: http.MethodPost, Path: "/auth/token/rotate", DefaultStatus: http.StatusCreated,
		Summary: "Rotate your token", Tags: []string{"auth"}, Security: bearer,
		Description: "Replaces the stored token you call with by a new one for the same user, shown only in this answer. The old token stops working at once (its watch streams end). " +
			"A token from the configuration (static_tokens, admin_token) is rotated there: `409 static_token`.",
	}, s.rotateToken, errUnauthorized, errStaticToken, errUnavailable)

	register(s, huma.Operation{
		OperationID: "admin-list-tokens", Method: http.MethodGet, Path: "/admin/tokens",
		Summary: "List stored tokens", Tags: []string{"admin"}, Security: bearer,
		Description: "The stored tokens (ids, owners, creation and last use), never the tokens themselves. Configured tokens are not stored and not listed. Needs the admin token.",
	}, s.listTokens, errUnauthorized, errAdminOnly)

	register(s, huma.Operation{
		OperationID: "admin-issue-token", Method: http.MethodPost, Path: "/admin/orgs/{org}/users/{user}/tokens", DefaultStatus: http.StatusCreated,
		Summary: "Issue a token", Tags: []string{"admin"}, Security: bearer,
		Description: "Makes another token for org/user, shown only in this answer. Needs the admin token.",
	}, s.issueToken, errUnauthorized, errAdminOnly, errBadPrincipal, errUnavailable)

	register(s, huma.Operation{
		OperationID: "admin-revoke-token", Method: http.MethodDelete, Path: "/admin/tokens/{token_id}", DefaultStatus: http.StatusNoContent,
		Summary: "Revoke a token", Tags: []string{"admin"}, Security: bearer,
		Description: "The token stops working at once, and watch streams opened with it end. Needs the admin token.",
	}, s.revokeToken, errUnauthorized, errAdminOnly, errTokenNotFound, errUnavailable)
}

func newTokenOf(g application.GeneratedToken, info application.TokenInfo) *newTokenOutput {
	return &newTokenOutput{CacheControl: "no-store", Body: NewToken{Token: g.Token, TokenID: info.ID,
		Org: string(g.Principal.Org), User: g.Principal.User, CreatedAt: wireTime(info.CreatedAt)}}
}

func (s *Server) rotateToken(ctx context.Context, _ *struct{}) (*newTokenOutput, error) {
	g, info, err := s.auth.Rotate(ctx, bearerToken(ctx))
	if err != nil {
		return nil, err
	}
	return newTokenOf(g, info), nil
}

func (s *Server) listTokens(ctx context.Context, in *listTokensInput) (*tokenListOutput, error) {
	ts, err := s.auth.Tokens(ctx, principal(ctx), domain.OrgID(in.Org), in.User)
	if err != nil {
		return nil, err
	}
	out := &tokenListOutput{Body: TokenList{Tokens: make([]TokenInfo, 0, len(ts))}}
	for _, t := range ts {
		info := TokenInfo{ID: t.ID, Org: string(t.Principal.Org), User: t.Principal.User, Admin: t.Principal.Admin}
		if !t.CreatedAt.IsZero() {
			info.CreatedAt = wireTimeRef(t.CreatedAt)
		}
		if !t.LastUsedAt.IsZero() {
			info.LastUsedAt = wireTimeRef(t.LastUsedAt)
		}
		out.Body.Tokens = append(out.Body.Tokens, info)
	}
	return out, nil
}

func (s *Server) issueToken(ctx context.Context, in *issueTokenInput) (*newTokenOutput, error) {
	g, info, err := s.auth.Issue(ctx, principal(ctx), in.Org, in.User)
	if err != nil {
		return nil, err
	}
	return newTokenOf(g, info), nil
}

func (s *Server) revokeToken(ctx context.Context, in *tokenIDPath) (*struct{}, error) {
	return nil, s.auth.Revoke(ctx, principal(ctx), in.ID)
}
