package application

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/octostore/octostore/domain"
)

// AccessService holds the org owners' use cases: teams and the ACL rules
// that say who may acquire and who may observe each prefix of the org's
// names. Changes go through the writer; checks and reads come from memory.
type AccessService struct {
	e *Engine
}

// NewAccessService returns the team and ACL use cases backed by e.
func NewAccessService(e *Engine) *AccessService { return &AccessService{e: e} }

// owner refuses anyone but an owner of its org (and the admin, who has no
// org to act in).
func (s *AccessService) owner(p domain.Principal) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	if m, ok := s.e.orgs.member(p.Org, p.User); !ok || m.Role != domain.RoleOwner {
		return domain.ErrOwnerOnly
	}
	return nil
}

// PutTeam creates or replaces a team of the caller's org (owners only).
func (s *AccessService) PutTeam(ctx context.Context, p domain.Principal, name string, members []string) (domain.Team, error) {
	if err := s.owner(p); err != nil {
		return domain.Team{}, err
	}
	return do(ctx, s.e, func(x *txn) (domain.Team, error) {
		t, err := domain.NewTeam(p.Org, name, members, x.now)
		if err != nil {
			return domain.Team{}, err
		}
		teams, _ := x.access(p.Org)
		if _, ok := teams[t.Name]; !ok && len(teams) >= domain.MaxTeamsPerOrg {
			return domain.Team{}, &domain.QuotaExceededError{Quota: "teams", Limit: domain.MaxTeamsPerOrg}
		}
		x.add(domain.TeamSaved{Team: t})
		return t, nil
	})
}

// DeleteTeam removes a team (owners only). A team that ACL rules still
// name is kept: a *domain.TeamInUseError says which rules name it.
func (s *AccessService) DeleteTeam(ctx context.Context, p domain.Principal, name string) error {
	if err := s.owner(p); err != nil {
		return err
	}
	return s.e.submit(ctx, func(x *txn) error {
		teams, acls := x.access(p.Org)
		if _, ok := teams[name]; !ok {
			return domain.ErrTeamNotFound
		}
		var using []domain.LockName
		for _, a := range acls {
			if slices.Contains(a.Teams(), name) {
				using = append(using, a.Prefix)
			}
		}
		if len(using) > 0 {
			slices.Sort(using)
			return &domain.TeamInUseError{Prefixes: using}
		}
		x.add(domain.TeamDeleted{Org: p.Org, Name: name})
		return nil
	})
}

// Teams lists the teams of the caller's org by name; every member may read
// them.
func (s *AccessService) Teams(_ context.Context, p domain.Principal) ([]domain.Team, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	return s.e.access.teamsOf(p.Org), nil
}

// Team returns one team of the caller's org.
func (s *AccessService) Team(_ context.Context, p domain.Principal, name string) (domain.Team, error) {
	if p.Admin {
		return domain.Team{}, domain.ErrAdminNotTenant
	}
	t, ok := s.e.access.team(p.Org, name)
	if !ok {
		return domain.Team{}, domain.ErrTeamNotFound
	}
	return t, nil
}

// PutACL attaches a rule to a prefix of the caller's org, replacing the
// one there (owners only). A nil list grants every member; every team it
// names must exist.
func (s *AccessService) PutACL(ctx context.Context, p domain.Principal, prefix string, acquire, observe []string) (domain.ACL, error) {
	if err := s.owner(p); err != nil {
		return domain.ACL{}, err
	}
	return do(ctx, s.e, func(x *txn) (domain.ACL, error) {
		a, err := domain.NewACL(p.Org, prefix, acquire, observe, p.User, x.now)
		if err != nil {
			return domain.ACL{}, err
		}
		teams, acls := x.access(p.Org)
		for _, t := range a.Teams() {
			if _, ok := teams[t]; !ok {
				return domain.ACL{}, domain.Invalid("invalid_principal",
					fmt.Sprintf("principal %q: no team %q in your org; create it with PUT /teams/%s", "team:"+t, t, t))
			}
		}
		if _, ok := acls[a.Prefix]; !ok && len(acls) >= domain.MaxRulesPerOrg {
			return domain.ACL{}, &domain.QuotaExceededError{Quota: "acls", Limit: domain.MaxRulesPerOrg}
		}
		x.add(domain.ACLSaved{ACL: a})
		return a, nil
	})
}

// DeleteACL removes the rule of a prefix (owners only); the next broader
// rule, or none, decides for its names again.
func (s *AccessService) DeleteACL(ctx context.Context, p domain.Principal, prefix domain.LockName) error {
	if err := s.owner(p); err != nil {
		return err
	}
	return s.e.submit(ctx, func(x *txn) error {
		if _, acls := x.access(p.Org); acls[prefix].Prefix == "" {
			return domain.ErrACLNotFound
		}
		x.add(domain.ACLDeleted{Org: p.Org, Prefix: prefix})
		return nil
	})
}

// ACLs lists the rules of the caller's org by prefix; every member may
// read them.
func (s *AccessService) ACLs(_ context.Context, p domain.Principal) ([]domain.ACL, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	return s.e.access.aclsOf(p.Org), nil
}

// ACL returns the rule attached to exactly prefix.
func (s *AccessService) ACL(_ context.Context, p domain.Principal, prefix domain.LockName) (domain.ACL, error) {
	if p.Admin {
		return domain.ACL{}, domain.ErrAdminNotTenant
	}
	a, ok := s.e.access.acl(p.Org, prefix)
	if !ok {
		return domain.ACL{}, domain.ErrACLNotFound
	}
	return a, nil
}

