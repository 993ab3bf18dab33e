package application

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// OrgService holds the admin's org use cases: register orgs and add users
// with a role (owners will manage the org's teams and ACLs). Changes go
// through the writer; reads come from memory.
type OrgService struct {
	e    *Engine
	auth *AuthService
}

// NewOrgService returns the org use cases backed by e. auth, when not
// nil, tells which orgs the configured tokens name, for the listing.
func NewOrgService(e *Engine, auth *AuthService) *OrgService { return &OrgService{e: e, auth: auth} }

// OrgSource says how the server knows an org.
type OrgSource string

// The sources of an org, in the order that names it when several apply.
const (
	// OrgRegistered: registered by the admin, the CLI or a sign-in.
	OrgRegistered OrgSource = "registered"
	// OrgStatic: not registered, named by a configured (static) token.
	OrgStatic OrgSource = "static"
	// OrgTokens: not registered, named only by stored tokens (made at
	// first start, by the CLI or the admin API).
	OrgTokens OrgSource = "tokens"
)

// OrgInfo is an org the server knows and how many users were added to it.
// An org known only through tokens has a zero CreatedAt and no members.
type OrgInfo struct {
	Org     domain.Org
	Members int
	Source  OrgSource
}

// UserInfo is a member of an org and how many stored tokens it has.
type UserInfo struct {
	Member domain.Member
	Tokens int
}

// CreateOrg registers an org. Returns ErrOrgExists, an invalid_org error,
// or ErrAdminOnly for a tenant.
func (s *OrgService) CreateOrg(ctx context.Context, p domain.Principal, name string) (domain.Org, error) {
	if !p.Admin {
		return domain.Org{}, domain.ErrAdminOnly
	}
	id, err := domain.ParseOrgID(name)
	if err != nil {
		return domain.Org{}, err
	}
	return do(ctx, s.e, func(x *txn) (domain.Org, error) {
		if _, ok := s.e.orgs.org(id); ok || x.orgInBatch(id) {
			return domain.Org{}, domain.ErrOrgExists
		}
		o := domain.Org{ID: id, CreatedAt: x.now}
		x.add(domain.OrgCreated{Org: o})
		return o, nil
	})
}

// Orgs lists the orgs the server knows, by name: the registered ones
// (OrgRegistered) and those named only by tokens, configured (OrgStatic)
// or stored (OrgTokens). Returns ErrAdminOnly for a tenant.
func (s *OrgService) Orgs(_ context.Context, p domain.Principal) ([]OrgInfo, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	out := s.e.orgs.list()
	unregistered := map[domain.OrgID]OrgSource{}
	for _, c := range s.e.creds.all() {
		if !c.Principal.Admin {
			unregistered[c.Principal.Org] = OrgTokens
		}
	}
	if s.auth != nil {
		for _, org := range s.auth.configuredOrgs() {
			unregistered[org] = OrgStatic
		}
	}
	for _, o := range out {
		delete(unregistered, o.Org.ID)
	}
	for org, src := range unregistered {
		out = append(out, OrgInfo{Org: domain.Org{ID: org}, Source: src})
	}
	slices.SortFunc(out, func(a, b OrgInfo) int { return cmp.Compare(a.Org.ID, b.Org.ID) })
	return out, nil
}

// AddUser adds user to the registered org with role and makes its first
// token, in one commit; the token is shown once. Returns ErrOrgNotFound,
// ErrUserExists, invalid_user or ErrInvalidRole.
func (s *OrgService) AddUser(ctx context.Context, p domain.Principal, org, user, role string) (domain.Member, GeneratedToken, TokenInfo, error) {
	if !p.Admin {
		return domain.Member{}, GeneratedToken{}, TokenInfo{}, domain.ErrAdminOnly
	}
	who, err := domain.ParsePrincipal(org, user)
	if err != nil {
		return domain.Member{}, GeneratedToken{}, TokenInfo{}, err
	}
	r, err := domain.ParseRole(role)
	if err != nil {
		return domain.Member{}, GeneratedToken{}, TokenInfo{}, err
	}
	t := mint()
	m, err := do(ctx, s.e, func(x *txn) (domain.Member, error) {
		if _, ok := s.e.orgs.org(who.Org); !ok && !x.orgInBatch(who.Org) {
			return domain.Member{}, domain.ErrOrgNotFound
		}
		if _, ok := s.e.orgs.member(who.Org, who.User); ok || x.memberInBatch(who.Org, who.User) {
			return domain.Member{}, domain.ErrUserExists
		}
		m := domain.Member{Org: who.Org, User: who.User, Role: r, AddedAt: x.now}
		x.add(domain.MemberSaved{Member: m})
		t.store(x, who)
		return m, nil
	})
	if err != nil {
		return domain.Member{}, GeneratedToken{}, TokenInfo{}, err
	}
	return m, t.generated(), t.info(), nil
}

// Users lists the users added to the registered org, by name. Returns
// ErrOrgNotFound.
func (s *OrgService) Users(_ context.Context, p domain.Principal, org string) ([]UserInfo, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	id, err := domain.ParseOrgID(org)
	if err != nil {
		return nil, err
	}
	if _, ok := s.e.orgs.org(id); !ok {
		return nil, domain.ErrOrgNotFound
	}
	tokens := map[string]int{}
	for _, c := range s.e.creds.all() {
		if c.Principal.Org == id {
			tokens[c.Principal.User]++
		}
	}
	ms := s.e.orgs.membersOf(id)
	out := make([]UserInfo, len(ms))
	for i, m := range ms {
		out[i] = UserInfo{Member: m, Tokens: tokens[m.User]}
	}
	return out, nil
}

