package httpapi

import (
	"context"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// exampleLimit is the rate-limit name of the examples.
const exampleLimit = "api/search"

// LimitNamePath is the rate-limit name path parameter; validation is the
// domain's (the lock-name grammar).
type LimitNamePath struct {
	Name string `path:"name" doc:"Limit name: '/'-separated components of [A-Za-z0-9._-], 1-64 bytes each, 1-256 bytes in all (the lock-name rules); '/' is sent as %2F." example:"api/search"`
}

func (p LimitNamePath) limitName() (domain.LockName, error) {
	name, err := domain.ParseLimitName(p.Name)
	if err != nil {
		return "", &fieldError{loc: "path.name", hint: nameHint, err: err}
	}
	return name, nil
}

// CheckLimitRequest is the body of a rate-limit check.
type CheckLimitRequest struct {
	Limit         int `json:"limit" minimum:"1" maximum:"1000000" doc:"Units of work allowed per window, 1-1,000,000." example:"100"`
	WindowSeconds int `json:"window_seconds" minimum:"1" maximum:"86400" doc:"The window in seconds, 1-86,400." example:"60"`
	Cost          int `json:"cost,omitempty" minimum:"1" maximum:"1000000" default:"1" doc:"Units this check takes, 1 up to limit (1 when absent)." example:"1"`
}

type checkLimitInput struct {
	LimitNamePath
	Body CheckLimitRequest
}

// LimitCheck is the answer to a check: 200 when allowed, 429 when not.
type LimitCheck struct {
	Allowed   bool   `json:"allowed" doc:"Whether the work may go ahead; the units were taken only when true."`
	Remaining uint64 `json:"remaining" doc:"Units that could be taken right now (after this check)." example:"99"`
	ResetAt   Time   `json:"reset_at" doc:"When every unit is available again."`
	// A pointer, so that an allowed check has no such field.
	RetryAfterSeconds *float64 `json:"retry_after_seconds,omitempty" doc:"Refused checks only: seconds until this check would be allowed (millisecond precision; Retry-After is the same, rounded up to whole seconds)." example:"0.6"`
}

type checkLimitOutput struct {
	Status     int
	RetryAfter string `header:"Retry-After" hidden:"true"`
	Body       LimitCheck
}

// LimitState is a named limit of the caller's org now.
type LimitState struct {
	Name          string `json:"name" example:"api/search"`
	Limit         uint64 `json:"limit" doc:"Units per window, as the last check set it." example:"100"`
	WindowSeconds int    `json:"window_seconds" example:"60"`
	Remaining     uint64 `json:"remaining" doc:"Units that could be taken right now." example:"100"`
	ResetAt       Time   `json:"reset_at" doc:"When every unit is available again."`
}

type limitOutput struct {
	Body LimitState
}

type listLimitsInput struct {
	Prefix string `query:"prefix" doc:"Only limits equal to or below this path, matched component by component; a trailing / keeps only names strictly below." example:"api/"`
}

// LimitList is the limits of the caller's org that have a counter now.
type LimitList struct {
	Limits []LimitState `json:"limits" nullable:"false" doc:"In name order."`
}

type limitListOutput struct {
	Body LimitList
}

var (
	errLimitNotFound = errorDoc{http.StatusNotFound, "`limit_not_found`: your org has no counter of this name (never checked, reset, or forgotten after a whole idle window).", domain.ErrLimitNotFound}
	errLimitName     = errorDoc{http.StatusUnprocessableEntity, "`invalid_name`: bad limit name.",
		&fieldError{loc: "path.name", hint: nameHint, err: exampleLimitNameError}}
	errLimitInput = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`), such as a limit outside 1-1,000,000; `invalid_name`: bad limit name; `invalid_cost`: cost above limit.",
		atField("body.cost", domain.ErrInvalidCost)}
	errLimitQuota = errorDoc{http.StatusTooManyRequests, quotaCodes("limits"), &domain.QuotaExceededError{Quota: domain.QuotaLimits, Limit: 100_000}}
)

var _, exampleLimitNameError = domain.ParseLimitName("api//search")

func (s *Server) registerLimits() {
	register(s, huma.Operation{
		OperationID: "check-limit", Method: http.MethodPost, Path: "/limits/{name}/check",
		Summary: "Check a rate limit", Tags: []string{"limits"}, Security: bearer,
		RequestBody: requestExample("per-minute", "100 searches a minute", "",
			CheckLimitRequest{Limit: 100, WindowSeconds: 60, Cost: 1}),
		Description: "Takes `cost` units of the named limit of your org if they are available (200, `allowed: true`), else takes nothing and answers 429 with `allowed: false`, `retry_after_seconds` and `Retry-After` — a 429 whose body is this operation's `LimitCheck` (`application/json`), not a problem. " +
			"The algorithm is GCRA (generic cell rate algorithm): a burst of up to `limit` units at once, then one unit every `window_seconds / limit`. " +
			"A check with another limit or window replaces them for the name, keeping the share of the window in use. Counters live in memory: a restart resets them. " +
			"An org keeps at most its `limits` quota of names (100,000 by default); a name idle for a whole window is forgotten when room is needed.",
		Responses: map[string]*huma.Response{"429": s.limitRefused()},
	}, s.checkLimit, errUnauthorized, errForbidden, errDenied, errLimitInput, errMalformed, errTooLarge, errMediaType, errLimitQuota)

	register(s, huma.Operation{
		OperationID: "get-limit", Method: http.MethodGet, Path: "/limits/{name}",
		Summary: "Describe a rate limit", Tags: []string{"limits"}, Security: bearer,
		Description: "The named limit of your org now: its limit and window (as the last check set them), the units available and when all are back. Takes nothing.",
	}, s.getLimit, errUnauthorized, errForbidden, errDenied, errLimitName, errLimitNotFound)

	register(s, huma.Operation{
		OperationID: "list-limits", Method: http.MethodGet, Path: "/limits",
		Summary: "List rate limits", Tags: []string{"limits"}, Security: bearer,
		Description: "The limits of your org that have a counter in memory, in name order.",
	}, s.listLimits, errUnauthorized, errForbidden, errInvalidPrefix)

	register(s, huma.Operation{
		OperationID: "reset-limit", Method: http.MethodDelete, Path: "/limits/{name}", DefaultStatus: http.StatusNoContent,
		Summary: "Reset a rate limit", Tags: []string{"limits"}, Security: bearer,
		Description: "Forgets the named limit's counter: the next check starts with every unit available.",
	}, s.resetLimit, errUnauthorized, errForbidden, errDenied, errLimitName, errLimitNotFound)
}

// limitRefused documents a refused check: 429 with the LimitCheck body and
// Retry-After (withErrors adds the problems of the same status beside it).
func (s *Server) limitRefused() *huma.Response {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[LimitCheck](), true, "LimitCheck")
	retry := 0.6
	return &huma.Response{
		Description: "Too Many Requests. A refused check (`application/json`): the body is a `LimitCheck` with `allowed: false` and `retry_after_seconds`; nothing was taken.",
		Headers: map[string]*huma.Param{"Retry-After": {Description: "Seconds to wait before the check can be allowed, rounded up.",
			Schema: &huma.Schema{Type: huma.TypeInteger, Minimum: new(1.0)}}},
		Content: map[string]*huma.MediaType{"application/json": {Schema: schema,
			Examples: map[string]*huma.Example{"refused": {Summary: "refused", Value: LimitCheck{Remaining: 0, ResetAt: wireTime(exampleTime.Add(time.Minute)), RetryAfterSeconds: &retry}}}}},
	}
}

func (s *Server) checkLimit(ctx context.Context, in *checkLimitInput) (*checkLimitOutput, error) {
	name, err := in.limitName()
	if err != nil {
		return nil, err
	}
	b := in.Body
	l := domain.RateLimit{Limit: uint64(max(b.Limit, 0)), Window: time.Duration(b.WindowSeconds) * time.Second}
	v, err := s.limits.Check(ctx, principal(ctx), name, l, uint64(max(b.Cost, 0)))
	if err != nil {
		return nil, atField(limitFields[domain.CodeOf(err)], err)
	}
	out := &checkLimitOutput{Status: http.StatusOK, Body: LimitCheck{Allowed: v.Allowed, Remaining: v.Remaining, ResetAt: wireTimeUp(v.ResetAt)}}
	if !v.Allowed {
		secs := math.Ceil(float64(v.RetryAfter)/float64(time.Millisecond)) / 1000
		out.Status, out.Body.RetryAfterSeconds = http.StatusTooManyRequests, &secs
		out.RetryAfter = strconv.Itoa(max(1, int(math.Ceil(v.RetryAfter.Seconds()))))
	}
	return out, nil
}

// limitFields names the body field of the limit validation codes.
var limitFields = map[string]string{"invalid_limit": "body.limit", "invalid_window": "body.window_seconds", "invalid_cost": "body.cost"}

func (s *Server) getLimit(ctx context.Context, in *LimitNamePath) (*limitOutput, error) {
	name, err := in.limitName()
	if err != nil {
		return nil, err
	}
	v, err := s.limits.Get(ctx, principal(ctx), name)
	if err != nil {
		return nil, err
	}
	return &limitOutput{Body: limitStateOf(v)}, nil
}

func (s *Server) listLimits(ctx context.Context, in *listLimitsInput) (*limitListOutput, error) {
	prefix, err := domain.ParsePrefix(in.Prefix)
	if err != nil {
		return nil, atField("query.prefix", err)
	}
	vs, err := s.limits.List(ctx, principal(ctx), prefix)
	if err != nil {
		return nil, err
	}
	out := &limitListOutput{Body: LimitList{Limits: make([]LimitState, 0, len(vs))}}
	for _, v := range vs {
		out.Body.Limits = append(out.Body.Limits, limitStateOf(v))
	}
	return out, nil
}

func (s *Server) resetLimit(ctx context.Context, in *LimitNamePath) (*struct{}, error) {
	name, err := in.limitName()
	if err != nil {
		return nil, err
	}
	return nil, s.limits.Reset(ctx, principal(ctx), name)
}

func limitStateOf(v application.LimitView) LimitState {
	return LimitState{Name: string(v.Name), Limit: v.Limit.Limit, WindowSeconds: int(v.Limit.Window / time.Second),
		Remaining: v.Remaining, ResetAt: wireTimeUp(v.ResetAt)}
}

// wireTimeUp is wireTime rounded up to the millisecond: a reset time is
// never shown before it is true.
func wireTimeUp(t time.Time) Time { return wireTime(t.Add(time.Millisecond - 1)) }
