package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// The admin's force release and the JSON routes of the admin dashboard
// (GET /admin, see adminui). Every route here needs the admin token.

// ForcedRelease is the lease that a force release ended.
type ForcedRelease struct {
	Org          string `json:"org" example:"acme"`
	Name         string `json:"name" example:"db/primary"`
	Holder       string `json:"holder" doc:"The principal that held the lock, org/user." example:"acme/alice"`
	Owner        string `json:"owner,omitempty" doc:"The client that held it, for a lock taken with owner." example:"host-a:4711"`
	SessionID    string `json:"session_id,omitempty" doc:"The session that held it, for a lock taken with session_id; the session itself stays open."`
	FencingToken uint64 `json:"fencing_token" doc:"The fencing token of the ended lease; it is never valid again." example:"42"`
	AcquiredAt   Time   `json:"acquired_at" doc:"When the ended lease was granted."`
	ExpiresAt    Time   `json:"expires_at" doc:"When the ended lease would have run out."`
}

type forceReleaseInput struct {
	Org string `path:"org" maxLength:"64" doc:"The org of the lock." example:"acme"`
	LockNamePath
}

type forcedReleaseOutput struct {
	Body ForcedRelease
}

// OrgUsage is what one org uses now.
type OrgUsage struct {
	Org          string `json:"org" example:"acme"`
	LocksHeld    int    `json:"locks_held" doc:"Locks held now." example:"12"`
	SessionsOpen int    `json:"sessions_open" doc:"Open sessions." example:"3"`
	Waiters      int    `json:"waiters" doc:"Blocking acquires queued on busy locks." example:"1"`
	Webhooks     int    `json:"webhooks" doc:"Webhook subscriptions." example:"2"`
	WatchStreams int    `json:"watch_streams" doc:"Open watch streams." example:"4"`
}

// UsageTotals add up every org's usage.
type UsageTotals struct {
	Orgs         int `json:"orgs" doc:"Orgs listed." example:"2"`
	LocksHeld    int `json:"locks_held" example:"12"`
	SessionsOpen int `json:"sessions_open" example:"3"`
	Waiters      int `json:"waiters" example:"1"`
	Webhooks     int `json:"webhooks" example:"2"`
	WatchStreams int `json:"watch_streams" example:"4"`
}

// AdminOverview is the dashboard's overview.
type AdminOverview struct {
	Orgs   []OrgUsage  `json:"orgs" nullable:"false" doc:"Every org the server knows (registered, with tokens, or with anything in use), by name."`
	Totals UsageTotals `json:"totals"`
}

type adminOverviewOutput struct {
	Body AdminOverview
}

type adminLocksInput struct {
	Org    string `path:"org" maxLength:"64" doc:"The org whose locks to list." example:"acme"`
	Prefix string `query:"prefix" doc:"Only names equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below." example:"db/"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor from the previous page."`
}

type adminLocksOutput struct {
	Body LockList
}

// AdminSession is an open session of an org.
type AdminSession struct {
	SessionID  string   `json:"session_id" example:"s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"`
	User       string   `json:"user" doc:"The user that opened it." example:"alice"`
	TTLSeconds int      `json:"ttl_seconds" example:"60"`
	CreatedAt  Time     `json:"created_at"`
	ExpiresAt  Time     `json:"expires_at" doc:"When it ends unless kept alive."`
	Locks      []string `json:"locks" nullable:"false" doc:"Names of the locks it holds now."`
}

// AdminSessionList is the open sessions of an org.
type AdminSessionList struct {
	Org      string         `json:"org" example:"acme"`
	Sessions []AdminSession `json:"sessions" nullable:"false" doc:"Oldest first."`
}

type adminSessionsOutput struct {
	Body AdminSessionList
}

