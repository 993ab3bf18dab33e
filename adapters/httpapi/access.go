package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// exampleTeam is the team name of the examples.
const exampleTeam = "dba"

// TeamRequest is the body of a team's creation or replacement.
type TeamRequest struct {
	Members []string `json:"members" nullable:"false" maxItems:"1000" doc:"The team's users (names as in their tokens, org/user without the org). Users need not exist yet; duplicates are dropped." example:"[\"alice\",\"bob\"]"`
}

// Team is a team of your org.
type Team struct {
	Name      string   `json:"name" example:"dba"`
	Members   []string `json:"members" nullable:"false" doc:"Users, sorted." example:"[\"alice\",\"bob\"]"`
	UpdatedAt Time     `json:"updated_at"`
}

// TeamList is the answer of the team listing.
type TeamList struct {
	Teams []Team `json:"teams" nullable:"false"`
}

// ACLRequest is the body of a rule's creation or replacement. A list left
// out grants every member of the org; an empty list grants nobody.
type ACLRequest struct {
	Acquire []string `json:"acquire,omitempty" nullable:"false" maxItems:"100" doc:"Who may acquire, renew, release and validate the names at and below the prefix: principals \"org\" (every member), \"user:<name>\" or \"team:<name>\". Left out (or null): every member; []: nobody." example:"[\"team:dba\"]"`
	Observe []string `json:"observe,omitempty" nullable:"false" maxItems:"100" doc:"Who may see them: status, listings, watch streams, the events page and webhooks. Same principals. Left out (or null): every member; []: nobody." example:"[\"org\"]"`
}

// ACL is a rule of your org.
type ACL struct {
	Prefix    string   `json:"prefix" doc:"The rule covers this name and every name below it (component by component)." example:"db/primary"`
	Acquire   []string `json:"acquire" nullable:"false" example:"[\"team:dba\"]"`
	Observe   []string `json:"observe" nullable:"false" example:"[\"org\"]"`
	UpdatedAt Time     `json:"updated_at"`
	UpdatedBy string   `json:"updated_by" doc:"The owner who set it." example:"alice"`
}

// ACLList is the answer of the rule listing.
type ACLList struct {
	ACLs []ACL `json:"acls" nullable:"false"`
}

// TeamPath is the team path parameter.
type TeamPath struct {
	Team string `path:"team" maxLength:"64" doc:"Team name: letters, digits, '.', '_' and '-'." example:"dba"`
}

// PrefixPath is the ACL prefix path parameter: a lock name.
type PrefixPath struct {
	Prefix string `path:"prefix" doc:"The name prefix the rule is attached to, with the lock-name grammar; '/' is sent as %2F (/acls/db%2Fprimary)." example:"db/primary"`
}

func (p PrefixPath) prefix() (domain.LockName, error) {
	name, err := domain.ParseLockName(p.Prefix)
	if err != nil {
		return "", &fieldError{loc: "path.prefix", hint: nameHint, err: err}
	}
	return name, nil
}

type putTeamInput struct {
	TeamPath
	Body TeamRequest
}

type teamOutput struct{ Body Team }

type teamListOutput struct{ Body TeamList }

type putACLInput struct {
	PrefixPath
	Body ACLRequest
}

type aclOutput struct{ Body ACL }

type aclListOutput struct{ Body ACLList }

var (
	errOwnerOnly  = errorDoc{http.StatusForbidden, "`admin_not_tenant`: the admin token cannot act in an org; `permission_denied`: only the org's owners change teams and ACLs.", domain.ErrOwnerOnly}
	errMemberOnly = errorDoc{http.StatusForbidden, "`admin_not_tenant`: the admin token cannot act in an org.", domain.ErrAdminNotTenant}
	errTeamGone   = errorDoc{http.StatusNotFound, "`team_not_found`: no team with this name in your org.", domain.ErrTeamNotFound}
	errACLGone    = errorDoc{http.StatusNotFound, "`acl_not_found`: no rule is attached to this prefix in your org.", domain.ErrACLNotFound}
	errPrefixName = errorDoc{http.StatusUnprocessableEntity, "`invalid_name`: the prefix is not a valid lock name.",
		&fieldError{loc: "path.prefix", hint: nameHint, err: exampleNameError}}
)