// permit returns ErrPermissionDenied unless the org's rules let p do
// action on name. It reads the committed rules: O(depth of name) map
// lookups, none when the org has no rules.
func (e *Engine) permit(p domain.Principal, name domain.LockName, action domain.Action) error {
	if !e.allows(p, name, action) {
		return domain.ErrPermissionDenied
	}
	return nil
}

// allows reports whether the org's rules let p do action on name.
func (e *Engine) allows(p domain.Principal, name domain.LockName, action domain.Action) bool {
	return e.access.policy(p.Org).Allows(p.User, name, action)
}

// observes reports whether p may see ev: events without a name (none
// is published) are decided by Visible alone.
func (e *Engine) observes(p domain.Principal, ev domain.Event) bool {
	return ev.Name == "" || e.allows(p, ev.Name, domain.ActionObserve)
}

// accessTable is the committed teams and rules. Checks read policies, an
// immutable map of per-org prepared rules swapped whole on every change,
// so the hot path takes no lock; listings read the tables under mu.
type accessTable struct {
	mu       sync.RWMutex
	teams    map[domain.OrgID]map[string]domain.Team
	acls     map[domain.OrgID]map[domain.LockName]domain.ACL
	policies atomic.Pointer[map[domain.OrgID]*domain.Policy]
}

func newAccessTable() *accessTable {
	t := &accessTable{
		teams: make(map[domain.OrgID]map[string]domain.Team),
		acls:  make(map[domain.OrgID]map[domain.LockName]domain.ACL),
	}
	t.policies.Store(&map[domain.OrgID]*domain.Policy{})
	return t
}

// policy returns the org's prepared rules (nil when it has none).
func (t *accessTable) policy(org domain.OrgID) *domain.Policy { return (*t.policies.Load())[org] }

func (t *accessTable) restore(teams []domain.Team, acls []domain.ACL) {
	changes := make([]domain.Change, 0, len(teams)+len(acls))
	for _, tm := range teams {
		changes = append(changes, domain.TeamSaved{Team: tm})
	}
	for _, a := range acls {
		changes = append(changes, domain.ACLSaved{ACL: a})
	}
	t.apply(changes)
}

// apply folds committed changes in and rebuilds the policies of the orgs
// they touched.
func (t *accessTable) apply(changes []domain.Change) {
	var touched map[domain.OrgID]bool
	touch := func(org domain.OrgID) {
		if touched == nil {
			touched = make(map[domain.OrgID]bool)
			t.mu.Lock()
		}
		touched[org] = true
	}
	for _, c := range changes {
		switch c := c.(type) {
		case domain.TeamSaved:
			touch(c.Team.Org)
			setIn(t.teams, c.Team.Org, c.Team.Name, c.Team)
		case domain.TeamDeleted:
			touch(c.Org)
			delete(t.teams[c.Org], c.Name)
		case domain.ACLSaved:
			touch(c.ACL.Org)
			setIn(t.acls, c.ACL.Org, c.ACL.Prefix, c.ACL)
		case domain.ACLDeleted:
			touch(c.Org)
			delete(t.acls[c.Org], c.Prefix)
		}
	}
	if touched == nil {
		return
	}
	defer t.mu.Unlock()
	next := maps.Clone(*t.policies.Load())
	for org := range touched {
		if len(t.acls[org]) == 0 {
			delete(next, org)
			continue
		}
		next[org] = domain.NewPolicy(slices.Collect(maps.Values(t.teams[org])), slices.Collect(maps.Values(t.acls[org])))
	}
	t.policies.Store(&next)
}

func setIn[K comparable, V any](m map[domain.OrgID]map[K]V, org domain.OrgID, k K, v V) {
	if m[org] == nil {
		m[org] = make(map[K]V)
	}
	m[org][k] = v
}

func (t *accessTable) team(org domain.OrgID, name string) (domain.Team, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	tm, ok := t.teams[org][name]
	return tm, ok
}

func (t *accessTable) acl(org domain.OrgID, prefix domain.LockName) (domain.ACL, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	a, ok := t.acls[org][prefix]
	return a, ok
}

func (t *accessTable) teamsOf(org domain.OrgID) []domain.Team {
	t.mu.RLock()
	out := slices.Collect(maps.Values(t.teams[org]))
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.Team) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

func (t *accessTable) aclsOf(org domain.OrgID) []domain.ACL {
	t.mu.RLock()
	out := slices.Collect(maps.Values(t.acls[org]))
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.ACL) int { return cmp.Compare(a.Prefix, b.Prefix) })
	return out
}

// access returns org's teams and rules as this batch sees them: the
// committed ones with the batch's earlier changes applied. Access changes
// are rare, so the copy is cheap next to the commit.
func (x *txn) access(org domain.OrgID) (map[string]domain.Team, map[domain.LockName]domain.ACL) {
	t := x.e.access
	t.mu.RLock()
	teams, acls := maps.Clone(t.teams[org]), maps.Clone(t.acls[org])
	t.mu.RUnlock()
	if teams == nil {
		teams = make(map[string]domain.Team)
	}
	if acls == nil {
		acls = make(map[domain.LockName]domain.ACL)
	}
	for _, c := range x.changes {
		switch c := c.(type) {
		case domain.TeamSaved:
			if c.Team.Org == org {
				teams[c.Team.Name] = c.Team
			}
		case domain.TeamDeleted:
			if c.Org == org {
				delete(teams, c.Name)
			}
		case domain.ACLSaved:
			if c.ACL.Org == org {
				acls[c.ACL.Prefix] = c.ACL
			}
		case domain.ACLDeleted:
			if c.Org == org {
				delete(acls, c.Prefix)
			}
		}
	}
	return teams, acls
}
