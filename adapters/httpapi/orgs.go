package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// CreateOrgRequest is the body of an org registration.
type CreateOrgRequest struct {
	Org string `json:"org" minLength:"1" maxLength:"64" doc:"The org's name: letters, digits, '.', '_' and '-'." example:"acme"`
}

// OrgInfo is an org the server knows.
type OrgInfo struct {
	Org       string `json:"org" example:"acme"`
	CreatedAt *Time  `json:"created_at,omitempty" doc:"When it was registered (absent for an org known only through tokens)."`
	Members   int    `json:"members" doc:"Users added to it."`
	Source    string `json:"source" enum:"registered,static,tokens" example:"registered" doc:"registered: registered with POST /admin/orgs, octostore org create or a GitHub sign-in; static: not registered, named by configured static_tokens; tokens: not registered, named only by stored tokens (first start, octostore token create, POST /admin/orgs/{org}/users/{user}/tokens)."`
}

// OrgList is the answer of the org listing.
type OrgList struct {
	Orgs []OrgInfo `json:"orgs" nullable:"false"`
}

// AddUserRequest is the body of adding a user to an org.
type AddUserRequest struct {
	User string `json:"user" minLength:"1" maxLength:"64" doc:"The user's name: letters, digits, '.', '_' and '-'." example:"alice"`
	Role string `json:"role,omitempty" enum:"member,owner" default:"member" doc:"member uses locks; owner also manages the org's teams and ACLs."`
}

// UserAdded is a new member of an org and its first token, shown once.
type UserAdded struct {
	Org     string `json:"org" example:"acme"`
	User    string `json:"user" example:"alice"`
	Role    string `json:"role" example:"owner"`
	Token   string `json:"token" doc:"The user's first token. It is shown only now." example:"octo_3q2+7w…"`
	TokenID string `json:"token_id" example:"tok_4f2a9c1e5b7d2a44"`
	AddedAt Time   `json:"added_at"`
}

// UserInfo is a member of an org.
type UserInfo struct {
	User    string `json:"user" example:"alice"`
	Role    string `json:"role" example:"member"`
	AddedAt Time   `json:"added_at"`
	Tokens  int    `json:"tokens" doc:"Stored tokens of the user."`
}

// UserList is the answer of a user listing.
type UserList struct {
	Users []UserInfo `json:"users" nullable:"false"`
}

type createOrgInput struct {
	Body CreateOrgRequest
}

type orgOutput struct {
	Body OrgInfo
}

type orgListOutput struct {
	Body OrgList
}

type addUserInput struct {
	Org  string `path:"org" maxLength:"64" example:"acme"`
	Body AddUserRequest
}

type userAddedOutput struct {
	CacheControl string `header:"Cache-Control"`
	Body         UserAdded
}

type userListOutput struct {
	Body UserList
}

var (
	errOrgNotFound = errorDoc{http.StatusNotFound, "`org_not_found`: no org with this name is registered.", domain.ErrOrgNotFound}
	errOrgInvalid  = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the body violates the schema; `invalid_org`: not a valid org name.",
		atField("body.org", domain.Invalid("invalid_org", `org "a b": only letters, digits, '.', '_' and '-'`))}
	errUserInvalid = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the body violates the schema; `invalid_user`, `invalid_org`, `invalid_role`: not a valid name or role.",
		atField("body.user", domain.Invalid("invalid_user", `user "a b": only letters, digits, '.', '_' and '-'`))}
)

