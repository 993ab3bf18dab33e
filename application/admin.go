package application

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/octostore/octostore/domain"
)

// AdminService holds the read use cases of the admin dashboard: what every
// org uses now, and its locks, sessions, webhooks and events. Every method
// is for the admin only (ErrAdminOnly otherwise), reads committed state in
// memory (events may come from storage) and changes nothing.
type AdminService struct {
	e      *Engine
	events *EventService
	auth   *AuthService
}

// NewAdminService returns the admin's read use cases. events, when not nil,
// counts the watch streams per org; auth, when not nil, names the orgs of
// configured tokens.
func NewAdminService(e *Engine, events *EventService, auth *AuthService) *AdminService {
	return &AdminService{e: e, events: events, auth: auth}
}

// OrgTotals is what one org uses now.
type OrgTotals struct {
	Org          domain.OrgID
	LocksHeld    int // locks held now (not the expired or delayed records)
	Sessions     int
	Waiters      int // blocking acquires queued
	Webhooks     int
	WatchStreams int
}

// Overview returns the totals of every org the server knows: registered
// orgs, orgs of configured or stored tokens, and any org with locks,
// sessions, waiters, webhooks or watch streams; in name order.
func (s *AdminService) Overview(_ context.Context, p domain.Principal) ([]OrgTotals, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	now := s.e.now()
	orgs := make(map[domain.OrgID]bool)
	for _, o := range s.e.orgs.list() {
		orgs[o.Org.ID] = true
	}
	for _, c := range s.e.creds.all() {
		if !c.Principal.Admin {
			orgs[c.Principal.Org] = true
		}
	}
	if s.auth != nil {
		for _, pr := range s.auth.static {
			if !pr.Admin {
				orgs[pr.Org] = true
			}
		}
	}
	for _, w := range s.e.hooks.all() {
		orgs[w.Org] = true
	}
	for _, o := range s.e.st.activeOrgs() {
		orgs[o] = true
	}
	for _, o := range s.e.waiters.orgs() {
		orgs[o] = true
	}
	if s.events != nil {
		for _, o := range s.events.b.orgs() {
			orgs[o] = true
		}
	}
	out := make([]OrgTotals, 0, len(orgs))
	for org := range orgs {
		t := OrgTotals{Org: org, LocksHeld: s.e.st.heldCount(org, now), Sessions: s.e.st.orgSessions(org),
			Waiters: s.e.waiters.orgCount(org), Webhooks: s.e.hooks.count(org)}
		if s.events != nil {
			t.WatchStreams = s.events.b.orgStreams(org)
		}
		out = append(out, t)
	}
	slices.SortFunc(out, func(a, b OrgTotals) int { return cmp.Compare(a.Org, b.Org) })
	return out, nil
}

// Locks returns up to limit locks of org held now whose names match prefix,
// in name order, starting after the name 'after': the same page a member
// of the org gets from LockService.List.
func (s *AdminService) Locks(_ context.Context, p domain.Principal, org domain.OrgID, prefix domain.Prefix, after domain.LockName, limit int) (Page, error) {
	if !p.Admin {
		return Page{}, domain.ErrAdminOnly
	}
	if limit <= 0 {
		return Page{}, domain.Invalid("invalid_limit", "limit must be positive")
	}
	locks, more := s.e.held(org, prefix, after, limit)
	page := Page{Locks: make([]LockView, len(locks))}
	for i, l := range locks {
		page.Locks[i] = LockView{Lock: l, Status: StatusHeld, Waiters: s.e.Waiting(l.Key)}
	}
	if more && len(locks) > 0 {
		page.Next = locks[len(locks)-1].Key.Name
	}
	return page, nil
}