func (s *Server) registerAccess() {
	body := []errorDoc{errMalformed, errTooLarge, errMediaType, errUnavailable}
	register(s, huma.Operation{
		OperationID: "put-team", Method: http.MethodPut, Path: "/teams/{team}",
		Summary: "Create or replace a team", Tags: []string{"access"}, Security: bearer,
		RequestBody: requestExample("dba", "Team dba is alice and bob", "Needs an owner's token.", TeamRequest{Members: []string{"alice", "bob"}}),
		Description: "Sets a team of your org to exactly these users. ACL rules name teams as `team:<name>`. Only the org's owners change teams.",
	}, s.putTeam, append(body, errUnauthorized, errOwnerOnly,
		errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the body violates the schema; `invalid_team`: bad team name; `invalid_user`: bad member name.",
			atField("path.team", domain.Invalid("invalid_team", `team "a b": byte ' ' is not one of [A-Za-z0-9._-]`))},
		errorDoc{http.StatusTooManyRequests, "`quota_exceeded`: the org has 1,000 teams already.", &domain.QuotaExceededError{Quota: "teams", Limit: domain.MaxTeamsPerOrg}})...)

	register(s, huma.Operation{
		OperationID: "list-teams", Method: http.MethodGet, Path: "/teams",
		Summary: "List teams", Tags: []string{"access"}, Security: bearer,
		Description: "The teams of your org by name. Every member may read them.",
	}, s.listTeams, errUnauthorized, errMemberOnly)

	register(s, huma.Operation{
		OperationID: "get-team", Method: http.MethodGet, Path: "/teams/{team}",
		Summary: "Describe a team", Tags: []string{"access"}, Security: bearer,
		Description: "One team of your org. Every member may read it.",
	}, s.getTeam, errUnauthorized, errMemberOnly, errTeamGone)

	register(s, huma.Operation{
		OperationID: "delete-team", Method: http.MethodDelete, Path: "/teams/{team}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete a team", Tags: []string{"access"}, Security: bearer,
		Description: "Deletes a team. A team that ACL rules still name is kept (`team_in_use` lists the rules), so no rule ever names a missing team. Only owners.",
	}, s.deleteTeam, errUnauthorized, errOwnerOnly, errTeamGone, errUnavailable,
		errorDoc{http.StatusConflict, "`team_in_use`: ACL rules name the team; the detail lists their prefixes.", &domain.TeamInUseError{Prefixes: []domain.LockName{"db/primary"}}})

	register(s, huma.Operation{
		OperationID: "put-acl", Method: http.MethodPut, Path: "/acls/{prefix}",
		Summary: "Attach an ACL rule to a prefix", Tags: []string{"access"}, Security: bearer,
		RequestBody: requestExample("dba", "Only team dba acquires; every member observes", "Create the team first (PUT /teams/dba). Needs an owner's token.",
			ACLRequest{Acquire: []string{"team:dba"}, Observe: []string{"org"}}),
		Description: "Sets who may acquire and who may observe the names at and below a prefix of your org, replacing the rule there. " +
			"The most specific rule (longest matching prefix) decides; with no rule every member may do everything. Only owners change rules; " +
			"a change applies to every request after it is answered, and to open watch streams and webhooks from their next event.",
	}, s.putACL, append(body, errUnauthorized, errOwnerOnly,
		errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the body violates the schema; `invalid_name`: bad prefix; `invalid_principal`: a principal is not org, user:<name> or team:<name>, or names a team that does not exist.",
			atField("body.acquire", domain.Invalid("invalid_principal", `principal "everyone": want org, user:<name> or team:<name>`))},
		errorDoc{http.StatusTooManyRequests, "`quota_exceeded`: the org has 10,000 rules already.", &domain.QuotaExceededError{Quota: "acls", Limit: domain.MaxRulesPerOrg}})...)

	register(s, huma.Operation{
		OperationID: "list-acls", Method: http.MethodGet, Path: "/acls",
		Summary: "List ACL rules", Tags: []string{"access"}, Security: bearer,
		Description: "The rules of your org by prefix. Every member may read them.",
	}, s.listACLs, errUnauthorized, errMemberOnly)

	register(s, huma.Operation{
		OperationID: "get-acl", Method: http.MethodGet, Path: "/acls/{prefix}",
		Summary: "Describe an ACL rule", Tags: []string{"access"}, Security: bearer,
		Description: "The rule attached to exactly this prefix (not the one that decides for it: see GET /acls).",
	}, s.getACL, errUnauthorized, errMemberOnly, errACLGone, errPrefixName)

	register(s, huma.Operation{
		OperationID: "delete-acl", Method: http.MethodDelete, Path: "/acls/{prefix}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete an ACL rule", Tags: []string{"access"}, Security: bearer,
		Description: "Removes the rule of a prefix; the next broader rule, or none, decides for its names again. Only owners.",
	}, s.deleteACL, errUnauthorized, errOwnerOnly, errACLGone, errPrefixName, errUnavailable)
}

