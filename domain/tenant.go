package domain

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
)

// OrgID names a tenant. Every lock lives inside exactly one org, and nothing
// of one org is visible to another.
type OrgID string

// DefaultOrg is the org of a principal configured without one.
const DefaultOrg OrgID = "default"

// ParseOrgID validates s with the same grammar as one name component.
func ParseOrgID(s string) (OrgID, error) {
	if err := checkComponent(s); err != nil {
		return "", Invalid("invalid_org", fmt.Sprintf("org %q: %s", s, err))
	}
	return OrgID(s), nil
}

// Principal is an authenticated caller. A tenant principal acts inside its
// Org; an admin principal has no org and may only use admin routes, so an
// admin credential can never hold a lock.
type Principal struct {
	Org   OrgID
	User  string
	Admin bool
}

// MinTokenBytes is the shortest bearer token accepted in configuration.
const MinTokenBytes = 16

// TokenHash is the SHA-256 of a bearer token. Only hashes are stored.
type TokenHash [sha256.Size]byte

// HashToken returns the hash under which token is stored and looked up.
func HashToken(token string) TokenHash { return sha256.Sum256([]byte(token)) }

// Equal compares two hashes in constant time.
func (h TokenHash) Equal(o TokenHash) bool { return subtle.ConstantTimeCompare(h[:], o[:]) == 1 }

// Credential binds a token hash to the principal it authenticates.
type Credential struct {
	Hash      TokenHash
	Principal Principal
	CreatedAt time.Time // when it was stored (zero: unknown)
}

// ID names the credential in listings and revocations without revealing
// the token: "tok_" and the first 8 bytes of its hash in hex. The hash of
// a 256-bit random token says nothing about the token.
func (c Credential) ID() string { return "tok_" + hex.EncodeToString(c.Hash[:8]) }

// Token errors a client can cause.
var (
	ErrStaticToken = &Error{Kind: KindConflict, Code: "static_token",
		Msg: "this token is configured (static_tokens or admin_token), not stored: change it in the configuration"}
	ErrTokenNotFound = &Error{Kind: KindNotFound, Code: "token_not_found",
		Msg: "no stored token has this id"}
)

// Validate reports the first rule that the credential c breaks: its
// principal must name a user and, unless it is an admin without an org, an
// org that parses (an admin principal has no org, but a valid one is
// tolerated). Storage adapters check every credential they store or load
// with it. The error has no Kind (KindOf reports KindInternal): a record
// that breaks these rules is a bug or corruption, never the client's fault.
func (c Credential) Validate() error {
	if c.Principal.User == "" {
		return errors.New("credential user is empty")
	}
	if c.Principal.Admin && c.Principal.Org == "" {
		return nil
	}
	if _, err := ParseOrgID(string(c.Principal.Org)); err != nil {
		return kindless(err)
	}
	return nil
}

// ParseStaticToken parses one "org/user:token" entry ("user:token" means
// org "default") and checks the token length.
func ParseStaticToken(entry string) (Principal, string, error) {
	who, token, ok := strings.Cut(strings.TrimSpace(entry), ":")
	if !ok || who == "" {
		return Principal{}, "", Invalid("invalid_token_entry", "static token entry must look like org/user:token or user:token")
	}
	org, user := string(DefaultOrg), who
	if o, u, found := strings.Cut(who, "/"); found {
		org, user = o, u
	}
	p, err := ParsePrincipal(org, user)
	if err != nil {
		return Principal{}, "", err
	}
	if len(token) < MinTokenBytes {
		return Principal{}, "", Invalid("token_too_short", fmt.Sprintf("token for %s/%s is shorter than %d characters", org, user, MinTokenBytes))
	}
	return p, token, nil
}

// ParsePrincipal returns the tenant principal user of org, each validated
// with the grammar of one name component. Returns a KindInvalid error coded
// invalid_org or invalid_user.
func ParsePrincipal(org, user string) (Principal, error) {
	orgID, err := ParseOrgID(org)
	if err != nil {
		return Principal{}, err
	}
	if err := checkComponent(user); err != nil {
		return Principal{}, Invalid("invalid_user", fmt.Sprintf("user %q: %s", user, err))
	}
	return Principal{Org: orgID, User: user}, nil
}