// DeliveryHealth sums up a webhook's kept delivery records (the newest 100).
type DeliveryHealth struct {
	Pending       int    `json:"pending" doc:"Deliveries not made yet (being retried)." example:"0"`
	Delivered     int    `json:"delivered" doc:"Deliveries the receiver accepted (2xx)." example:"97"`
	Failed        int    `json:"failed" doc:"Deliveries given up after every attempt failed." example:"3"`
	Behind        uint64 `json:"behind" doc:"Events recorded after the last one the webhook handled (delivered, given up on or not wanted)." example:"0"`
	LastState     string `json:"last_state,omitempty" enum:"pending,delivered,failed" doc:"The state of the newest delivery; absent when there was none."`
	LastStatus    int    `json:"last_status,omitempty" doc:"The HTTP status of the newest delivery's last attempt." example:"200"`
	LastError     string `json:"last_error,omitempty" doc:"Why the newest delivery's last attempt failed, when it did."`
	LastAttemptAt *Time  `json:"last_attempt_at,omitempty" doc:"When the newest delivery was last attempted."`
}

// AdminWebhook is a webhook of an org with its delivery health.
type AdminWebhook struct {
	Webhook Webhook        `json:"webhook"`
	Health  DeliveryHealth `json:"health"`
}

// AdminWebhookList is the webhooks of an org.
type AdminWebhookList struct {
	Org      string         `json:"org" example:"acme"`
	Webhooks []AdminWebhook `json:"webhooks" nullable:"false" doc:"Oldest first."`
}

type adminWebhooksOutput struct {
	Body AdminWebhookList
}

// AdminEvent is one event of any org.
type AdminEvent struct {
	Org string `json:"org" example:"acme"`
	Event
}

// AdminEventPage is a page of the event tail.
type AdminEventPage struct {
	Events    []AdminEvent `json:"events" nullable:"false" doc:"Lock events, oldest first. A page can be short, even empty, while next_after moves on."`
	NextAfter uint64       `json:"next_after" doc:"Pass as after to get the next page." example:"1042"`
	Reset     bool         `json:"reset" doc:"True when after was older than the retained events (or newer than any): the page starts at the oldest retained event."`
}

type adminEventsInput struct {
	Org   string `query:"org" maxLength:"64" doc:"Only this org's events; empty: every org." example:"acme"`
	After int64  `query:"after" minimum:"-1" default:"-1" doc:"Return events after this seq (a previous page's next_after); -1: start at the newest limit events of the server (of which only org's are shown when org is set)."`
	Limit int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
	Wait  int    `query:"wait_seconds" minimum:"0" maximum:"30" default:"0" doc:"While there is no event to return, wait up to this many seconds for one (a long poll); 0 answers at once."`
}

type adminEventsOutput struct {
	CacheControl string `header:"Cache-Control" doc:"no-store: the tail moves."`
	Body         AdminEventPage
}

