package httpapi

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// ProblemContentType is the media type of every error response (RFC 9457).
const ProblemContentType = "application/problem+json"

// Problem is the one shape of every error response: RFC 9457 problem
// details plus a stable machine-readable code.
type Problem struct {
	Title       string        `json:"title" doc:"Short summary of the problem class (the HTTP status text)" example:"Conflict"`
	Status      int           `json:"status" doc:"HTTP status code" example:"409"`
	Code        string        `json:"code" doc:"Stable machine-readable error code; see the operation's responses for the codes it can return" example:"lock_held"`
	Detail      string        `json:"detail,omitempty" doc:"Human-readable explanation of this occurrence" example:"lock db/primary is held by another holder"`
	Instance    string        `json:"instance,omitempty" doc:"The request path"`
	RequestID   string        `json:"request_id,omitempty" doc:"The X-Request-Id of the request, for matching server logs"`
	Errors      []*FieldError `json:"errors,omitempty" doc:"Per-field validation errors"`
	ExpiresAt   *Time         `json:"expires_at,omitempty" doc:"For lock_held: when the current lease runs out unless renewed"`
	AvailableAt *Time         `json:"available_at,omitempty" doc:"For lock_delayed: when the lock can be acquired again"`
	Quota       string        `json:"quota,omitempty" doc:"For quota_exceeded: the quota reached (locks, sessions, waiters, webhooks, watch_streams, config_keys, config_bytes, flags or limits)" example:"locks"`
	Limit       *int          `json:"limit,omitempty" doc:"For quota_exceeded: the org's limit for that quota" example:"100000"`
	headers     http.Header
}

// FieldError names one offending input.
type FieldError struct {
	Location string `json:"location,omitempty" doc:"Where the error is, e.g. body.ttl_seconds or path.name" example:"body.ttl_seconds"`
	Message  string `json:"message" doc:"What is wrong with it" example:"expected number <= 3600"`
}

// Error implements error.
func (p *Problem) Error() string { return p.Detail }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders implements huma.HeadersError (Retry-After, WWW-Authenticate).
func (p *Problem) GetHeaders() http.Header { return p.headers }

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(string) string { return ProblemContentType }

func newProblem(status int, code, detail string) *Problem {
	return &Problem{Title: http.StatusText(status), Status: status, Code: code, Detail: detail}
}

// statusOf is the one table from error kinds to HTTP statuses.
var statusOf = map[domain.Kind]int{
	domain.KindInternal:         http.StatusInternalServerError,
	domain.KindUnavailable:      http.StatusServiceUnavailable,
	domain.KindInvalid:          http.StatusUnprocessableEntity,
	domain.KindNotFound:         http.StatusNotFound,
	domain.KindConflict:         http.StatusConflict,
	domain.KindUnauthenticated:  http.StatusUnauthorized,
	domain.KindPermissionDenied: http.StatusForbidden,
	domain.KindGone:             http.StatusGone,
	domain.KindLocked:           http.StatusLocked,
	domain.KindTooMany:          http.StatusTooManyRequests,
	domain.KindPrecondition:     http.StatusPreconditionFailed,
	domain.KindTooLarge:         http.StatusRequestEntityTooLarge,
}

// fieldError attaches the input location that caused a validation error,
// and a hint for the client where the domain's message needs one.
type fieldError struct {
	loc  string
	hint string
	err  error
}

func (f *fieldError) Error() string { return f.loc + ": " + f.err.Error() }
func (f *fieldError) Unwrap() error { return f.err }

func atField(loc string, err error) error {
	if err == nil || loc == "" {
		return err
	}
	return &fieldError{loc: loc, err: err}
}