func teamOf(t domain.Team) Team {
	ms := t.Members
	if ms == nil {
		ms = []string{}
	}
	return Team{Name: t.Name, Members: ms, UpdatedAt: wireTime(t.UpdatedAt)}
}

func aclOf(a domain.ACL) ACL {
	return ACL{Prefix: string(a.Prefix), Acquire: domain.GranteeStrings(a.Acquire), Observe: domain.GranteeStrings(a.Observe),
		UpdatedAt: wireTime(a.UpdatedAt), UpdatedBy: a.UpdatedBy}
}

func (s *Server) putTeam(ctx context.Context, in *putTeamInput) (*teamOutput, error) {
	members := in.Body.Members
	if members == nil {
		members = []string{}
	}
	t, err := s.access.PutTeam(ctx, principal(ctx), in.Team, members)
	if err != nil {
		if domain.CodeOf(err) == "invalid_team" {
			return nil, &fieldError{loc: "path.team", err: err}
		}
		return nil, err
	}
	return &teamOutput{Body: teamOf(t)}, nil
}

func (s *Server) listTeams(ctx context.Context, _ *struct{}) (*teamListOutput, error) {
	ts, err := s.access.Teams(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &teamListOutput{Body: TeamList{Teams: make([]Team, 0, len(ts))}}
	for _, t := range ts {
		out.Body.Teams = append(out.Body.Teams, teamOf(t))
	}
	return out, nil
}

func (s *Server) getTeam(ctx context.Context, in *TeamPath) (*teamOutput, error) {
	t, err := s.access.Team(ctx, principal(ctx), in.Team)
	if err != nil {
		return nil, err
	}
	return &teamOutput{Body: teamOf(t)}, nil
}

func (s *Server) deleteTeam(ctx context.Context, in *TeamPath) (*struct{}, error) {
	return nil, s.access.DeleteTeam(ctx, principal(ctx), in.Team)
}

func (s *Server) putACL(ctx context.Context, in *putACLInput) (*aclOutput, error) {
	if _, err := in.prefix(); err != nil {
		return nil, err
	}
	a, err := s.access.PutACL(ctx, principal(ctx), in.Prefix, in.Body.Acquire, in.Body.Observe)
	if err != nil {
		return nil, err
	}
	return &aclOutput{Body: aclOf(a)}, nil
}

func (s *Server) listACLs(ctx context.Context, _ *struct{}) (*aclListOutput, error) {
	as, err := s.access.ACLs(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &aclListOutput{Body: ACLList{ACLs: make([]ACL, 0, len(as))}}
	for _, a := range as {
		out.Body.ACLs = append(out.Body.ACLs, aclOf(a))
	}
	return out, nil
}

func (s *Server) getACL(ctx context.Context, in *PrefixPath) (*aclOutput, error) {
	name, err := in.prefix()
	if err != nil {
		return nil, err
	}
	a, err := s.access.ACL(ctx, principal(ctx), name)
	if err != nil {
		return nil, err
	}
	return &aclOutput{Body: aclOf(a)}, nil
}

func (s *Server) deleteACL(ctx context.Context, in *PrefixPath) (*struct{}, error) {
	name, err := in.prefix()
	if err != nil {
		return nil, err
	}
	return nil, s.access.DeleteACL(ctx, principal(ctx), name)
}
