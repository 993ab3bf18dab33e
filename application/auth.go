package application

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// AuthService authenticates bearer tokens. Configured tokens arrive hashed
// and are never stored; generated tokens are stored as
// hashes only. A token is shown once, when it is generated.
type AuthService struct {
	e      *Engine
	static map[domain.TokenHash]domain.Principal
	// lastUsed is when each stored credential last authenticated a
	// request (Unix ms), since this process started; kept in memory, as
	// writing it would cost a commit per request.
	lastUsed sync.Map // domain.TokenHash -> *atomic.Int64
}

// NewAuthService returns an authenticator for the configured credentials
// (static user tokens and the admin token, already hashed) plus the
// credentials stored in e.
func NewAuthService(e *Engine, configured []domain.Credential) *AuthService {
	m := make(map[domain.TokenHash]domain.Principal, len(configured))
	for _, c := range configured {
		m[c.Hash] = c.Principal
	}
	return &AuthService{e: e, static: m}
}

// AdminPrincipal is the principal of an admin token.
var AdminPrincipal = domain.Principal{User: "admin", Admin: true}

// Authenticate returns the principal of token, or ErrUnauthenticated. The
// token is looked up by its SHA-256 hash and the hash compared in constant
// time, so neither the stored value nor the timing reveals the token.
func (a *AuthService) Authenticate(token string) (domain.Principal, error) {
	if token == "" {
		return domain.Principal{}, domain.ErrUnauthenticated
	}
	h := domain.HashToken(token)
	if p, ok := a.static[h]; ok {
		return p, nil
	}
	if c, ok := a.e.credential(h); ok && c.Hash.Equal(h) {
		a.touch(h)
		return c.Principal, nil
	}
	return domain.Principal{}, domain.ErrUnauthenticated
}

// configuredOrgs returns the orgs the configured tenant tokens name, each
// once, in no particular order.
func (a *AuthService) configuredOrgs() []domain.OrgID {
	seen := map[domain.OrgID]bool{}
	var out []domain.OrgID
	for _, p := range a.static {
		if !p.Admin && !seen[p.Org] {
			seen[p.Org] = true
			out = append(out, p.Org)
		}
	}
	return out
}

func (a *AuthService) touch(h domain.TokenHash) {
	now := a.e.now().UnixMilli()
	if v, ok := a.lastUsed.Load(h); ok {
		v.(*atomic.Int64).Store(now)
		return
	}
	v := new(atomic.Int64)
	v.Store(now)
	a.lastUsed.Store(h, v)
}

// Rotate replaces the stored token the caller authenticated with by a new
// one for the same principal, in one commit: the old token stops working
// when the new one is returned. A configured token is rotated in the
// configuration: ErrStaticToken. Returns ErrUnauthenticated when the token
// is not (or no longer) valid.
func (a *AuthService) Rotate(ctx context.Context, token string) (GeneratedToken, TokenInfo, error) {
	h := domain.HashToken(token)
	if _, ok := a.static[h]; ok {
		return GeneratedToken{}, TokenInfo{}, domain.ErrStaticToken
	}
	t := mint()
	err := a.e.submit(ctx, func(x *txn) error {
		old, ok := a.e.credential(h)
		if !ok || x.revokedInBatch(h) {
			return domain.ErrUnauthenticated
		}
		t.store(x, old.Principal)
		x.revokeCredential(h)
		return nil
	})
	if err != nil {
		return GeneratedToken{}, TokenInfo{}, err
	}
	return t.generated(), t.info(), nil
}

// TokenInfo describes a stored token without revealing it.
type TokenInfo struct {
	ID         string
	Principal  domain.Principal
	CreatedAt  time.Time // zero when unknown (stored before it was recorded)
	LastUsedAt time.Time // zero when not used since this server started
}

