package domain

import "time"

// Role is what a user may do in its org beyond using locks: owners manage
// the org's teams and ACLs.
type Role string

// The roles.
const (
	RoleMember Role = "member"
	RoleOwner  Role = "owner"
)

// ParseRole validates a role; "" means member.
func ParseRole(s string) (Role, error) {
	switch Role(s) {
	case "", RoleMember:
		return RoleMember, nil
	case RoleOwner:
		return RoleOwner, nil
	}
	return "", ErrInvalidRole
}

// Org is an org an admin registered. Orgs also exist implicitly, through
// the tokens of their users.
type Org struct {
	ID        OrgID
	CreatedAt time.Time
}

// Member is a user an admin added to an org, with its role.
type Member struct {
	Org     OrgID
	User    string
	Role    Role
	AddedAt time.Time
}

// OrgCreated registers an org.
type OrgCreated struct{ Org Org }

// MemberSaved adds a user to an org or changes its role.
type MemberSaved struct{ Member Member }

func (OrgCreated) isChange()  {}
func (MemberSaved) isChange() {}

// Org errors a client can cause.
var (
	ErrOrgExists = &Error{Kind: KindConflict, Code: "org_exists",
		Msg: "an org with this name is registered already"}
	ErrOrgNotFound = &Error{Kind: KindNotFound, Code: "org_not_found",
		Msg: "no org with this name is registered; create it with POST /admin/orgs"}
	ErrUserExists = &Error{Kind: KindConflict, Code: "user_exists",
		Msg: "this user is in the org already; issue another token with POST /admin/orgs/{org}/users/{user}/tokens"}
	ErrInvalidRole = Invalid("invalid_role", "role must be member or owner")
)

// ErrInvalidExchangeCode refuses a one-time exchange code that is unknown,
// expired or used already.
var ErrInvalidExchangeCode = Invalid("invalid_exchange_code",
	"the exchange code is unknown, expired or used already; sign in again")