var (
	errAdminOrg = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_org`: bad org name.",
		atField("path.org", domain.Invalid("invalid_org", `org "a b": only letters, digits, '.', '_' and '-'`))}
	errForceNotHeld = errorDoc{http.StatusNotFound, "`lock_not_found`: the lock is not held now (free, expired, or in its lock delay).", domain.ErrLockNotFound}
)

func (s *Server) registerAdminAPI() {
	register(s, huma.Operation{
		OperationID: "admin-force-release", Method: http.MethodPost, Path: "/admin/orgs/{org}/locks/{name}/release",
		Summary: "Force-release a lock", Tags: []string{"admin"}, Security: bearer,
		Description: "Frees a held lock of any org for a stuck holder, whoever holds it. The holder's lease ends at once: its lease id and fencing token are never valid again (renew and release answer 409 `lease_not_current`, validate says false), " +
			"the oldest blocking acquire gets the lock as after a release, and there is no lock delay. " +
			"The release is durable before the answer, is recorded as a `lock.released` event with `\"forced_by\": \"admin\"` (events page, watch streams, webhooks) and is written to the server log. " +
			"The answer describes the lease that ended. Needs the admin token.",
	}, s.forceRelease, errUnauthorized, errAdminOnly, errInvalidName, errAdminOrg, errForceNotHeld, errUnavailable)

	register(s, huma.Operation{
		OperationID: "admin-overview", Method: http.MethodGet, Path: "/admin/api/overview",
		Summary: "What every org uses", Tags: []string{"admin"}, Security: bearer,
		Description: "For each org the server knows: locks held, open sessions, queued waiters, webhooks and open watch streams now, and their totals. Needs the admin token.",
	}, s.adminOverview, errUnauthorized, errAdminOnly)

	register(s, huma.Operation{
		OperationID: "admin-list-locks", Method: http.MethodGet, Path: "/admin/api/orgs/{org}/locks",
		Summary: "Search an org's locks", Tags: []string{"admin"}, Security: bearer,
		Description: "The locks of the org held now whose names match prefix, in name order, a page at a time: what its members see with GET /locks (holder, fencing token, expiry, waiters). Needs the admin token.",
	}, s.adminLocks, errUnauthorized, errAdminOnly, errAdminOrg, errInvalidPrefix, errInvalidQuery)

	register(s, huma.Operation{
		OperationID: "admin-list-sessions", Method: http.MethodGet, Path: "/admin/api/orgs/{org}/sessions",
		Summary: "List an org's sessions", Tags: []string{"admin"}, Security: bearer,
		Description: "The open sessions of the org, oldest first, with their user, expiry and the locks they hold. Needs the admin token.",
	}, s.adminSessions, errUnauthorized, errAdminOnly, errAdminOrg)

	register(s, huma.Operation{
		OperationID: "admin-list-webhooks", Method: http.MethodGet, Path: "/admin/api/orgs/{org}/webhooks",
		Summary: "List an org's webhooks and their delivery health", Tags: []string{"admin"}, Security: bearer,
		Description: "The webhooks of the org, oldest first (never their secrets), each with a summary of its newest delivery records. Needs the admin token.",
	}, s.adminWebhooks, errUnauthorized, errAdminOnly, errAdminOrg)

	register(s, huma.Operation{
		OperationID: "admin-tail-events", Method: http.MethodGet, Path: "/admin/api/events",
		Summary: "Tail the events of every org", Tags: []string{"admin"}, Security: bearer,
		Description: "The lock events of every org (or of one), oldest first, a page at a time; without after, the newest ones. With wait_seconds the request waits for the next event while there is none (a long poll), so a loop of calls with after set to next_after follows the stream live. Needs the admin token.",
	}, s.adminEvents, errUnauthorized, errAdminOnly,
		errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_org`: bad org name.",
			atField("query.org", domain.Invalid("invalid_org", `org "a b": only letters, digits, '.', '_' and '-'`))})
}

// pathOrg parses the org of an admin route's path.
func pathOrg(org string) (domain.OrgID, error) {
	id, err := domain.ParseOrgID(org)
	if err != nil {
		return "", atField("path.org", err)
	}
	return id, nil
}

func (s *Server) forceRelease(ctx context.Context, in *forceReleaseInput) (*forcedReleaseOutput, error) {
	org, err := pathOrg(in.Org)
	if err != nil {
		return nil, err
	}
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	l, err := s.locks.ForceRelease(ctx, principal(ctx), org, name)
	if err != nil {
		return nil, err
	}
	return &forcedReleaseOutput{Body: ForcedRelease{Org: string(org), Name: string(name), Holder: holderOf(l), Owner: l.Holder.Owner(),
		SessionID: string(l.Holder.SessionOf()), FencingToken: uint64(l.Token), AcquiredAt: wireTime(l.AcquiredAt), ExpiresAt: wireTime(l.ExpiresAt)}}, nil
}

func (s *Server) adminOverview(ctx context.Context, _ *struct{}) (*adminOverviewOutput, error) {
	orgs, err := s.admin.Overview(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := AdminOverview{Orgs: make([]OrgUsage, 0, len(orgs))}
	for _, o := range orgs {
		out.Orgs = append(out.Orgs, OrgUsage{Org: string(o.Org), LocksHeld: o.LocksHeld, SessionsOpen: o.Sessions,
			Waiters: o.Waiters, Webhooks: o.Webhooks, WatchStreams: o.WatchStreams})
		t := &out.Totals
		t.Orgs++
		t.LocksHeld += o.LocksHeld
		t.SessionsOpen += o.Sessions
		t.Waiters += o.Waiters
		t.Webhooks += o.Webhooks
		t.WatchStreams += o.WatchStreams
	}
	return &adminOverviewOutput{Body: out}, nil
}

func (s *Server) adminLocks(ctx context.Context, in *adminLocksInput) (*adminLocksOutput, error) {
	org, err := pathOrg(in.Org)
	if err != nil {
		return nil, err
	}
	prefix, after, err := pageQuery(in.Prefix, in.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.admin.Locks(ctx, principal(ctx), org, prefix, after, in.Limit)
	if err != nil {
		return nil, err
	}
	return &adminLocksOutput{Body: lockListOf(page)}, nil
}

func (s *Server) adminSessions(ctx context.Context, in *orgPath) (*adminSessionsOutput, error) {
	org, err := pathOrg(in.Org)
	if err != nil {
		return nil, err
	}
	views, err := s.admin.Sessions(ctx, principal(ctx), org)
	if err != nil {
		return nil, err
	}
	out := AdminSessionList{Org: string(org), Sessions: make([]AdminSession, 0, len(views))}
	for _, v := range views {
		locks := make([]string, 0, len(v.Locks))
		for _, n := range v.Locks {
			locks = append(locks, string(n))
		}
		out.Sessions = append(out.Sessions, AdminSession{SessionID: string(v.Session.ID), User: v.Session.Owner,
			TTLSeconds: int(v.Session.TTL / time.Second), CreatedAt: wireTime(v.Session.CreatedAt), ExpiresAt: wireTime(v.Session.ExpiresAt), Locks: locks})
	}
	return &adminSessionsOutput{Body: out}, nil
}

func (s *Server) adminWebhooks(ctx context.Context, in *orgPath) (*adminWebhooksOutput, error) {
	org, err := pathOrg(in.Org)
	if err != nil {
		return nil, err
	}
	hooks, err := s.admin.Webhooks(ctx, principal(ctx), org)
	if err != nil {
		return nil, err
	}
	out := AdminWebhookList{Org: string(org), Webhooks: make([]AdminWebhook, 0, len(hooks))}
	for _, h := range hooks {
		health := DeliveryHealth{Pending: h.Pending, Delivered: h.Delivered, Failed: h.Failed, Behind: h.Behind}
		if h.Last.Webhook != "" {
			health.LastState, health.LastStatus, health.LastError = string(h.Last.State), h.Last.LastStatus, h.Last.LastError
			health.LastAttemptAt = wireTimeRef(h.Last.UpdatedAt)
		}
		out.Webhooks = append(out.Webhooks, AdminWebhook{Webhook: webhookOf(h.Webhook), Health: health})
	}
	return &adminWebhooksOutput{Body: out}, nil
}

func (s *Server) adminEvents(ctx context.Context, in *adminEventsInput) (*adminEventsOutput, error) {
	var org domain.OrgID
	if in.Org != "" {
		id, err := domain.ParseOrgID(in.Org)
		if err != nil {
			return nil, atField("query.org", err)
		}
		org = id
	}
	q := application.TailInput{Org: org, Limit: in.Limit, Wait: time.Duration(in.Wait) * time.Second}
	if in.After < 0 {
		q.Newest = true
	} else {
		q.After = uint64(in.After)
	}
	page, err := s.admin.Tail(ctx, principal(ctx), q)
	if err != nil {
		return nil, err
	}
	out := AdminEventPage{Events: make([]AdminEvent, 0, len(page.Events)), NextAfter: page.NextAfter, Reset: page.Reset}
	for _, e := range page.Events {
		out.Events = append(out.Events, AdminEvent{Org: string(e.Org), Event: eventOf(e)})
	}
	return &adminEventsOutput{CacheControl: "no-store", Body: out}, nil
}