// Sessions returns the open sessions of org, oldest first, with the locks
// each holds. An org has at most its sessions quota of them.
func (s *AdminService) Sessions(_ context.Context, p domain.Principal, org domain.OrgID) ([]SessionView, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	ss := s.e.st.orgSessionList(org)
	slices.SortFunc(ss, func(a, b domain.Session) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	out := make([]SessionView, 0, len(ss))
	for _, sess := range ss {
		v := SessionView{Session: sess, Locks: []domain.LockName{}}
		for _, k := range s.e.st.sessionLocks(sess.ID) {
			v.Locks = append(v.Locks, k.Name)
		}
		slices.Sort(v.Locks)
		out = append(out, v)
	}
	return out, nil
}

// WebhookHealth is a webhook with the state of its deliveries, from the
// delivery records kept for it (the newest 100).
type WebhookHealth struct {
	Webhook   domain.Webhook
	Pending   int
	Delivered int
	Failed    int
	// Last is the newest delivery record; zero when there is none.
	Last domain.Delivery
	// Behind is how many events were recorded after the webhook's cursor
	// (events it has not handled yet, whether it wants them or not).
	Behind uint64
}

// Webhooks returns the webhooks of org, oldest first, with their delivery
// health.
func (s *AdminService) Webhooks(_ context.Context, p domain.Principal, org domain.OrgID) ([]WebhookHealth, error) {
	if !p.Admin {
		return nil, domain.ErrAdminOnly
	}
	head, _ := s.e.hub.position()
	hooks := s.e.hooks.list(org)
	out := make([]WebhookHealth, 0, len(hooks))
	for _, w := range hooks {
		h := WebhookHealth{Webhook: w}
		if head > w.Cursor {
			h.Behind = head - w.Cursor
		}
		ds := s.e.hooks.deliveries(w.ID)
		for _, d := range ds {
			switch d.State {
			case domain.DeliveryPending:
				h.Pending++
			case domain.DeliveryDelivered:
				h.Delivered++
			case domain.DeliveryFailed:
				h.Failed++
			}
		}
		if len(ds) > 0 {
			h.Last = ds[len(ds)-1]
		}
		out = append(out, h)
	}
	return out, nil
}

// MaxTailWait is the longest Tail waits for a first event.
const MaxTailWait = 30 * time.Second

// TailInput selects the events of Tail.
type TailInput struct {
	Org domain.OrgID // empty: every org
	// After is the seq to start after; Newest starts instead with the
	// newest Limit events.
	After  uint64
	Newest bool
	Limit  int
	// Wait is how long to wait, at most, while there is no event to
	// return yet (0: answer at once).
	Wait time.Duration
}

// Tail returns up to in.Limit published (lock) events of in.Org, or of
// every org, oldest first, like EventService.Page. With in.Wait it waits
// until at least one event arrives, the wait is over, ctx ends or the
// server stops (then it answers what it has, nothing). Returns a KindInvalid error for a limit
// outside 1-1000 or a wait outside [0, MaxTailWait].
func (s *AdminService) Tail(ctx context.Context, p domain.Principal, in TailInput) (EventPage, error) {
	if !p.Admin {
		return EventPage{}, domain.ErrAdminOnly
	}
	if in.Limit <= 0 || in.Limit > MaxEventPage {
		return EventPage{}, domain.Invalid("invalid_limit", "limit must be from 1 to 1000")
	}
	if in.Wait < 0 || in.Wait > MaxTailWait {
		return EventPage{}, domain.Invalid("invalid_wait", "a wait must be from 0s to 30s")
	}
	after := in.After
	page := EventPage{Events: []domain.Event{}}
	if in.Newest {
		head, floor := s.e.hub.position()
		after = max(floor, head-min(head, uint64(in.Limit)))
	} else if _, floor := s.e.hub.position(); after > s.e.lastIssued() || after < floor {
		page.Reset, after = true, floor
	}
	var timeout <-chan time.Time
	if in.Wait > 0 {
		t := time.NewTimer(in.Wait)
		defer t.Stop()
		timeout = t.C
	}
	for {
		changed := s.e.hub.changed()
		from := after
		var err error
		after, err = s.collect(ctx, &page, in, after)
		if errors.Is(err, errHubClosed) {
			// The server is stopping: answer what there is, at once.
			page.NextAfter = after
			return page, nil
		}
		if err != nil {
			return EventPage{}, err
		}
		page.NextAfter = after
		if len(page.Events) > 0 || timeout == nil {
			return page, nil
		}
		if head, _ := s.e.hub.position(); head > after && after > from {
			continue // more to look at: the budget ran out
		}
		select {
		case <-changed:
		case <-timeout:
			return page, nil
		case <-ctx.Done():
			return page, nil
		}
	}
}

// collect adds the published events of in.Org after 'after' to page,
// looking at a bounded number of events, and returns the last seq looked at.
func (s *AdminService) collect(ctx context.Context, page *EventPage, in TailInput, after uint64) (uint64, error) {
	head, _ := s.e.hub.position()
	for budget := 10*in.Limit + 1000; len(page.Events) < in.Limit && after < head && budget > 0; {
		evs, _, err := s.e.eventsAfter(ctx, after, min(budget, 512))
		if errors.Is(err, errTrimmed) {
			_, floor := s.e.hub.position()
			page.Reset, after = true, max(after+1, floor)
			continue
		}
		if err != nil {
			return after, err
		}
		if len(evs) == 0 {
			break
		}
		for _, ev := range evs {
			if len(page.Events) == in.Limit {
				break
			}
			after = ev.Seq
			budget--
			if ev.Kind.Published() && (in.Org == "" || ev.Org == in.Org) {
				page.Events = append(page.Events, ev)
			}
		}
	}
	return after, nil
}

// activeOrgs returns the orgs with lock records or sessions.
func (t *state) activeOrgs() []domain.OrgID {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]domain.OrgID, 0, len(t.orgs)+len(t.orgSessionN))
	for o := range t.orgs {
		out = append(out, o)
	}
	for o := range t.orgSessionN {
		out = append(out, o)
	}
	return out
}

// heldCount returns how many locks of org are held at now.
func (t *state) heldCount(org domain.OrgID, now time.Time) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	if tree := t.orgs[org]; tree != nil {
		tree.Ascend(func(l *domain.Lock) bool {
			if t.resolveLocked(*l).HeldAt(now) {
				n++
			}
			return true
		})
	}
	return n
}

// orgSessionList returns the sessions of org, in no particular order.
func (t *state) orgSessionList(org domain.OrgID) []domain.Session {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]domain.Session, 0, t.orgSessionN[org])
	for _, s := range t.sessions {
		if s.Org == org {
			out = append(out, *s)
		}
	}
	return out
}

// orgs returns the orgs with queued waiters.
func (r *waitRegistry) orgs() []domain.OrgID {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]domain.OrgID, 0, len(r.perOrg))
	for o := range r.perOrg {
		out = append(out, o)
	}
	return out
}

// orgs returns the orgs with open watch streams.
func (b *broker) orgs() []domain.OrgID {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]domain.OrgID, 0, len(b.perOrg))
	for o := range b.perOrg {
		out = append(out, o)
	}
	return out
}
