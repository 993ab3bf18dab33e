package application

import (
	"cmp"
	"context"
	"slices"
	"sync"

	"github.com/octostore/octostore/domain"
)

// Flags and rate limits share the lock names' ACL rules: observe to read
// (a flag, an evaluation, a limit's state), acquire to write (a flag, a
// check that takes units, a reset).
const (
	accessRead  = domain.ActionObserve
	accessWrite = domain.ActionAcquire
)

// FlagService holds the feature-flag use cases: writes go through the
// single writer (durable before the answer, the org's flags quota checked
// in the same decision, an event recorded with the change); reads and
// evaluations are served from memory.
type FlagService struct {
	e *Engine
}

// NewFlagService returns the feature-flag use cases.
func NewFlagService(e *Engine) *FlagService { return &FlagService{e: e} }

// authorize is the one place every flag read and write passes through
// before it touches a flag: the admin holds no flags, and the org's ACL
// rules decide per name (observe to read, acquire to write). Returns
// ErrAdminNotTenant and ErrPermissionDenied.
func (s *FlagService) authorize(p domain.Principal, name domain.FlagName, a domain.Action) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	return s.e.permit(p, domain.LockName(name), a)
}

// Put creates or replaces the flag name of the caller's org with settings
// in and returns it with its new version (1 for a new flag, one more per
// write). Returns ErrAdminNotTenant, ErrPermissionDenied, ErrInvalidPercentage or
// ErrInvalidDescription, a *domain.QuotaExceededError (matching
// ErrQuotaExceeded) when a new flag would pass the org's flags quota, and
// ErrUnavailable when the change could not be committed.
func (s *FlagService) Put(ctx context.Context, p domain.Principal, name domain.FlagName, in domain.FlagSettings) (domain.Flag, error) {
	if err := s.authorize(p, name, accessWrite); err != nil {
		return domain.Flag{}, err
	}
	if err := in.Check(); err != nil {
		return domain.Flag{}, err
	}
	key := domain.FlagKey{Org: p.Org, Name: name}
	return do(ctx, s.e, func(x *txn) (domain.Flag, error) {
		cur := x.flag(key)
		if !cur.Exists() {
			if err := x.within(p.Org, domain.QuotaFlags, x.flagCount(p.Org)); err != nil {
				return domain.Flag{}, err
			}
		}
		f := cur.Write(key, in, p.User, x.now)
		x.saveFlag(f)
		x.flagEvent(domain.EventFlagUpdated, f, p.User)
		return f, nil
	})
}

// Delete removes the flag name of the caller's org and records a
// flag.deleted event. Returns ErrAdminNotTenant, ErrPermissionDenied, ErrFlagNotFound and
// ErrUnavailable.
func (s *FlagService) Delete(ctx context.Context, p domain.Principal, name domain.FlagName) error {
	if err := s.authorize(p, name, accessWrite); err != nil {
		return err
	}
	key := domain.FlagKey{Org: p.Org, Name: name}
	return s.e.submit(ctx, func(x *txn) error {
		cur := x.flag(key)
		if !cur.Exists() {
			return domain.ErrFlagNotFound
		}
		x.deleteFlag(key)
		x.flagEvent(domain.EventFlagDeleted, cur, p.User)
		return nil
	})
}

// Get returns the committed flag name of the caller's org. Returns
// ErrAdminNotTenant and ErrFlagNotFound.
func (s *FlagService) Get(_ context.Context, p domain.Principal, name domain.FlagName) (domain.Flag, error) {
	if err := s.authorize(p, name, accessRead); err != nil {
		return domain.Flag{}, err
	}
	f, ok := s.e.flags.get(domain.FlagKey{Org: p.Org, Name: name})
	if !ok {
		return domain.Flag{}, domain.ErrFlagNotFound
	}
	return f, nil
}

// List returns the flags of the caller's org whose names match prefix, in
// name order (those the caller may not read are left out). Returns
// ErrAdminNotTenant.
func (s *FlagService) List(_ context.Context, p domain.Principal, prefix domain.Prefix) ([]domain.Flag, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	flags := s.e.flags.list(p.Org, prefix)
	return slices.DeleteFunc(flags, func(f domain.Flag) bool { return s.authorize(p, f.Key.Name, accessRead) != nil }), nil
}

// Evaluate reports whether the flag name of the caller's org is on for
// subject (see domain.Flag.EnabledFor). Returns ErrAdminNotTenant, ErrPermissionDenied,
// ErrInvalidSubject and ErrFlagNotFound.
func (s *FlagService) Evaluate(ctx context.Context, p domain.Principal, name domain.FlagName, subject string) (bool, error) {
	if err := s.authorize(p, name, accessRead); err != nil {
		return false, err
	}
	if err := domain.CheckSubject(subject); err != nil {
		return false, err
	}
	f, err := s.Get(ctx, p, name)
	if err != nil {
		return false, err
	}
	return f.EnabledFor(subject), nil
}

