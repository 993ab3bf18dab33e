package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Action is what an ACL rule grants: acquire covers acquire, renew, release
// and validate; observe covers status, listing, watch streams, the events
// page and webhooks.
type Action uint8

// The actions a rule grants.
const (
	ActionAcquire Action = iota + 1
	ActionObserve
)

// Limits that keep one org's access data small enough to check from memory.
const (
	MaxTeamMembers   = 1000 // users in one team
	MaxRuleGrantees  = 100  // principals in one acquire or observe list
	MaxTeamsPerOrg   = 1000
	MaxRulesPerOrg   = 10000
	granteeOrg       = "org"
	granteeUserLabel = "user:"
	granteeTeamLabel = "team:"
)

// Team is a named set of an org's users that ACL rules can name.
type Team struct {
	Org       OrgID
	Name      string
	Members   []string // sorted, no duplicates
	UpdatedAt time.Time
}

// NewTeam validates a team name and its members; members are sorted and
// deduplicated. Users need not exist yet (they may sign in later).
func NewTeam(org OrgID, name string, members []string, now time.Time) (Team, error) {
	if err := checkComponent(name); err != nil {
		return Team{}, Invalid("invalid_team", fmt.Sprintf("team %q: %s", name, err))
	}
	if len(members) > MaxTeamMembers {
		return Team{}, Invalid("invalid_team", fmt.Sprintf("a team has at most %d members, got %d", MaxTeamMembers, len(members)))
	}
	ms := slices.Clone(members)
	for _, m := range ms {
		if err := checkComponent(m); err != nil {
			return Team{}, Invalid("invalid_user", fmt.Sprintf("member %q: %s", m, err))
		}
	}
	slices.Sort(ms)
	return Team{Org: org, Name: name, Members: slices.Compact(ms), UpdatedAt: now}, nil
}

// Grantee is one principal of an ACL rule: "org" (every member of the org),
// "user:<name>" or "team:<name>".
type Grantee string

// ParseGrantee validates a principal of an ACL rule.
func ParseGrantee(s string) (Grantee, error) {
	if s == granteeOrg {
		return Grantee(s), nil
	}
	for _, label := range []string{granteeUserLabel, granteeTeamLabel} {
		if name, ok := strings.CutPrefix(s, label); ok {
			if err := checkComponent(name); err != nil {
				return "", Invalid("invalid_principal", fmt.Sprintf("principal %q: %s", s, err))
			}
			return Grantee(s), nil
		}
	}
	return "", Invalid("invalid_principal", fmt.Sprintf("principal %q: want org, user:<name> or team:<name>", s))
}

// GranteeStrings returns the principals as the strings clients send
// (never nil).
func GranteeStrings(gs []Grantee) []string {
	out := make([]string, len(gs))
	for i, g := range gs {
		out[i] = string(g)
	}
	return out
}

// Team returns the team a "team:<name>" grantee names.
func (g Grantee) Team() (string, bool) { return strings.CutPrefix(string(g), granteeTeamLabel) }

// ACL is the rule attached to a name prefix of an org: who may acquire and
// who may observe the names at and below Prefix (component by component).
// The most specific rule that matches a name decides; an empty list grants
// nobody.
type ACL struct {
	Org       OrgID
	Prefix    LockName
	Acquire   []Grantee
	Observe   []Grantee
	UpdatedAt time.Time
	UpdatedBy string
}

// NewACL validates a rule. A nil list (the field was left out) grants
// every member of the org, so that a rule about acquiring does not by
// accident hide names from everyone; an empty list grants nobody.
func NewACL(org OrgID, prefix string, acquire, observe []string, by string, now time.Time) (ACL, error) {
	name, err := ParseLockName(prefix)
	if err != nil {
		return ACL{}, err
	}
	a := ACL{Org: org, Prefix: name, UpdatedAt: now, UpdatedBy: by}
	if a.Acquire, err = grantees("acquire", acquire); err != nil {
		return ACL{}, err
	}
	if a.Observe, err = grantees("observe", observe); err != nil {
		return ACL{}, err
	}
	return a, nil
}