func (s *Server) registerOrgs() {
	register(s, huma.Operation{
		OperationID: "admin-create-org", Method: http.MethodPost, Path: "/admin/orgs", DefaultStatus: http.StatusCreated,
		Summary: "Register an org", Tags: []string{"admin"}, Security: bearer,
		RequestBody: requestExample("acme", "Register org acme", "", CreateOrgRequest{Org: "acme"}),
		Description: "Registers an org, so that users can be added to it with a role. Orgs of configured tokens work without it. Needs the admin token.",
	}, s.createOrg, errUnauthorized, errAdminOnly, errOrgInvalid, errMalformed, errTooLarge, errMediaType, errUnavailable,
		errorDoc{http.StatusConflict, "`org_exists`: an org with this name is registered already.", domain.ErrOrgExists})

	register(s, huma.Operation{
		OperationID: "admin-list-orgs", Method: http.MethodGet, Path: "/admin/orgs",
		Summary: "List orgs", Tags: []string{"admin"}, Security: bearer,
		Description: "The orgs the server knows, by name, with how many users were added to each: the registered ones, and those named only by tokens (`source`: `static` for configured `static_tokens`, `tokens` for stored tokens), which have no `created_at` and no members. Needs the admin token.",
	}, s.listOrgs, errUnauthorized, errAdminOnly)

	register(s, huma.Operation{
		OperationID: "admin-add-user", Method: http.MethodPost, Path: "/admin/orgs/{org}/users", DefaultStatus: http.StatusCreated,
		Summary: "Add a user to an org", Tags: []string{"admin"}, Security: bearer,
		RequestBody: requestExample("owner", "Add alice as an owner", "", AddUserRequest{User: "alice", Role: "owner"}),
		Description: "Adds a user with a role (member or owner) to a registered org and answers with the user's first token, shown only now. Needs the admin token.",
	}, s.addUser, errUnauthorized, errAdminOnly, errUserInvalid, errOrgNotFound, errMalformed, errTooLarge, errMediaType, errUnavailable,
		errorDoc{http.StatusConflict, "`user_exists`: the user is in the org already.", domain.ErrUserExists})

	register(s, huma.Operation{
		OperationID: "admin-list-users", Method: http.MethodGet, Path: "/admin/orgs/{org}/users",
		Summary: "List an org's users", Tags: []string{"admin"}, Security: bearer,
		Description: "The users added to a registered org, by name, with their role and how many tokens they have. Needs the admin token.",
	}, s.listUsers, errUnauthorized, errAdminOnly, errOrgNotFound)
}

func (s *Server) createOrg(ctx context.Context, in *createOrgInput) (*orgOutput, error) {
	o, err := s.orgs.CreateOrg(ctx, principal(ctx), in.Body.Org)
	if err != nil {
		return nil, err
	}
	return &orgOutput{Body: OrgInfo{Org: string(o.ID), CreatedAt: wireTimeRef(o.CreatedAt), Members: 0, Source: string(application.OrgRegistered)}}, nil
}

func (s *Server) listOrgs(ctx context.Context, _ *struct{}) (*orgListOutput, error) {
	os, err := s.orgs.Orgs(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &orgListOutput{Body: OrgList{Orgs: make([]OrgInfo, 0, len(os))}}
	for _, o := range os {
		info := OrgInfo{Org: string(o.Org.ID), Members: o.Members, Source: string(o.Source)}
		if !o.Org.CreatedAt.IsZero() {
			info.CreatedAt = wireTimeRef(o.Org.CreatedAt)
		}
		out.Body.Orgs = append(out.Body.Orgs, info)
	}
	return out, nil
}

func (s *Server) addUser(ctx context.Context, in *addUserInput) (*userAddedOutput, error) {
	m, g, info, err := s.orgs.AddUser(ctx, principal(ctx), in.Org, in.Body.User, in.Body.Role)
	if err != nil {
		return nil, err
	}
	return &userAddedOutput{CacheControl: "no-store", Body: UserAdded{Org: string(m.Org), User: m.User, Role: string(m.Role),
		Token: g.Token, TokenID: info.ID, AddedAt: wireTime(m.AddedAt)}}, nil
}

func (s *Server) listUsers(ctx context.Context, in *orgPath) (*userListOutput, error) {
	us, err := s.orgs.Users(ctx, principal(ctx), in.Org)
	if err != nil {
		return nil, err
	}
	out := &userListOutput{Body: UserList{Users: make([]UserInfo, 0, len(us))}}
	for _, u := range us {
		out.Body.Users = append(out.Body.Users, UserInfo{User: u.Member.User, Role: string(u.Member.Role), AddedAt: wireTime(u.Member.AddedAt), Tokens: u.Tokens})
	}
	return out, nil
}