// FlagResult is one flag of a batch evaluation. A flag that does not
// exist (or that the caller may not read) is not Found and not Enabled.
type FlagResult struct {
	Name    domain.FlagName
	Enabled bool
	Found   bool
}

// EvaluateMany evaluates each of names for subject, in the order given.
// Returns ErrAdminNotTenant and ErrInvalidSubject; unknown flags are
// results with Found false, not errors.
func (s *FlagService) EvaluateMany(_ context.Context, p domain.Principal, subject string, names []domain.FlagName) ([]FlagResult, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	if err := domain.CheckSubject(subject); err != nil {
		return nil, err
	}
	out := make([]FlagResult, len(names))
	for i, n := range names {
		out[i].Name = n
		if s.authorize(p, n, accessRead) != nil {
			continue
		}
		if f, ok := s.e.flags.get(domain.FlagKey{Org: p.Org, Name: n}); ok {
			out[i].Found, out[i].Enabled = true, f.EnabledFor(subject)
		}
	}
	return out, nil
}

// flagTable is the committed flags of each org, in memory. The writer
// changes it after a commit; everyone else reads.
type flagTable struct {
	mu    sync.RWMutex
	byOrg map[domain.OrgID]map[domain.FlagName]domain.Flag
}

func newFlagTable() *flagTable {
	return &flagTable{byOrg: make(map[domain.OrgID]map[domain.FlagName]domain.Flag)}
}

func (t *flagTable) restore(flags []domain.Flag) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, f := range flags {
		t.putLocked(f)
	}
}

func (t *flagTable) putLocked(f domain.Flag) {
	m := t.byOrg[f.Key.Org]
	if m == nil {
		m = make(map[domain.FlagName]domain.Flag)
		t.byOrg[f.Key.Org] = m
	}
	m[f.Key.Name] = f
}

// apply folds committed flag changes in.
func (t *flagTable) apply(changes []domain.Change) {
	if !slices.ContainsFunc(changes, isFlagChange) {
		return // the lock path: no flag lock taken
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.FlagSaved:
			t.putLocked(c.Flag)
		case domain.FlagDeleted:
			if m := t.byOrg[c.Key.Org]; m != nil {
				delete(m, c.Key.Name)
				if len(m) == 0 {
					delete(t.byOrg, c.Key.Org)
				}
			}
		}
	}
}

func isFlagChange(c domain.Change) bool {
	switch c.(type) {
	case domain.FlagSaved, domain.FlagDeleted:
		return true
	}
	return false
}

func (t *flagTable) get(k domain.FlagKey) (domain.Flag, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	f, ok := t.byOrg[k.Org][k.Name]
	return f, ok
}

// list returns the flags of org matching p, in name order.
func (t *flagTable) list(org domain.OrgID, p domain.Prefix) []domain.Flag {
	t.mu.RLock()
	out := []domain.Flag{}
	for name, f := range t.byOrg[org] {
		if p.Matches(domain.LockName(name)) {
			out = append(out, f)
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.Flag) int { return cmp.Compare(a.Key.Name, b.Key.Name) })
	return out
}

// orgCount returns the number of flags of org.
func (t *flagTable) orgCount(org domain.OrgID) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.byOrg[org])
}

// The writer's view of flags: the committed table plus what earlier
// requests of the same batch wrote or deleted.

func (x *txn) flag(k domain.FlagKey) domain.Flag {
	if f, ok := x.flags[k]; ok {
		return f
	}
	f, _ := x.e.flags.get(k)
	return f
}

func (x *txn) flagCount(org domain.OrgID) int { return x.e.flags.orgCount(org) + x.flagDelta[org] }

func (x *txn) saveFlag(f domain.Flag) {
	if !x.flag(f.Key).Exists() {
		x.flagDelta = bump(x.flagDelta, f.Key.Org, 1)
	}
	x.setFlag(f.Key, f)
	x.changes = append(x.changes, domain.FlagSaved{Flag: f})
}

func (x *txn) deleteFlag(k domain.FlagKey) {
	if x.flag(k).Exists() {
		x.flagDelta = bump(x.flagDelta, k.Org, -1)
	}
	x.setFlag(k, domain.Flag{})
	x.changes = append(x.changes, domain.FlagDeleted{Key: k})
}

func (x *txn) setFlag(k domain.FlagKey, f domain.Flag) {
	if x.flags == nil {
		x.flags = make(map[domain.FlagKey]domain.Flag)
	}
	x.flags[k] = f
}

// flagEvent records a flag event: the flag's name and version and who
// made the change, never its settings.
func (x *txn) flagEvent(kind domain.EventKind, f domain.Flag, by string) {
	x.eventSeq++
	x.changes = append(x.changes, domain.EventRecorded{Event: domain.Event{
		Seq: x.eventSeq, Org: f.Key.Org, Kind: kind, Name: domain.LockName(f.Key.Name),
		Version: f.Version, By: by, At: x.now,
	}})
}