func grantees(field string, in []string) ([]Grantee, error) {
	if in == nil {
		return []Grantee{granteeOrg}, nil
	}
	if len(in) > MaxRuleGrantees {
		return nil, Invalid("invalid_principal", fmt.Sprintf("%s lists at most %d principals, got %d", field, MaxRuleGrantees, len(in)))
	}
	out := make([]Grantee, 0, len(in))
	for _, s := range in {
		g, err := ParseGrantee(s)
		if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// Validate reports the first rule that the stored team t breaks (the
// rules NewTeam checks). The error has no Kind: a stored record that
// breaks them is a bug or corruption.
func (t Team) Validate() error {
	if _, err := NewTeam(t.Org, t.Name, t.Members, t.UpdatedAt); err != nil {
		return kindless(err)
	}
	return nil
}

// Validate reports the first rule that the stored rule a breaks (the rules
// NewACL checks). The error has no Kind.
func (a ACL) Validate() error {
	if _, err := NewACL(a.Org, string(a.Prefix), GranteeStrings(a.Acquire), GranteeStrings(a.Observe), a.UpdatedBy, a.UpdatedAt); err != nil {
		return kindless(err)
	}
	return nil
}

// Teams returns the teams the rule names, sorted, without duplicates.
func (a ACL) Teams() []string {
	var out []string
	for _, g := range slices.Concat(a.Acquire, a.Observe) {
		if t, ok := g.Team(); ok {
			out = append(out, t)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TeamSaved creates or replaces a team.
type TeamSaved struct{ Team Team }

// TeamDeleted removes a team.
type TeamDeleted struct {
	Org  OrgID
	Name string
}

// ACLSaved creates or replaces the rule of a prefix.
type ACLSaved struct{ ACL ACL }

// ACLDeleted removes the rule of a prefix.
type ACLDeleted struct {
	Org    OrgID
	Prefix LockName
}

func (TeamSaved) isChange()   {}
func (TeamDeleted) isChange() {}
func (ACLSaved) isChange()    {}
func (ACLDeleted) isChange()  {}

// Policy is one org's teams and ACL rules, prepared for checks that cost
// O(depth of the name) map lookups. A Policy is immutable once built; a
// change builds a new one.
type Policy struct {
	rules map[string]*rule
	teams map[string]map[string]struct{} // team → members
}

type rule struct {
	acquire, observe grants
}

type grants struct {
	org   bool
	users map[string]struct{}
	teams []string
}

// NewPolicy builds the policy of one org's teams and rules.
func NewPolicy(teams []Team, acls []ACL) *Policy {
	p := &Policy{rules: make(map[string]*rule, len(acls)), teams: make(map[string]map[string]struct{}, len(teams))}
	for _, t := range teams {
		ms := make(map[string]struct{}, len(t.Members))
		for _, m := range t.Members {
			ms[m] = struct{}{}
		}
		p.teams[t.Name] = ms
	}
	for _, a := range acls {
		p.rules[string(a.Prefix)] = &rule{acquire: newGrants(a.Acquire), observe: newGrants(a.Observe)}
	}
	return p
}

func newGrants(gs []Grantee) grants {
	var out grants
	for _, g := range gs {
		switch {
		case g == granteeOrg:
			out.org = true
		case strings.HasPrefix(string(g), granteeUserLabel):
			if out.users == nil {
				out.users = make(map[string]struct{})
			}
			out.users[strings.TrimPrefix(string(g), granteeUserLabel)] = struct{}{}
		default:
			t, _ := g.Team()
			out.teams = append(out.teams, t)
		}
	}
	return out
}

// Allows reports whether user may do action on name: the rule of the
// longest prefix of name (component by component) decides; with no rule,
// every member may. A user named by no grantee of the deciding rule is
// refused, even when a broader rule would allow it. A nil Policy allows
// everything.
func (p *Policy) Allows(user string, name LockName, action Action) bool {
	if p == nil || len(p.rules) == 0 {
		return true
	}
	n := string(name)
	for {
		if r, ok := p.rules[n]; ok {
			g := &r.acquire
			if action == ActionObserve {
				g = &r.observe
			}
			return g.allow(user, p.teams)
		}
		i := strings.LastIndexByte(n, '/')
		if i < 0 {
			return true
		}
		n = n[:i]
	}
}

func (g *grants) allow(user string, teams map[string]map[string]struct{}) bool {
	if g.org {
		return true
	}
	if _, ok := g.users[user]; ok {
		return true
	}
	for _, t := range g.teams {
		if _, ok := teams[t][user]; ok {
			return true
		}
	}
	return false
}

// Access errors a client can cause.
var (
	ErrPermissionDenied = &Error{Kind: KindPermissionDenied, Code: "permission_denied",
		Msg: "an ACL rule of your org does not allow you this on this name"}
	ErrOwnerOnly = &Error{Kind: KindPermissionDenied, Code: "permission_denied",
		Msg: "only the org's owners change its teams and ACLs"}
	ErrTeamNotFound = &Error{Kind: KindNotFound, Code: "team_not_found",
		Msg: "no team with this name in your org"}
	ErrACLNotFound = &Error{Kind: KindNotFound, Code: "acl_not_found",
		Msg: "no ACL rule is attached to this prefix in your org"}
)

// TeamInUseError refuses deleting a team that ACL rules still name.
type TeamInUseError struct{ Prefixes []LockName }

func (e *TeamInUseError) Error() string {
	ps := make([]string, len(e.Prefixes))
	for i, p := range e.Prefixes {
		ps[i] = string(p)
	}
	return "the ACL rules of " + strings.Join(ps, ", ") + " name this team; change or delete them first"
}

// Unwrap makes TeamInUseError a KindConflict error with code team_in_use.
func (e *TeamInUseError) Unwrap() error { return errTeamInUse }

var errTeamInUse = &Error{Kind: KindConflict, Code: "team_in_use", Msg: "ACL rules name this team"}