// bodyFields names the request body field that a validation error code is
// about: the domain speaks of leases and owners, the wire of ttl_seconds.
var bodyFields = map[string]string{
	"invalid_ttl":             "body.ttl_seconds",
	"invalid_metadata":        "body.metadata",
	"invalid_lock_delay":      "body.lock_delay_seconds",
	"invalid_wait":            "body.wait_seconds",
	"invalid_owner":           "body.owner",
	"owner_with_session":      "body.owner",
	"ephemeral_needs_session": "body.session_id",
	// Only creating a webhook has these fields.
	"invalid_webhook_url":         "body.url",
	"webhook_address_not_allowed": "body.url",
	"invalid_event_type":          "body.events",
	"invalid_webhook_secret":      "body.secret",
	// Config writes.
	"invalid_value":       "body.value",
	"invalid_description": "body.description",
}

// problemFor converts any error of a handler into a Problem. Only domain
// errors keep their message; anything else is logged here, once, and the
// client learns nothing but "internal error". A client that went away is
// logged at INFO: it is not the server's failure.
func (s *Server) problemFor(ctx context.Context, err error) *Problem {
	p := problemOf(err, s.cfg.Now())
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		s.log.InfoContext(ctx, "request ended before it completed", "request_id", RequestID(ctx), "err", err)
	case p.Status == http.StatusInternalServerError:
		s.log.ErrorContext(ctx, "internal error", "request_id", RequestID(ctx), "err", err)
	case domain.KindOf(err) == domain.KindUnavailable:
		s.log.WarnContext(ctx, "request refused: unavailable", "request_id", RequestID(ctx), "err", err)
	}
	return p
}

// problemOf is the one mapping from errors to problems, without logging;
// the OpenAPI examples are built with it too. now is the server's time,
// from which Retry-After counts.
func problemOf(err error, now time.Time) *Problem {
	if p, ok := errors.AsType[*Problem](err); ok {
		return p
	}
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return newProblem(http.StatusServiceUnavailable, "request_cancelled", "the request ended before it completed")
		}
		return newProblem(http.StatusInternalServerError, "internal", "internal error")
	}
	p := newProblem(statusOf[de.Kind], de.Code, de.Msg)
	// Only a validation error is about an input (an admin token refused
	// on a route with a body is not).
	if fe, ok := errors.AsType[*fieldError](err); ok && de.Kind == domain.KindInvalid {
		p.Detail += fe.hint
		p.Errors = []*FieldError{{Location: fe.loc, Message: p.Detail}}
	} else if loc, ok := bodyFields[de.Code]; ok && de.Kind == domain.KindInvalid {
		p.Errors = []*FieldError{{Location: loc, Message: de.Msg}}
	}
	if held, ok := errors.AsType[*domain.LockHeldError](err); ok {
		p.Detail = held.Error()
		p.ExpiresAt = wireTimeRef(held.ExpiresAt)
		p.headers = retryAfter(held.ExpiresAt, now)
	}
	if delayed, ok := errors.AsType[*domain.LockDelayedError](err); ok {
		p.Detail = delayed.Error()
		p.AvailableAt = wireTimeRef(delayed.AvailableAt)
		p.headers = retryAfter(delayed.AvailableAt, now)
	}
	if c, ok := errors.AsType[*domain.VersionConflictError](err); ok {
		p.Detail = c.Error()
	}
	if big, ok := errors.AsType[*domain.ValueTooLargeError](err); ok {
		p.Detail = big.Error()
	}
	if q, ok := errors.AsType[*domain.QuotaExceededError](err); ok {
		p.Detail = q.Error()
		p.Quota, p.Limit = string(q.Quota), &q.Limit
	}
	if u, ok := errors.AsType[*domain.TeamInUseError](err); ok {
		p.Detail = u.Error()
	}
	if de.Kind == domain.KindUnauthenticated {
		p.headers = http.Header{"WWW-Authenticate": {`Bearer realm="octostore"`}}
	}
	return p
}

// retryAfter tells a client how many whole seconds to wait from now until
// at (at least 1).
func retryAfter(at, now time.Time) http.Header {
	wait := math.Ceil(at.Sub(now).Seconds())
	return http.Header{"Retry-After": {strconv.Itoa(max(1, int(wait)))}}
}