// orgTable is the committed orgs and members, in memory.
type orgTable struct {
	mu      sync.RWMutex
	orgs    map[domain.OrgID]domain.Org
	members map[domain.OrgID]map[string]domain.Member
}

func newOrgTable() *orgTable {
	return &orgTable{orgs: make(map[domain.OrgID]domain.Org), members: make(map[domain.OrgID]map[string]domain.Member)}
}

func (t *orgTable) restore(orgs []domain.Org, members []domain.Member) {
	changes := make([]domain.Change, 0, len(orgs)+len(members))
	for _, o := range orgs {
		changes = append(changes, domain.OrgCreated{Org: o})
	}
	for _, m := range members {
		changes = append(changes, domain.MemberSaved{Member: m})
	}
	t.apply(changes)
}

func (t *orgTable) apply(changes []domain.Change) {
	if !slices.ContainsFunc(changes, func(c domain.Change) bool {
		switch c.(type) {
		case domain.OrgCreated, domain.MemberSaved:
			return true
		}
		return false
	}) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.OrgCreated:
			t.orgs[c.Org.ID] = c.Org
		case domain.MemberSaved:
			m := c.Member
			if t.members[m.Org] == nil {
				t.members[m.Org] = make(map[string]domain.Member)
			}
			if old, ok := t.members[m.Org][m.User]; ok {
				m.AddedAt = old.AddedAt
			}
			t.members[m.Org][m.User] = m
		}
	}
}

func (t *orgTable) org(id domain.OrgID) (domain.Org, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	o, ok := t.orgs[id]
	return o, ok
}

func (t *orgTable) member(org domain.OrgID, user string) (domain.Member, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m, ok := t.members[org][user]
	return m, ok
}

func (t *orgTable) list() []OrgInfo {
	t.mu.RLock()
	out := make([]OrgInfo, 0, len(t.orgs))
	for id, o := range t.orgs {
		out = append(out, OrgInfo{Org: o, Members: len(t.members[id]), Source: OrgRegistered})
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b OrgInfo) int { return cmp.Compare(a.Org.ID, b.Org.ID) })
	return out
}

func (t *orgTable) membersOf(org domain.OrgID) []domain.Member {
	t.mu.RLock()
	out := make([]domain.Member, 0, len(t.members[org]))
	for _, m := range t.members[org] {
		out = append(out, m)
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.Member) int { return cmp.Compare(a.User, b.User) })
	return out
}

// orgInBatch reports whether an earlier request of this batch registered org.
func (x *txn) orgInBatch(org domain.OrgID) bool {
	for _, c := range x.changes {
		if o, ok := c.(domain.OrgCreated); ok && o.Org.ID == org {
			return true
		}
	}
	return false
}

// memberInBatch reports whether an earlier request of this batch added user.
func (x *txn) memberInBatch(org domain.OrgID, user string) bool {
	for _, c := range x.changes {
		if m, ok := c.(domain.MemberSaved); ok && m.Member.Org == org && m.Member.User == user {
			return true
		}
	}
	return false
}

// CreateOrgOffline registers an org in j while no engine uses it (the
// offline counterpart of CreateOrg, like CreateToken). Returns
// ErrOrgExists or an invalid_org error.
func CreateOrgOffline(ctx context.Context, j ports.Journal, name string, now time.Time) (domain.Org, error) {
	id, err := domain.ParseOrgID(name)
	if err != nil {
		return domain.Org{}, err
	}
	snap, err := j.Load(ctx)
	if err != nil {
		return domain.Org{}, fmt.Errorf("create org: %w", err)
	}
	if slices.ContainsFunc(snap.Orgs, func(o domain.Org) bool { return o.ID == id }) {
		return domain.Org{}, domain.ErrOrgExists
	}
	o := domain.Org{ID: id, CreatedAt: now}
	if err := j.Commit(ctx, domain.Batch{Changes: []domain.Change{domain.OrgCreated{Org: o}}}); err != nil {
		return domain.Org{}, fmt.Errorf("create org: %w", err)
	}
	return o, nil
}

// AddUserOffline adds a user with a role to a registered org in j and
// stores its first token, in one commit, while no engine uses j (the
// offline counterpart of AddUser). The token is returned, to be shown once.
func AddUserOffline(ctx context.Context, j ports.Journal, org, user, role string, now time.Time) (domain.Member, GeneratedToken, error) {
	who, err := domain.ParsePrincipal(org, user)
	if err != nil {
		return domain.Member{}, GeneratedToken{}, err
	}
	r, err := domain.ParseRole(role)
	if err != nil {
		return domain.Member{}, GeneratedToken{}, err
	}
	snap, err := j.Load(ctx)
	if err != nil {
		return domain.Member{}, GeneratedToken{}, fmt.Errorf("add user: %w", err)
	}
	if !slices.ContainsFunc(snap.Orgs, func(o domain.Org) bool { return o.ID == who.Org }) {
		return domain.Member{}, GeneratedToken{}, domain.ErrOrgNotFound
	}
	if slices.ContainsFunc(snap.Members, func(m domain.Member) bool { return m.Org == who.Org && m.User == who.User }) {
		return domain.Member{}, GeneratedToken{}, domain.ErrUserExists
	}
	t := mint()
	m := domain.Member{Org: who.Org, User: who.User, Role: r, AddedAt: now}
	c := t.credential(who, now)
	if err := j.Commit(ctx, domain.Batch{Changes: []domain.Change{domain.MemberSaved{Member: m}, domain.CredentialAdded{Credential: c}}}); err != nil {
		return domain.Member{}, GeneratedToken{}, fmt.Errorf("add user: %w", err)
	}
	return m, t.generated(), nil
}
