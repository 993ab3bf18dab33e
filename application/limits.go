package application

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/octostore/octostore/domain"
)

// LimitService holds the rate-limit use cases: clients check named limits
// to gate their own work. The counters live in memory only (a restart
// resets them), per org, and an org keeps at most its limits quota of
// names; a name idle for a whole window is forgotten when room is needed.
type LimitService struct {
	e *Engine
}

// NewLimitService returns the rate-limit use cases.
func NewLimitService(e *Engine) *LimitService { return &LimitService{e: e} }

// LimitView is the state of one named limit of an org.
type LimitView struct {
	Name  domain.LockName
	Limit domain.RateLimit
	domain.RateDecision
}

// authorize is the one place every limit check, read and reset passes
// through before it touches a counter: the admin holds no limits, and the
// org's ACL rules decide per name (observe to read, acquire to check or
// reset). Returns ErrAdminNotTenant and ErrPermissionDenied.
func (s *LimitService) authorize(p domain.Principal, name domain.LockName, a domain.Action) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	return s.e.permit(p, name, a)
}

// Check takes cost units of the limit name of the caller's org, kept
// under l (a check with another limit or window replaces them; see
// domain.RateState.Check). A refused check takes nothing: the decision
// says when to retry. Returns ErrAdminNotTenant, ErrPermissionDenied, ErrInvalidLimit,
// ErrInvalidWindow or ErrInvalidCost, and a *domain.QuotaExceededError
// (matching ErrQuotaExceeded) when a new name would pass the org's limits
// quota.
func (s *LimitService) Check(_ context.Context, p domain.Principal, name domain.LockName, l domain.RateLimit, cost uint64) (LimitView, error) {
	if err := s.authorize(p, name, accessWrite); err != nil {
		return LimitView{}, err
	}
	if err := l.Check(cost); err != nil {
		return LimitView{}, err
	}
	t := s.e.limits.org(p.Org)
	now := s.e.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.names[name]
	if !ok {
		if quota := s.e.quotas.limit(p.Org, domain.QuotaLimits); len(t.names) >= quota {
			t.forgetIdle(now)
			if len(t.names) >= quota {
				return LimitView{}, &domain.QuotaExceededError{Quota: domain.QuotaLimits, Limit: quota}
			}
		}
	}
	next, d := st.Check(l, cost, now)
	t.names[name] = next
	return LimitView{Name: name, Limit: l, RateDecision: d}, nil
}

// Get returns the state of the limit name of the caller's org now.
// Returns ErrAdminNotTenant, ErrPermissionDenied and ErrLimitNotFound (also for a name
// forgotten after a whole idle window).
func (s *LimitService) Get(_ context.Context, p domain.Principal, name domain.LockName) (LimitView, error) {
	if err := s.authorize(p, name, accessRead); err != nil {
		return LimitView{}, err
	}
	t := s.e.limits.org(p.Org)
	t.mu.Lock()
	defer t.mu.Unlock()
	st, ok := t.names[name]
	if !ok {
		return LimitView{}, domain.ErrLimitNotFound
	}
	return LimitView{Name: name, Limit: st.Limit, RateDecision: st.Peek(s.e.clock.Now())}, nil
}

// List returns the limits of the caller's org whose names match prefix,
// in name order. Returns ErrAdminNotTenant.
func (s *LimitService) List(_ context.Context, p domain.Principal, prefix domain.Prefix) ([]LimitView, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	t := s.e.limits.org(p.Org)
	now := s.e.clock.Now()
	out := []LimitView{}
	t.mu.Lock()
	for name, st := range t.names {
		if prefix.Matches(name) && s.authorize(p, name, accessRead) == nil {
			out = append(out, LimitView{Name: name, Limit: st.Limit, RateDecision: st.Peek(now)})
		}
	}
	t.mu.Unlock()
	slices.SortFunc(out, func(a, b LimitView) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// Reset forgets the limit name of the caller's org: its next check starts
// with the whole limit. Returns ErrAdminNotTenant, ErrPermissionDenied and ErrLimitNotFound.
func (s *LimitService) Reset(_ context.Context, p domain.Principal, name domain.LockName) error {
	if err := s.authorize(p, name, accessWrite); err != nil {
		return err
	}
	t := s.e.limits.org(p.Org)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.names[name]; !ok {
		return domain.ErrLimitNotFound
	}
	delete(t.names, name)
	return nil
}

// limitTable holds the rate-limit counters of every org, each org behind
// its own mutex so that orgs do not contend.
type limitTable struct {
	orgs sync.Map // domain.OrgID -> *orgLimits
}

type orgLimits struct {
	mu    sync.Mutex
	names map[domain.LockName]domain.RateState
}

func (t *limitTable) org(org domain.OrgID) *orgLimits {
	if v, ok := t.orgs.Load(org); ok {
		return v.(*orgLimits)
	}
	v, _ := t.orgs.LoadOrStore(org, &orgLimits{names: make(map[domain.LockName]domain.RateState)})
	return v.(*orgLimits)
}

// orgCount returns how many names org keeps counters for.
func (t *limitTable) orgCount(org domain.OrgID) int {
	v, ok := t.orgs.Load(org)
	if !ok {
		return 0
	}
	o := v.(*orgLimits)
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.names)
}

// forgetIdle drops the names that are back to full at now; the caller
// holds o.mu.
func (o *orgLimits) forgetIdle(now time.Time) {
	for name, st := range o.names {
		if st.Idle(now) {
			delete(o.names, name)
		}
	}
}