// Tokens lists the stored tokens, for the admin: those of org (all orgs
// when empty) and user (all users when empty), by principal and creation.
// Configured tokens are not stored and not listed.
func (a *AuthService) Tokens(_ context.Context, p domain.Principal, org domain.OrgID, user string) ([]TokenInfo, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	out := []TokenInfo{}
	for _, c := range a.e.creds.all() {
		if org != "" && c.Principal.Org != org || user != "" && c.Principal.User != user {
			continue
		}
		info := TokenInfo{ID: c.ID(), Principal: c.Principal, CreatedAt: c.CreatedAt}
		if v, ok := a.lastUsed.Load(c.Hash); ok {
			info.LastUsedAt = time.UnixMilli(v.(*atomic.Int64).Load()).UTC()
		}
		out = append(out, info)
	}
	slices.SortFunc(out, func(x, y TokenInfo) int {
		return cmp.Or(cmp.Compare(x.Principal.Org, y.Principal.Org), cmp.Compare(x.Principal.User, y.Principal.User),
			x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
	})
	return out, nil
}

// Revoke removes the stored token with that id; it stops working with the
// commit, and watch streams opened with it end. Returns ErrTokenNotFound.
func (a *AuthService) Revoke(ctx context.Context, p domain.Principal, id string) error {
	if !p.Admin {
		return domain.ErrAdminOnly
	}
	return a.e.submit(ctx, func(x *txn) error {
		for _, c := range a.e.creds.all() {
			if c.ID() == id && !x.revokedInBatch(c.Hash) {
				x.revokeCredential(c.Hash)
				return nil
			}
		}
		return domain.ErrTokenNotFound
	})
}

// Issue makes another token for the tenant principal org/user, for the
// admin. The token is shown once.
func (a *AuthService) Issue(ctx context.Context, p domain.Principal, org, user string) (GeneratedToken, TokenInfo, error) {
	if !p.Admin {
		return GeneratedToken{}, TokenInfo{}, domain.ErrAdminOnly
	}
	who, err := domain.ParsePrincipal(org, user)
	if err != nil {
		return GeneratedToken{}, TokenInfo{}, err
	}
	t := mint()
	err = a.e.submit(ctx, func(x *txn) error {
		t.store(x, who)
		return nil
	})
	if err != nil {
		return GeneratedToken{}, TokenInfo{}, err
	}
	return t.generated(), t.info(), nil
}

// GeneratedToken is a token made at first start, shown to the operator once.
type GeneratedToken struct {
	Principal domain.Principal
	Token     string
}

// errAlreadyConfigured stops first-start generation when credentials exist.
var errAlreadyConfigured = errors.New("credentials exist")

// EnsureCredentials makes the service usable with zero configuration: when
// no token is configured and none is stored, it generates an admin token and
// a token for user "admin" of org "default", stores their hashes durably and
// returns the tokens so the caller can show them once. Otherwise it returns
// nil. The check and the store happen in one writer decision, so two
// starts can never both generate.
func (a *AuthService) EnsureCredentials(ctx context.Context) ([]GeneratedToken, error) {
	if len(a.static) > 0 {
		return nil, nil
	}
	admin, user := mint(), mint()
	err := a.e.submit(ctx, func(x *txn) error {
		if a.e.hasCredentials() {
			return errAlreadyConfigured
		}
		admin.store(x, AdminPrincipal)
		user.store(x, domain.Principal{Org: domain.DefaultOrg, User: "admin"})
		return nil
	})
	if errors.Is(err, errAlreadyConfigured) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return []GeneratedToken{admin.generated(), user.generated()}, nil
}

// CreateToken mints a new token for the tenant principal p and stores its
// hash in j, for an operator who lost a token; it is the offline
// counterpart of EnsureCredentials and must only run while no engine uses
// j. It loads the committed state first, so a database the server would
// refuse is refused here too, then commits one batch holding a single
// domain.CredentialAdded, which leaves the fencing counter and the
// last-alive time as they were: what expired while the server was down
// still gets its restart grace. The returned token is shown once and never
// stored. Returns an error if p breaks domain.Credential.Validate or is an
// admin, or if j cannot load or commit.
func CreateToken(ctx context.Context, j ports.Journal, p domain.Principal) (GeneratedToken, error) {
	if p.Admin {
		return GeneratedToken{}, errors.New("create token: only tenant tokens can be created")
	}
	t := mint()
	c := t.credential(p, time.Now())
	if err := c.Validate(); err != nil {
		return GeneratedToken{}, fmt.Errorf("create token: %w", err)
	}
	if _, err := j.Load(ctx); err != nil {
		return GeneratedToken{}, fmt.Errorf("create token: %w", err)
	}
	if err := j.Commit(ctx, domain.Batch{Changes: []domain.Change{domain.CredentialAdded{Credential: c}}}); err != nil {
		return GeneratedToken{}, fmt.Errorf("create token: %w", err)
	}
	return t.generated(), nil
}

// StoredTokens lists the tokens stored in j (offline, like CreateToken):
// those of org and user when they are not empty, as Tokens orders them,
// without last use (only a running server knows it).
func StoredTokens(ctx context.Context, j ports.Journal, org domain.OrgID, user string) ([]TokenInfo, error) {
	snap, err := j.Load(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens: %w", err)
	}
	out := []TokenInfo{}
	for _, c := range snap.Credentials {
		if org != "" && c.Principal.Org != org || user != "" && c.Principal.User != user {
			continue
		}
		out = append(out, TokenInfo{ID: c.ID(), Principal: c.Principal, CreatedAt: c.CreatedAt})
	}
	slices.SortFunc(out, func(x, y TokenInfo) int {
		return cmp.Or(cmp.Compare(x.Principal.Org, y.Principal.Org), cmp.Compare(x.Principal.User, y.Principal.User),
			x.CreatedAt.Compare(y.CreatedAt), cmp.Compare(x.ID, y.ID))
	})
	return out, nil
}

// RevokeStoredToken revokes the token with that id in j (offline, like
// CreateToken). Returns ErrTokenNotFound.
func RevokeStoredToken(ctx context.Context, j ports.Journal, id string) (TokenInfo, error) {
	snap, err := j.Load(ctx)
	if err != nil {
		return TokenInfo{}, fmt.Errorf("revoke token: %w", err)
	}
	for _, c := range snap.Credentials {
		if c.ID() != id {
			continue
		}
		if err := j.Commit(ctx, domain.Batch{Changes: []domain.Change{domain.CredentialRevoked{Hash: c.Hash}}}); err != nil {
			return TokenInfo{}, fmt.Errorf("revoke token: %w", err)
		}
		return TokenInfo{ID: id, Principal: c.Principal, CreatedAt: c.CreatedAt}, nil
	}
	return TokenInfo{}, domain.ErrTokenNotFound
}

// minted is a new token: shown once to whoever asked for it, stored only
// as the hash in its credential. Every way of making a token goes through
// it, so that they all store the same thing.
type minted struct {
	token string
	cred  domain.Credential
}

// mint makes a token; its random part is drawn before the writer decides.
func mint() *minted {
	t := newToken()
	return &minted{token: t, cred: domain.Credential{Hash: domain.HashToken(t)}}
}

// credential binds the token to p, made at at.
func (m *minted) credential(p domain.Principal, at time.Time) domain.Credential {
	m.cred.Principal, m.cred.CreatedAt = p, at
	return m.cred
}

// store adds the token of p to the batch, made now.
func (m *minted) store(x *txn, p domain.Principal) {
	x.add(domain.CredentialAdded{Credential: m.credential(p, x.now)})
}

// generated is the token to show, with its principal.
func (m *minted) generated() GeneratedToken {
	return GeneratedToken{Principal: m.cred.Principal, Token: m.token}
}

// info describes the stored token.
func (m *minted) info() TokenInfo {
	return TokenInfo{ID: m.cred.ID(), Principal: m.cred.Principal, CreatedAt: m.cred.CreatedAt}
}

// newToken returns a 256-bit random bearer token.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return "octo_" + base64.RawURLEncoding.EncodeToString(b[:])
}
