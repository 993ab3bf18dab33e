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
// embedded field). Validation is the domain's
// (one grammar everywhere), so the schema only documents it.
type LockNamePath struct {
	Name string `path:"name" doc:"Lock name: '/'-separated components of [A-Za-z0-9._-], 1-64 bytes each, 1-256 bytes in all. Send '/' as %2F." example:"db%2Fprimary"`
}

type acquireBody struct {
	TTLSeconds       int     `json:"ttl_seconds,omitempty" minimum:"1" maximum:"3600" default:"60" doc:"Lease length in seconds (1-3600). A re-acquire by the holder extends, never shortens, the expiry. Not used for an ephemeral lock."`
	Metadata         *string `json:"metadata,omitempty" maxLength:"1024" doc:"Free text stored with the lock, at most 1024 bytes, shown to readers (e.g. the holder's address)."`
	SessionID        string  `json:"session_id,omitempty" maxLength:"128" doc:"Hold the lock as this session (yours) instead of as your user: processes sharing a token then contend properly, each with its own session."`
	Ephemeral        bool    `json:"ephemeral,omitempty" doc:"The lock lives exactly as long as session_id (required): a session keepalive keeps it, and it is freed when the session ends."`
	LockDelaySeconds *int    `json:"lock_delay_seconds,omitempty" minimum:"0" maximum:"60" doc:"After the lock is lost without an explicit release (TTL or session ran out), nobody can take it for this long (0-60; default from the server's locks.default_lock_delay)."`
	WaitSeconds      int     `json:"wait_seconds,omitempty" minimum:"0" maximum:"60" default:"0" doc:"If the lock is busy, wait up to this long for it, first come first served (0-60)."`
}

type acquireInput struct {
	LockNamePath
	Body *acquireBody `required:"false"`
}

type leaseBody struct {
	Status       string    `json:"status" enum:"acquired,renewed" doc:"What happened"`
	Name         string    `json:"name" example:"db/primary"`
	LeaseID      string    `json:"lease_id" doc:"Identifies this grant; needed to renew or release. Keep it private." example:"L42-9f86d081884c7d65"`
	FencingToken uint64    `json:"fencing_token" doc:"Strictly increasing over every grant of this server, never reused. Pass it to the resource you protect." example:"42"`
	ExpiresAt    time.Time `json:"expires_at" doc:"When the lease runs out unless renewed (server clock)."`
	Metadata     string    `json:"metadata" doc:"The lock's metadata."`
	SessionID    string    `json:"session_id,omitempty" doc:"The holder session, for a lock taken with session_id."`
	Ephemeral    bool      `json:"ephemeral,omitempty" doc:"The lock lives exactly as long as its session."`
}

type leaseOutput struct {
	Body leaseBody
}

type releaseInput struct {
	LockNamePath
	Body struct {
		LeaseID string `json:"lease_id" minLength:"1" maxLength:"128" doc:"The lease_id returned by acquire."`
	}
}

type releaseOutput struct {
	Body struct {
		Status string `json:"status" enum:"released" doc:"Always released"`
		Name   string `json:"name" example:"db/primary"`
	}
}

type renewInput struct {
	LockNamePath
	Body struct {
		LeaseID    string `json:"lease_id" minLength:"1" maxLength:"128" doc:"The lease_id returned by acquire."`
		TTLSeconds int    `json:"ttl_seconds,omitempty" minimum:"1" maximum:"3600" default:"60" doc:"New lease length from now, in seconds (1-3600)."`
	}
}

type lockInfo struct {
	Name         string     `json:"name" example:"db/primary"`
	Status       string     `json:"status" enum:"held,free" doc:"held, or free (never acquired, released or expired)"`
	FencingToken uint64     `json:"fencing_token,omitempty" doc:"Token of the current grant (held locks only)."`
	ExpiresAt    *time.Time `json:"expires_at,omitempty" doc:"When the current lease runs out unless renewed (held locks only)."`
	Metadata     string     `json:"metadata,omitempty" doc:"The lock's metadata (held locks only)."`
	Holder       string     `json:"holder,omitempty" doc:"Who holds it: user:<name> for a lock taken with a user token, session:<id> for one taken with a session." example:"user:alice"`
	Ephemeral    bool       `json:"ephemeral,omitempty" doc:"The lock lives exactly as long as its session."`
}

type validateInput struct {
	LockNamePath
	Body struct {
		FencingToken uint64 `json:"fencing_token" minimum:"1" doc:"The token to check."`
	}
}

type validateOutput struct {
	Body struct {
		Valid        bool   `json:"valid" doc:"True only while this token's holder still holds the lock."`
		CurrentToken uint64 `json:"current_token,omitempty" doc:"The token of the current holder; absent when the lock is free."`
	}
}

type getOutput struct {
	Body lockInfo
}

