package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// LockNamePath is the lock name path parameter (exported so huma sees the
// embedded field). Validation is the domain's (one grammar everywhere), so
// the schema only documents it.
type LockNamePath struct {
	Name string `path:"name" doc:"Lock name: '/'-separated components of [A-Za-z0-9._-], 1-64 bytes each, 1-256 bytes in all. A client encodes the value as one path segment, so '/' is sent as %2F (/locks/db%2Fprimary/acquire)." example:"db/primary"`
}

// exampleName is the lock name of the examples.
const exampleName = "db/primary"

// exampleLeaseID is the lease id of the examples; a real one comes from an
// acquire.
const exampleLeaseID = "L42-9f86d081884c7d65"

// nameHint is what a client that sent a bad name most likely needs to know.
const nameHint = "; inside a URL a '/' of a lock name is sent as %2F"

// lockName parses the path's lock name: the one place a name from a URL
// becomes a domain.LockName, and its error names the parameter.
func (p LockNamePath) lockName() (domain.LockName, error) {
	name, err := domain.ParseLockName(p.Name)
	if err != nil {
		return "", &fieldError{loc: "path.name", hint: nameHint, err: err}
	}
	return name, nil
}

// seconds converts a whole number of seconds from the wire; zero, which
// the wire uses for "not sent", gives def.
func seconds(n int, def time.Duration) time.Duration {
	if n == 0 {
		return def
	}
	return time.Duration(n) * time.Second
}

// AcquireRequest is the body of an acquire.
type AcquireRequest struct {
	TTLSeconds       int     `json:"ttl_seconds,omitempty" minimum:"1" maximum:"3600" default:"60" doc:"Lease length in seconds (1-3600). A re-acquire by the holder extends, never shortens, the expiry. Not used for an ephemeral lock."`
	Metadata         *string `json:"metadata,omitempty" maxLength:"1024" doc:"Free text stored with the lock, at most 1024 bytes of UTF-8, shown to readers (e.g. the holder's address)."`
	Owner            string  `json:"owner,omitempty" minLength:"1" maxLength:"128" pattern:"^[ -~]+$" doc:"Names your client (1-128 printable ASCII characters, e.g. host-a:4711) when you acquire without a session: an acquire by the same user with the same owner as the current holder is an idempotent re-acquire (same lease and token), which makes retries safe. Without owner or session_id, every acquire of a held lock is refused, yours included." example:"host-a:4711"`
	SessionID        string  `json:"session_id,omitempty" maxLength:"128" doc:"Hold the lock as this session (yours): the session is the holder. Cannot be combined with owner."`
	Ephemeral        bool    `json:"ephemeral,omitempty" doc:"The lock lives exactly as long as session_id (required): a session keepalive keeps it, and it is freed when the session ends."`
	LockDelaySeconds *int    `json:"lock_delay_seconds,omitempty" minimum:"0" maximum:"60" doc:"After the lock is lost without an explicit release (TTL or session ran out), nobody can take it for this long (0-60; default from the server's locks.default_lock_delay)."`
	WaitSeconds      int     `json:"wait_seconds,omitempty" minimum:"0" maximum:"60" default:"0" doc:"If the lock is busy, wait up to this long for it, first come first served (0-60)."`
}

type acquireInput struct {
	LockNamePath
	Body *AcquireRequest `required:"false"`
}

// Lease is a grant: what acquire and renew answer. Only the holder sees it.
type Lease struct {
	Status       string `json:"status" enum:"acquired,renewed" doc:"What happened"`
	Name         string `json:"name" example:"db/primary"`
	LeaseID      string `json:"lease_id" doc:"Identifies this grant; needed to renew or release. Keep it private." example:"L42-9f86d081884c7d65"`
	FencingToken uint64 `json:"fencing_token" doc:"Strictly increasing over every grant of this server, never reused. Pass it to the resource you protect." example:"42"`
	ExpiresAt    Time   `json:"expires_at" doc:"When the lease runs out unless renewed (server clock); for an ephemeral lock, when its session does."`
	Metadata     string `json:"metadata" doc:"The lock's metadata."`
	Holder       string `json:"holder" doc:"The principal holding the lock, org/user." example:"acme/alice"`
	Owner        string `json:"owner,omitempty" doc:"The client that holds it, for a lock taken with owner."`
	SessionID    string `json:"session_id,omitempty" doc:"The holder session, for a lock taken with session_id."`
	Ephemeral    bool   `json:"ephemeral,omitempty" doc:"The lock lives exactly as long as its session."`
}

