package application

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
)

// ExchangeCodeTTL is how long a one-time exchange code can be traded for
// its token.
const ExchangeCodeTTL = 60 * time.Second

// EnsureMember makes user a member of the org named org with role,
// registering the org and adding the user when they are missing, and
// issues the user a new token, all in one writer decision. It is for
// sign-in through an identity provider: the caller must have authenticated
// the user, so it takes no principal. An existing member keeps its role.
// Returns invalid_org or invalid_user for names that break the rules, or
// ErrUnavailable.
func (s *OrgService) EnsureMember(ctx context.Context, org, user string, role domain.Role) (domain.Member, GeneratedToken, TokenInfo, error) {
	who, err := domain.ParsePrincipal(org, user)
	if err != nil {
		return domain.Member{}, GeneratedToken{}, TokenInfo{}, err
	}
	t := mint()
	m, err := do(ctx, s.e, func(x *txn) (domain.Member, error) {
		if _, ok := s.e.orgs.org(who.Org); !ok && !x.orgInBatch(who.Org) {
			x.add(domain.OrgCreated{Org: domain.Org{ID: who.Org, CreatedAt: x.now}})
		}
		m, ok := s.e.orgs.member(who.Org, who.User)
		if !ok && !x.memberInBatch(who.Org, who.User) {
			m = domain.Member{Org: who.Org, User: who.User, Role: role, AddedAt: x.now}
			x.add(domain.MemberSaved{Member: m})
		}
		t.store(x, who)
		return m, nil
	})
	if err != nil {
		return domain.Member{}, GeneratedToken{}, TokenInfo{}, err
	}
	return m, t.generated(), t.info(), nil
}

// LoginService signs in users whom an identity provider (GitHub) vouched
// for. A token never travels in a URL: sign-in answers a one-time exchange
// code, which the client trades for the token with Exchange. The codes are
// kept in memory only (a restart voids them; the user signs in again) and
// expire after ExchangeCodeTTL on the engine's clock.
type LoginService struct {
	e      *Engine
	orgs   *OrgService
	places domain.OrgMapping

	mu    sync.Mutex
	codes map[[sha256.Size]byte]pendingLogin // by the code's hash
}

// pendingLogin is a token waiting for its exchange code.
type pendingLogin struct {
	token   GeneratedToken
	info    TokenInfo
	expires time.Time
}

// NewLoginService returns the sign-in use cases backed by e and orgs;
// places decides the org of each account (the zero value: its personal
// org).
func NewLoginService(e *Engine, orgs *OrgService, places domain.OrgMapping) *LoginService {
	return &LoginService{e: e, orgs: orgs, places: places, codes: make(map[[sha256.Size]byte]pendingLogin)}
}

// SignIn signs in the external account a: its user is the login, in the
// org and with the role the service's OrgMapping places it (see
// OrgMapping.Place and OrgService.EnsureMember), and it gets a new token,
// returned only through the one-time exchange code this returns. Returns
// ErrNoMappedOrg when the mapping refuses a, invalid_org or invalid_user
// for a login that is not a valid name, or ErrUnavailable.
func (s *LoginService) SignIn(ctx context.Context, a domain.ExternalAccount) (string, error) {
	org, role, err := s.places.Place(a)
	if err != nil {
		return "", err
	}
	_, g, info, err := s.orgs.EnsureMember(ctx, string(org), a.Login, role)
	if err != nil {
		return "", err
	}
	code := newExchangeCode()
	now := s.e.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for h, p := range s.codes {
		if !now.Before(p.expires) {
			delete(s.codes, h)
		}
	}
	s.codes[sha256.Sum256([]byte(code))] = pendingLogin{token: g, info: info, expires: now.Add(ExchangeCodeTTL)}
	return code, nil
}

// Exchange trades a code SignIn returned for its token, once: a code works
// a single time, within ExchangeCodeTTL. Returns ErrInvalidExchangeCode
// for a code that is unknown, expired or used already.
func (s *LoginService) Exchange(_ context.Context, code string) (GeneratedToken, TokenInfo, error) {
	// Looked up by hash, so the map's timing says nothing about the codes.
	h := sha256.Sum256([]byte(code))
	s.mu.Lock()
	p, ok := s.codes[h]
	delete(s.codes, h)
	s.mu.Unlock()
	if !ok || !s.e.now().Before(p.expires) {
		return GeneratedToken{}, TokenInfo{}, domain.ErrInvalidExchangeCode
	}
	return p.token, p.info, nil
}

// newExchangeCode returns a 256-bit random one-time code.
func newExchangeCode() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}
