package application

import (
	"context"
	"maps"
	"sync"

	"github.com/octostore/octostore/domain"
)

// DefaultQuotas are the server-wide limits of an engine configured
// without some of them. They are generous: they stop one tenant from
// exhausting the server, not ordinary use.
var DefaultQuotas = domain.Limits{
	domain.QuotaLocks:        100_000,
	domain.QuotaSessions:     10_000,
	domain.QuotaWaiters:      10_000,
	domain.QuotaWebhooks:     25,
	domain.QuotaWatchStreams: 1_000,
	domain.QuotaConfigKeys:   10_000,
	domain.QuotaConfigBytes:  64 << 20,
	domain.QuotaFlags:        10_000,
	domain.QuotaLimits:       100_000,
}

// quotaTable holds the server-wide limits and the committed per-org
// overrides. The writer changes the overrides after a commit; any
// goroutine may read them.
type quotaTable struct {
	defaults domain.Limits

	mu   sync.RWMutex
	orgs map[domain.OrgID]domain.Limits
}

func newQuotaTable(defaults domain.Limits) *quotaTable {
	d := maps.Clone(DefaultQuotas)
	maps.Copy(d, defaults)
	return &quotaTable{defaults: d, orgs: make(map[domain.OrgID]domain.Limits)}
}

// limit returns org's limit for q: its override, or the default.
func (t *quotaTable) limit(org domain.OrgID, q domain.Quota) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if n, ok := t.orgs[org][q]; ok {
		return n
	}
	return t.defaults[q]
}

// overrides returns a copy of org's overrides (empty when it has none).
func (t *quotaTable) overrides(org domain.OrgID) domain.Limits {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return maps.Clone(t.orgs[org])
}

// set replaces org's overrides; the caller holds no lock.
func (t *quotaTable) set(s domain.QuotaSet) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(s.Limits) == 0 {
		delete(t.orgs, s.Org)
		return
	}
	t.orgs[s.Org] = maps.Clone(s.Limits)
}

// apply folds the committed QuotaSet changes in.
func (t *quotaTable) apply(changes []domain.Change) {
	for _, c := range changes {
		if s, ok := c.(domain.QuotaSet); ok {
			t.set(s)
		}
	}
}

// limit returns org's limit for q as this batch sees it: an override set
// earlier in the batch counts.
func (x *txn) limit(org domain.OrgID, q domain.Quota) int {
	if l, ok := x.quotaSets[org]; ok {
		if n, ok := l[q]; ok {
			return n
		}
		return x.e.quotas.defaults[q]
	}
	return x.e.quotas.limit(org, q)
}

// within returns a QuotaExceededError when org already has used (or more)
// of q, so that one more would exceed its limit.
func (x *txn) within(org domain.OrgID, q domain.Quota, used int) error {
	if n := x.limit(org, q); used >= n {
		return &domain.QuotaExceededError{Quota: q, Limit: n}
	}
	return nil
}

// lockCount returns the lock records of org as this batch sees them.
func (x *txn) lockCount(org domain.OrgID) int { return x.st.orgLocks(org) + x.lockDelta[org] }

// sessionCount returns the sessions of org as this batch sees them.
func (x *txn) sessionCount(org domain.OrgID) int {
	return x.st.orgSessions(org) + x.sessionDelta[org]
}

// QuotaService holds the quota use cases of the admin API.
type QuotaService struct {
	e      *Engine
	events *EventService
}

// NewQuotaService returns the quota use cases. events, when not nil,
// reports the watch streams open per org.
func NewQuotaService(e *Engine, events *EventService) *QuotaService {
	return &QuotaService{e: e, events: events}
}

// QuotaUsage is one quota of an org: its limit, whether that is the
// org's own (else the server-wide default), and how much is in use.
type QuotaUsage struct {
	Quota      domain.Quota
	Limit      int
	Overridden bool
	Used       int
}

// Get returns every quota of org with its limit and current usage, in the
// order of domain.Quotas. Any org that parses may be asked about, also one
// known only through static tokens or not at all. Returns ErrAdminOnly for
// a caller that is not the admin.
func (s *QuotaService) Get(_ context.Context, p domain.Principal, org domain.OrgID) ([]QuotaUsage, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	over := s.e.quotas.overrides(org)
	used := map[domain.Quota]int{
		domain.QuotaLocks:    s.e.st.orgLocks(org),
		domain.QuotaSessions: s.e.st.orgSessions(org),
		domain.QuotaWaiters:  s.e.waiters.orgCount(org),
		domain.QuotaWebhooks: s.e.hooks.count(org),
		domain.QuotaFlags:    s.e.flags.orgCount(org),
		domain.QuotaLimits:   s.e.limits.orgCount(org),
	}
	used[domain.QuotaConfigKeys], used[domain.QuotaConfigBytes] = s.e.configs.usage(org)
	if s.events != nil {
		used[domain.QuotaWatchStreams] = s.events.b.orgStreams(org)
	}
	out := make([]QuotaUsage, 0, len(domain.Quotas))
	for _, q := range domain.Quotas {
		n, ok := over[q]
		if !ok {
			n = s.e.quotas.defaults[q]
		}
		out = append(out, QuotaUsage{Quota: q, Limit: n, Overridden: ok, Used: used[q]})
	}
	return out, nil
}

// Set replaces org's overrides with limits, durably: a quota missing from
// limits follows the server-wide default again. Lowering a limit below
// what is in use takes nothing away; it only refuses new use until usage
// falls below it. Returns ErrAdminOnly for a caller that is not the admin,
// a KindInvalid error coded invalid_quota for a bad limit, and
// ErrUnavailable when the change could not be committed.
func (s *QuotaService) Set(ctx context.Context, p domain.Principal, org domain.OrgID, limits domain.Limits) ([]QuotaUsage, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	if err := limits.Validate(); err != nil {
		return nil, err
	}
	limits = maps.Clone(limits)
	err := s.e.submit(ctx, func(x *txn) error {
		if x.quotaSets == nil {
			x.quotaSets = make(map[domain.OrgID]domain.Limits)
		}
		x.quotaSets[org] = limits
		x.add(domain.QuotaSet{Org: org, Limits: limits})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, p, org)
}