type leaseOutput struct {
	Body Lease
}

// ReleaseRequest is the body of a release.
type ReleaseRequest struct {
	LeaseID string `json:"lease_id" minLength:"1" maxLength:"128" doc:"The lease_id returned by acquire." example:"L42-9f86d081884c7d65"`
}

type releaseInput struct {
	LockNamePath
	Body ReleaseRequest
}

// Released is the answer to a release.
type Released struct {
	Status string `json:"status" enum:"released" doc:"Always released"`
	Name   string `json:"name" example:"db/primary"`
}

type releaseOutput struct {
	Body Released
}

// RenewRequest is the body of a renew.
type RenewRequest struct {
	LeaseID    string `json:"lease_id" minLength:"1" maxLength:"128" doc:"The lease_id returned by acquire." example:"L42-9f86d081884c7d65"`
	TTLSeconds int    `json:"ttl_seconds,omitempty" minimum:"1" maximum:"3600" default:"60" doc:"New lease length from now, in seconds (1-3600)."`
}

type renewInput struct {
	LockNamePath
	Body RenewRequest
}

// LockInfo is what anyone in the org may see of a lock. Nothing in it lets
// a reader act as the holder: the lease id is never shown.
type LockInfo struct {
	Name         string `json:"name" example:"db/primary"`
	Status       string `json:"status" enum:"held,delayed,free" doc:"held; delayed: lost without a release and in its lock delay until available_at, nobody can take it; free: anyone can take it."`
	FencingToken uint64 `json:"fencing_token,omitempty" doc:"Token of the current grant (held locks only)."`
	ExpiresAt    *Time  `json:"expires_at,omitempty" doc:"When the current lease runs out unless renewed (held locks only)."`
	AvailableAt  *Time  `json:"available_at,omitempty" doc:"When a delayed lock can be taken again (delayed locks only)."`
	Metadata     string `json:"metadata,omitempty" doc:"The lock's metadata (held locks only)."`
	Holder       string `json:"holder,omitempty" doc:"The principal holding the lock, org/user (held locks only)." example:"acme/alice"`
	Owner        string `json:"owner,omitempty" doc:"The client holding it, for a lock taken with owner." example:"host-a:4711"`
	SessionID    string `json:"session_id,omitempty" doc:"The session holding it, for a lock taken with session_id."`
	Ephemeral    bool   `json:"ephemeral,omitempty" doc:"The lock lives exactly as long as its session."`
	Waiters      int    `json:"waiters" doc:"Blocking acquires queued for the lock now."`
}

// ValidateRequest is the body of a validate.
type ValidateRequest struct {
	FencingToken uint64 `json:"fencing_token" minimum:"1" doc:"The token to check." example:"42"`
}

type validateInput struct {
	LockNamePath
	Body ValidateRequest
}

// Validation is the answer to a validate.
type Validation struct {
	Valid        bool    `json:"valid" doc:"True only while this token's holder still holds the lock."`
	CurrentToken *uint64 `json:"current_token" doc:"The token of the current holder; null when the lock is not held." example:"42"`
}

type validateOutput struct {
	Body Validation
}

type getLockOutput struct {
	Body LockInfo
}

type listInput struct {
	Prefix string `query:"prefix" doc:"Only names equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below." example:"db/"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor from the previous page."`
}