type listInput struct {
	Prefix string `query:"prefix" doc:"Only names equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below." example:"db/"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
	Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor from the previous page."`
}

type listOutput struct {
	Body struct {
		Locks      []lockInfo `json:"locks" doc:"Held locks in name order."`
		NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
	}
}

func (s *Server) registerLocks() {
	lockErrs := []errorDoc{errUnauthorized, errForbidden, errInvalid, errMalformed, errTooLarge, errMediaType, errUnavailable}

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "acquire-lock", Method: http.MethodPost, Path: "/locks/{name}/acquire",
		Summary: "Acquire a lock", Tags: []string{"locks"}, Security: bearer,
		Description: "Grants the lock to the caller and returns a lease and a fencing token. The holder of a lock taken with a user token is the user: processes sharing a token share the lock, and an acquire by the current holder returns the same lease and token and extends the expiry. The grant is on disk before the response is sent.",
	}, append(lockErrs,
		errorDoc{http.StatusConflict, "`lock_held`: another holder holds the lock (after `wait_seconds`, if given); `expires_at` and `Retry-After` say when its lease runs out."},
		errorDoc{http.StatusLocked, "`lock_delayed`: the lock was lost without a release and is in its lock delay; `available_at` and `Retry-After` say when it can be taken."},
		errorDoc{http.StatusNotFound, "`session_not_found`: no such session of yours."},
		errorDoc{http.StatusGone, "`session_expired`: the session has expired."})...),
		func(ctx context.Context, in *acquireInput) (*leaseOutput, error) {
			name, err := domain.ParseLockName(in.Name)
			if err != nil {
				return nil, s.problemFor(ctx, atField("path.name", err))
			}
			req := application.AcquireInput{Name: name, TTL: domain.DefaultTTL}
			if b := in.Body; b != nil {
				if b.TTLSeconds != 0 {
					req.TTL = time.Duration(b.TTLSeconds) * time.Second
				}
				req.Metadata = b.Metadata
				req.Session, req.Ephemeral = domain.SessionID(b.SessionID), b.Ephemeral
				req.Wait = time.Duration(b.WaitSeconds) * time.Second
				if b.LockDelaySeconds != nil {
					d := time.Duration(*b.LockDelaySeconds) * time.Second
					req.LockDelay = &d
				}
			}
			l, err := s.locks.Acquire(ctx, principal(ctx), req)
			if err != nil {
				return nil, s.problemFor(ctx, atField(fieldOf(err), err))
			}
			return &leaseOutput{Body: leaseOf("acquired", l)}, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "release-lock", Method: http.MethodPost, Path: "/locks/{name}/release",
		Summary: "Release a lock", Tags: []string{"locks"}, Security: bearer,
		Description: "Frees the lock held by `lease_id`, at once (no lock delay).",
	}, append(lockErrs,
		errorDoc{http.StatusNotFound, "`lock_not_found`: the lock is not held."},
		errorDoc{http.StatusConflict, "`lease_not_current`: the lease expired, was released, or another lease holds the lock."})...),
		func(ctx context.Context, in *releaseInput) (*releaseOutput, error) {
			name, err := domain.ParseLockName(in.Name)
			if err != nil {
				return nil, s.problemFor(ctx, atField("path.name", err))
			}
			if err := s.locks.Release(ctx, principal(ctx), name, domain.LeaseID(in.Body.LeaseID)); err != nil {
				return nil, s.problemFor(ctx, err)
			}
			out := &releaseOutput{}
			out.Body.Status, out.Body.Name = "released", string(name)
			return out, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "renew-lock", Method: http.MethodPost, Path: "/locks/{name}/renew",
		Summary: "Renew a lease", Tags: []string{"locks"}, Security: bearer,
		Description: "Sets the lease's expiry to now + `ttl_seconds`. An expired lease is never resurrected.",
	}, append(lockErrs,
		errorDoc{http.StatusNotFound, "`lock_not_found`: the lock is not held."},
		errorDoc{http.StatusConflict, "`lease_not_current`: the lease expired, was released, or another lease holds the lock; `lock_is_ephemeral`: an ephemeral lock is renewed by its session's keepalive."})...),
		func(ctx context.Context, in *renewInput) (*leaseOutput, error) {
			name, err := domain.ParseLockName(in.Name)
			if err != nil {
				return nil, s.problemFor(ctx, atField("path.name", err))
			}
			ttl := domain.DefaultTTL
			if in.Body.TTLSeconds != 0 {
				ttl = time.Duration(in.Body.TTLSeconds) * time.Second
			}
			l, err := s.locks.Renew(ctx, principal(ctx), name, domain.LeaseID(in.Body.LeaseID), ttl)
			if err != nil {
				return nil, s.problemFor(ctx, atField(fieldOf(err), err))
			}
			return &leaseOutput{Body: leaseOf("renewed", l)}, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "validate-lock", Method: http.MethodPost, Path: "/locks/{name}/validate",
		Summary: "Check a fencing token", Tags: []string{"locks"}, Security: bearer,
		Description: "Tells a downstream service whether a fencing token still belongs to the lock's current holder (Chubby's CheckSequencer), for services that cannot store the highest token they have seen.",
	}, lockErrs...),
		func(ctx context.Context, in *validateInput) (*validateOutput, error) {
			name, err := domain.ParseLockName(in.Name)
			if err != nil {
				return nil, s.problemFor(ctx, atField("path.name", err))
			}
			valid, cur, err := s.locks.Validate(ctx, principal(ctx), name, domain.FencingToken(in.Body.FencingToken))
			if err != nil {
				return nil, s.problemFor(ctx, err)
			}
			out := &validateOutput{}
			out.Body.Valid, out.Body.CurrentToken = valid, uint64(cur)
			return out, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "get-lock", Method: http.MethodGet, Path: "/locks/{name}",
		Summary: "Describe a lock", Tags: []string{"locks"}, Security: bearer,
		Description: "Returns the lock's state in the caller's org. A lock nobody holds is `free`. The lease id is never shown.",
	}, errUnauthorized, errForbidden, errInvalid),
		func(ctx context.Context, in *struct{ LockNamePath }) (*getOutput, error) {
			name, err := domain.ParseLockName(in.Name)
			if err != nil {
				return nil, s.problemFor(ctx, atField("path.name", err))
			}
			l, err := s.locks.Get(ctx, principal(ctx), name)
			if err != nil {
				return nil, s.problemFor(ctx, err)
			}
			info := infoOf(l)
			info.Name = string(name)
			return &getOutput{Body: info}, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "list-locks", Method: http.MethodGet, Path: "/locks",
		Summary: "List held locks", Tags: []string{"locks"}, Security: bearer,
		Description: "Lists the held locks of the caller's org in name order, optionally below a prefix, a page at a time.",
	}, errUnauthorized, errForbidden, errInvalid),
		func(ctx context.Context, in *listInput) (*listOutput, error) {
			prefix, err := domain.ParsePrefix(in.Prefix)
			if err != nil {
				return nil, s.problemFor(ctx, atField("query.prefix", err))
			}
			after, err := decodeCursor(in.Cursor)
			if err != nil {
				return nil, s.problemFor(ctx, atField("query.cursor", err))
			}
			page, err := s.locks.List(ctx, principal(ctx), prefix, after, in.Limit)
			if err != nil {
				return nil, s.problemFor(ctx, err)
			}
			out := &listOutput{}
			out.Body.Locks = make([]lockInfo, 0, len(page.Locks))
			for _, l := range page.Locks {
				out.Body.Locks = append(out.Body.Locks, infoOf(l))
			}
			if page.Next != "" {
				out.Body.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(page.Next))
			}
			return out, nil
		})
}

