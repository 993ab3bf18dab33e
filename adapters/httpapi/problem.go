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
	ExpiresAt   *time.Time    `json:"expires_at,omitempty" doc:"For lock_held: when the current lease runs out unless renewed"`
	AvailableAt *time.Time    `json:"available_at,omitempty" doc:"For lock_delayed: when the lock can be acquired again"`
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
}

// fieldError attaches the input location that caused a validation error.
type fieldError struct {
	loc string
	err error
}

func (f *fieldError) Error() string { return f.loc + ": " + f.err.Error() }
func (f *fieldError) Unwrap() error { return f.err }

func atField(loc string, err error) error {
	if err == nil || loc == "" {
		return err
	}
	return &fieldError{loc: loc, err: err}
}

// problemFor converts any error from the application into a Problem. Only
// domain errors keep their message; anything else is logged here, once, and
// the client learns nothing but "internal error".
func (s *Server) problemFor(ctx context.Context, err error) *Problem {
	var de *domain.Error
	if !errors.As(err, &de) || de.Kind == domain.KindInternal {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return newProblem(http.StatusServiceUnavailable, "request_cancelled", "the request ended before it completed")
		}
		s.log.ErrorContext(ctx, "internal error", "request_id", RequestID(ctx), "err", err)
		return newProblem(http.StatusInternalServerError, "internal", "internal error")
	}
	status := statusOf[de.Kind]
	if de.Kind == domain.KindUnavailable {
		s.log.WarnContext(ctx, "request refused: unavailable", "request_id", RequestID(ctx), "err", err)
	}
	p := newProblem(status, de.Code, de.Msg)
	// Handlers name the input an operation's errors may be about; only a
	// validation error is about it (an admin token refused is not).
	var fe *fieldError
	if de.Kind == domain.KindInvalid && errors.As(err, &fe) {
		p.Errors = []*FieldError{{Location: fe.loc, Message: de.Msg}}
	}
	var held *domain.LockHeldError
	if errors.As(err, &held) {
		p.Detail = held.Error()
		at := wireTime(held.ExpiresAt)
		p.ExpiresAt = &at
		p.headers = retryAfter(held.ExpiresAt)
	}
	var delayed *domain.LockDelayedError
	if errors.As(err, &delayed) {
		p.Detail = delayed.Error()
		at := wireTime(delayed.AvailableAt)
		p.AvailableAt = &at
		p.headers = retryAfter(delayed.AvailableAt)
	}
	if de.Kind == domain.KindUnauthenticated {
		p.headers = http.Header{"WWW-Authenticate": {`Bearer realm="octostore"`}}
	}
	return p
}

// retryAfter tells a client how many whole seconds to wait (at least 1).
func retryAfter(at time.Time) http.Header {
	wait := math.Ceil(time.Until(at).Seconds())
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
	p := newProblem(em.Status, codeOfStatus(em.Status), em.Detail)
	if d, ok := humaDetails[em.Status]; ok {
		p.Detail = d
	}
	if em.Status >= 500 {
		s.log.ErrorContext(ctx.Context(), "internal error", "request_id", RequestID(ctx.Context()), "err", em.Error())
		p.Detail = "internal error"
	} else {
		for _, d := range em.Errors {
			if d == nil {
				continue
			}
			p.Errors = append(p.Errors, &FieldError{Location: d.Location, Message: d.Message})
		}
	}
	p.Instance = escapedPath(ctx)
	p.RequestID = RequestID(ctx.Context())
	return p, nil
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