// LockList is one page of held locks.
type LockList struct {
	Locks      []LockInfo `json:"locks" nullable:"false" doc:"Held locks in name order."`
	NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

type listOutput struct {
	Body LockList
}

var (
	errLockNotFound   = errorDoc{http.StatusNotFound, "`lock_not_found`: the lock is not held.", domain.ErrLockNotFound}
	errLeaseNotCurent = errorDoc{http.StatusConflict, "`lease_not_current`: the lease expired, was released, or another lease holds the lock.", domain.ErrLeaseNotCurrent}
)

// leaseFromAcquire explains the lease_id of the examples.
const leaseFromAcquire = "Replace lease_id with the one your acquire of this lock returned (POST /locks/{name}/acquire)."

func (s *Server) registerLocks() {
	writes := []errorDoc{errUnauthorized, errForbidden, errDenied, errInvalid, errMalformed, errTooLarge, errMediaType, errUnavailable}
	reads := []errorDoc{errUnauthorized, errForbidden, errDenied, errInvalidName}

	register(s, huma.Operation{
		OperationID: "acquire-lock", Method: http.MethodPost, Path: "/locks/{name}/acquire",
		Summary: "Acquire a lock", Tags: []string{"locks"}, Security: bearer,
		RequestBody: requestExample("owner", "Take the lock for 30 s as client host-a:4711",
			"Sending it again while holding the lock is the idempotent re-acquire: the same lease and token.",
			AcquireRequest{TTLSeconds: 30, Metadata: new("host-a:5432"), Owner: "host-a:4711"}),
		Description: "Grants the lock to your client and returns a lease and a fencing token. The holder is a client, never merely a token: " +
			"your session (`session_id`), or the client named by `owner`, or, with neither, a holder of its own. " +
			"Another acquire of a held lock is refused with `lock_held`, whoever sends it, unless it comes from the same session, or from the same user with the same `owner` (then it is the idempotent re-acquire: same lease and token, expiry extended). " +
			"The grant is on disk before the response is sent.",
	}, s.acquire, append(writes,
		errorDoc{http.StatusConflict, "`lock_held`: another client holds the lock (after `wait_seconds`, if given); `expires_at` and `Retry-After` say when its lease runs out.",
			&domain.LockHeldError{Name: "db/primary", ExpiresAt: exampleTime}},
		errorDoc{http.StatusLocked, "`lock_delayed`: the lock was lost without a release and is in its lock delay; `available_at` and `Retry-After` say when it can be taken.",
			&domain.LockDelayedError{Name: "db/primary", AvailableAt: exampleTime}},
		errorDoc{http.StatusNotFound, "`session_not_found`: no such session of yours.", domain.ErrSessionNotFound},
		errorDoc{http.StatusGone, "`session_expired`: the session has expired.", domain.ErrSessionExpired},
		errorDoc{http.StatusTooManyRequests, quotaCodes("locks` (a new lock) or `waiters` (a queued acquire"),
			&domain.QuotaExceededError{Quota: domain.QuotaLocks, Limit: 100_000}})...)

	register(s, huma.Operation{
		OperationID: "release-lock", Method: http.MethodPost, Path: "/locks/{name}/release",
		Summary: "Release a lock", Tags: []string{"locks"}, Security: bearer,
		RequestBody: requestExample("lease", "Release a lease", leaseFromAcquire, ReleaseRequest{LeaseID: exampleLeaseID}),
		Description: "Frees the lock held by `lease_id`, at once (no lock delay), and hands it to the oldest waiter.",
	}, s.release, append(writes, errLockNotFound, errLeaseNotCurent)...)

	register(s, huma.Operation{
		OperationID: "renew-lock", Method: http.MethodPost, Path: "/locks/{name}/renew",
		Summary: "Renew a lease", Tags: []string{"locks"}, Security: bearer,
		RequestBody: requestExample("lease", "Renew a lease for 60 s from now", leaseFromAcquire,
			RenewRequest{LeaseID: exampleLeaseID, TTLSeconds: 60}),
		Description: "Sets the lease's expiry to now + `ttl_seconds`. An expired lease is never resurrected.",
	}, s.renew, append(writes, errLockNotFound,
		errorDoc{http.StatusConflict, "`lease_not_current`: the lease expired, was released, or another lease holds the lock; `lock_is_ephemeral`: an ephemeral lock is renewed by its session's keepalive.", domain.ErrLeaseNotCurrent})...)

	register(s, huma.Operation{
		OperationID: "validate-lock", Method: http.MethodPost, Path: "/locks/{name}/validate",
		Summary: "Check a fencing token", Tags: []string{"locks"}, Security: bearer,
		RequestBody: requestExample("token", "Is token 42 the current holder's?",
			"On a lock that is not held the answer is valid: false, current_token: null.", ValidateRequest{FencingToken: 42}),
		Description: "Tells a downstream service whether a fencing token still belongs to the lock's current holder (Chubby's CheckSequencer), for services that cannot store the highest token they have seen. `current_token` is always present: the current holder's token, or null when the lock is not held.",
	}, s.validate, writes...)

	register(s, huma.Operation{
		OperationID: "get-lock", Method: http.MethodGet, Path: "/locks/{name}",
		Summary: "Describe a lock", Tags: []string{"locks"}, Security: bearer,
		Description: "Returns the lock's state in your org: `held` (with the holder: org/user plus `owner` or `session_id`), `delayed` (in its lock delay until `available_at`) or `free`, and how many blocking acquires wait for it. The lease id is never shown.",
	}, s.getLock, reads...)

	register(s, huma.Operation{
		OperationID: "list-locks", Method: http.MethodGet, Path: "/locks",
		Summary: "List held locks", Tags: []string{"locks"}, Security: bearer,
		Description: "Lists the held locks of your org in name order, optionally below a prefix, a page at a time. Locks you may not observe (ACL rules) are left out.",
	}, s.listLocks, errUnauthorized, errForbidden, errInvalidQuery)
}

func (s *Server) acquire(ctx context.Context, in *acquireInput) (*leaseOutput, error) {
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	req := application.AcquireInput{Name: name, TTL: domain.DefaultTTL}
	if b := in.Body; b != nil {
		req.TTL = seconds(b.TTLSeconds, domain.DefaultTTL)
		req.Metadata, req.Owner = b.Metadata, b.Owner
		req.Session, req.Ephemeral = domain.SessionID(b.SessionID), b.Ephemeral
		req.Wait = seconds(b.WaitSeconds, 0)
		if b.LockDelaySeconds != nil {
			d := seconds(*b.LockDelaySeconds, 0)
			req.LockDelay = &d
		}
	}
	l, err := s.locks.Acquire(ctx, principal(ctx), req)
	if err != nil {
		return nil, err
	}
	return &leaseOutput{Body: leaseOf("acquired", l)}, nil
}

func (s *Server) release(ctx context.Context, in *releaseInput) (*releaseOutput, error) {
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	if err := s.locks.Release(ctx, principal(ctx), name, domain.LeaseID(in.Body.LeaseID)); err != nil {
		return nil, err
	}
	return &releaseOutput{Body: Released{Status: "released", Name: string(name)}}, nil
}

func (s *Server) renew(ctx context.Context, in *renewInput) (*leaseOutput, error) {
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	ttl := seconds(in.Body.TTLSeconds, domain.DefaultTTL)
	l, err := s.locks.Renew(ctx, principal(ctx), name, domain.LeaseID(in.Body.LeaseID), ttl)
	if err != nil {
		return nil, err
	}
	return &leaseOutput{Body: leaseOf("renewed", l)}, nil
}

func (s *Server) validate(ctx context.Context, in *validateInput) (*validateOutput, error) {
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	valid, cur, err := s.locks.Validate(ctx, principal(ctx), name, domain.FencingToken(in.Body.FencingToken))
	if err != nil {
		return nil, err
	}
	out := &validateOutput{Body: Validation{Valid: valid}}
	if cur != 0 {
		t := uint64(cur)
		out.Body.CurrentToken = &t
	}
	return out, nil
}

func (s *Server) getLock(ctx context.Context, in *struct{ LockNamePath }) (*getLockOutput, error) {
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	v, err := s.locks.Get(ctx, principal(ctx), name)
	if err != nil {
		return nil, err
	}
	info := infoOf(v)
	info.Name = string(name)
	return &getLockOutput{Body: info}, nil
}

func (s *Server) listLocks(ctx context.Context, in *listInput) (*listOutput, error) {
	prefix, after, err := pageQuery(in.Prefix, in.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.locks.List(ctx, principal(ctx), prefix, after, in.Limit)
	if err != nil {
		return nil, err
	}
	return &listOutput{Body: lockListOf(page)}, nil
}

// lockListOf is a page of held locks on the wire.
func lockListOf(page application.Page) LockList {
	out := LockList{Locks: make([]LockInfo, 0, len(page.Locks))}
	for _, v := range page.Locks {
		out.Locks = append(out.Locks, infoOf(v))
	}
	out.NextCursor = encodeCursor(page.Next)
	return out
}

// pageQuery parses the prefix and cursor of a listing by name; each error
// names its parameter.
func pageQuery(prefix, cursor string) (domain.Prefix, domain.LockName, error) {
	p, err := domain.ParsePrefix(prefix)
	if err != nil {
		return domain.Prefix{}, "", atField("query.prefix", err)
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return domain.Prefix{}, "", atField("query.cursor", err)
	}
	return p, after, nil
}

// encodeCursor is the cursor that continues a listing after name ("" for
// none: the page was the last).
func encodeCursor(name domain.LockName) string {
	if name == "" {
		return ""
	}
	return base64.RawURLEncoding.EncodeToString([]byte(name))
}

var errInvalidCursor = domain.Invalid("invalid_cursor", "the cursor is not one this server returned")

func decodeCursor(c string) (domain.LockName, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", errInvalidCursor
	}
	name, err := domain.ParseLockName(string(raw))
	if err != nil {
		return "", errInvalidCursor
	}
	return name, nil
}

// holderOf shows a lock's holder as org/user (only the org when a legacy
// session holder's user is unknown).
func holderOf(l domain.Lock) string { return holderName(l.Key.Org, l.Holder) }

// holderName shows holder h of org as org/user, the one form of a holder
// on the wire: locks, events and watch snapshots alike.
func holderName(org domain.OrgID, h domain.Holder) string {
	if u := h.User(); u != "" {
		return string(org) + "/" + u
	}
	return string(org)
}

func leaseOf(status string, l domain.Lock) Lease {
	return Lease{
		Status: status, Name: string(l.Key.Name), LeaseID: string(l.Lease),
		FencingToken: uint64(l.Token), ExpiresAt: wireTime(l.ExpiresAt), Metadata: l.Metadata,
		Holder: holderOf(l), Owner: l.Holder.Owner(), SessionID: string(l.Holder.SessionOf()), Ephemeral: l.Ephemeral,
	}
}

// infoOf describes a lock as anyone in the org may see it.
func infoOf(v application.LockView) LockInfo {
	info := LockInfo{Status: string(v.Status), Waiters: v.Waiters}
	switch v.Status {
	case application.StatusHeld:
		l := v.Lock
		info.Name, info.FencingToken, info.ExpiresAt, info.Metadata = string(l.Key.Name), uint64(l.Token), wireTimeRef(l.ExpiresAt), l.Metadata
		info.Holder, info.Owner, info.SessionID, info.Ephemeral = holderOf(l), l.Holder.Owner(), string(l.Holder.SessionOf()), l.Ephemeral
	case application.StatusDelayed:
		info.AvailableAt = wireTimeRef(v.AvailableAt)
	}
	return info
}
