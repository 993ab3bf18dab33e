package domain

import (
	"fmt"
	"strings"
)

// ExternalAccount is a user an identity provider (GitHub) vouched for: its
// login and the provider's orgs it is an active member of.
type ExternalAccount struct {
	Login string
	// Orgs are the account's active org memberships; nil when they were
	// not read (no mapping is configured).
	Orgs []ExternalOrg
}

// ExternalOrg is an active membership of an account in a provider's org.
type ExternalOrg struct {
	Name  string // the provider's org name (GitHub org logins ignore case)
	Admin bool   // the account administers the provider's org
}

// OrgRule maps members of one provider org into one OctoStore org.
type OrgRule struct {
	External string
	Org      OrgID
}

// ParseOrgRule reads "external-org:octostore-org" (a configuration
// entry, so its error is a plain one).
func ParseOrgRule(s string) (OrgRule, error) {
	ext, org, ok := strings.Cut(strings.TrimSpace(s), ":")
	ext, org = strings.TrimSpace(ext), strings.TrimSpace(org)
	if !ok || ext == "" || org == "" {
		return OrgRule{}, fmt.Errorf("%q: want external-org:octostore-org", s)
	}
	id, err := ParseOrgID(org)
	if err != nil {
		return OrgRule{}, fmt.Errorf("%q: %w", s, err)
	}
	return OrgRule{External: ext, Org: id}, nil
}

// OrgMapping decides in which org a signed-in account lands. The zero
// value puts everyone in their personal org.
type OrgMapping struct {
	// Rules are tried in order; the first whose provider org the account
	// is a member of wins.
	Rules []OrgRule
	// Strict refuses an account that matches no rule, instead of letting
	// it into its personal org.
	Strict bool
}

// ErrNoMappedOrg refuses a sign-in whose account is a member of none of
// the mapped orgs while personal orgs are off.
var ErrNoMappedOrg = &Error{Kind: KindPermissionDenied, Code: "oauth_denied",
	Msg: "the account is an active member of none of the mapped orgs, and personal orgs are off"}

// Place returns the org and role a sign-in of a gets, for a user that is
// not in that org yet (an existing member keeps its role):
//   - the org of the first rule whose provider org a is an active member
//     of, as an owner when a administers that provider org, else a member;
//   - otherwise the personal org, named by the login in lower case, as its
//     owner;
//   - or ErrNoMappedOrg when m is strict.
//
// The org name is not validated here (the sign-in does it).
func (m OrgMapping) Place(a ExternalAccount) (OrgID, Role, error) {
	for _, r := range m.Rules {
		for _, o := range a.Orgs {
			if !strings.EqualFold(o.Name, r.External) {
				continue
			}
			if o.Admin {
				return r.Org, RoleOwner, nil
			}
			return r.Org, RoleMember, nil
		}
	}
	if m.Strict {
		return "", "", ErrNoMappedOrg
	}
	return OrgID(strings.ToLower(a.Login)), RoleOwner, nil
}