// statusCodes names by status the errors that the HTTP machinery produces
// itself (huma's decoding, validation and limits; net/http's own answers),
// so that every error a client can see has a stable code.
var statusCodes = map[int]string{
	http.StatusBadRequest:                   "malformed_request",
	http.StatusNotFound:                     "not_found",
	http.StatusMethodNotAllowed:             "method_not_allowed",
	http.StatusNotAcceptable:                "not_acceptable",
	http.StatusRequestTimeout:               "request_timeout",
	http.StatusRequestEntityTooLarge:        "body_too_large",
	http.StatusUnsupportedMediaType:         "unsupported_media_type",
	http.StatusRequestedRangeNotSatisfiable: "range_not_satisfiable",
	http.StatusExpectationFailed:            "expectation_failed",
	http.StatusUnprocessableEntity:          "validation_failed",
	http.StatusRequestHeaderFieldsTooLarge:  "headers_too_large",
	http.StatusInternalServerError:          "internal",
	http.StatusNotImplemented:               "unsupported_transfer_encoding", // net/http's only 501
	http.StatusHTTPVersionNotSupported:      "http_version_not_supported",
}

func codeOfStatus(status int) string {
	if code, ok := statusCodes[status]; ok {
		return code
	}
	return fmt.Sprintf("http_%d", status)
}

// humaDetails replaces huma's generic "validation failed" where the status
// says more.
var humaDetails = map[int]string{
	http.StatusBadRequest:           "the request body is not valid JSON",
	http.StatusUnsupportedMediaType: "unsupported content type; send Content-Type: application/json",
	http.StatusUnprocessableEntity:  "the request does not match the schema; see errors",
}

// transformErrors is a huma transformer that turns huma's built-in
// ErrorModel into our Problem, dropping echoed values and, for 5xx, any
// internal text.
func (s *Server) transformErrors(ctx huma.Context, _ string, v any) (any, error) {
	em, ok := v.(*huma.ErrorModel)
	if !ok {
		if p, ok := v.(*Problem); ok {
			p.Instance = escapedPath(ctx)
			p.RequestID = RequestID(ctx.Context())
		}
		return v, nil
	}
	if em.Status >= 500 {
		s.log.ErrorContext(ctx.Context(), "internal error", "request_id", RequestID(ctx.Context()), "err", em.Error())
	}
	p := humaProblem(em.Status, em.Detail, em.Errors...)
	p.Instance = escapedPath(ctx)
	p.RequestID = RequestID(ctx.Context())
	return p, nil
}

// humaProblem is the problem for an error huma reports (status, detail and
// the inputs at fault), with our code and detail for its status.
func humaProblem(status int, detail string, errs ...*huma.ErrorDetail) *Problem {
	p := newProblem(status, codeOfStatus(status), detail)
	if d, ok := humaDetails[status]; ok {
		p.Detail = d
	}
	if status >= 500 {
		p.Detail = "internal error"
		return p
	}
	for _, d := range errs {
		if d != nil {
			p.Errors = append(p.Errors, &FieldError{Location: d.Location, Message: d.Message})
		}
	}
	return p
}

// writeProblem answers r with p where huma does not serialize it: router
// fallbacks, middleware (huma's and ours), panics. Errors that net/http
// writes on the connection itself are rendered by p.write too (conn.go).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	p.Instance = r.URL.EscapedPath()
	p.RequestID = RequestID(r.Context())
	p.write(w)
}

// write renders p. It is the one writer of problems that huma does not
// serialize itself (those a handler returns, which transformErrors sees).
func (p *Problem) write(w http.ResponseWriter) {
	for k, vs := range p.headers {
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.WriteHeader(p.Status)
	_ = jsonEncode(w, p)
}

// escapedPath is the request path as the client sent it (%2F kept).
func escapedPath(ctx huma.Context) string {
	u := ctx.URL()
	return u.EscapedPath()
}