// fieldOf names the input field a validation error of acquire/renew is about.
func fieldOf(err error) string {
	switch domain.CodeOf(err) {
	case "invalid_ttl":
		return "body.ttl_seconds"
	case "invalid_metadata":
		return "body.metadata"
	case "invalid_lock_delay":
		return "body.lock_delay_seconds"
	case "invalid_wait":
		return "body.wait_seconds"
	case "ephemeral_needs_session":
		return "body.session_id"
	}
	return ""
}

func decodeCursor(c string) (domain.LockName, error) {
	if c == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", domain.Invalid("invalid_cursor", "cursor is not one this server returned")
	}
	name, err := domain.ParseLockName(string(raw))
	if err != nil {
		return "", domain.Invalid("invalid_cursor", "cursor is not one this server returned")
	}
	return name, nil
}

// wireTime is how times leave the server: UTC, millisecond precision, the
// same precision they are stored with.
func wireTime(t time.Time) time.Time { return t.UTC().Truncate(time.Millisecond) }

func leaseOf(status string, l domain.Lock) leaseBody {
	return leaseBody{
		Status: status, Name: string(l.Key.Name), LeaseID: string(l.Lease),
		FencingToken: uint64(l.Token), ExpiresAt: wireTime(l.ExpiresAt), Metadata: l.Metadata,
		SessionID: string(l.Holder.SessionOf()), Ephemeral: l.Ephemeral,
	}
}

func infoOf(l domain.Lock) lockInfo {
	if !l.Exists() {
		return lockInfo{Status: "free"}
	}
	exp := wireTime(l.ExpiresAt)
	return lockInfo{
		Name: string(l.Key.Name), Status: "held", FencingToken: uint64(l.Token),
		ExpiresAt: &exp, Metadata: l.Metadata, Holder: string(l.Holder), Ephemeral: l.Ephemeral,
	}
}
