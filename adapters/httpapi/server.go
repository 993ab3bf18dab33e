// Package httpapi is the HTTP adapter: huma operations on the standard
// library mux, the error mapping to problem+json, authentication, request
// ids and the access log.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/octostore/octostore/adapters/httpapi/docsui"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// APIVersion is the version of the HTTP contract, independent of the build.
const APIVersion = "0.1.0"

// MaxBodyBytes is the largest request body accepted (413 above it).
const MaxBodyBytes = 1 << 20

// Engine is what the operations routes need from the application engine.
type Engine interface {
	// Ping checks that storage can be read.
	Ping(ctx context.Context) error
	// Stats returns the writer's counters.
	Stats() application.Stats
	// Health reports whether the last commit failed.
	Health() application.Health
}

// Config configures the HTTP adapter.
type Config struct {
	// Version is the build version reported by /health.
	Version string
	Logger  *slog.Logger
	// Now is the server's clock, the one the application decides expiry
	// with; Retry-After counts from it. time.Now when nil.
	Now func() time.Time
}

// Services are the use cases the API serves. Any may be nil when only the
// OpenAPI description is wanted.
type Services struct {
	Locks    *application.LockService
	Sessions *application.SessionService
	Auth     *application.AuthService
	Engine   Engine
}

// Server is the HTTP API of OctoStore.
type Server struct {
	cfg      Config
	log      *slog.Logger
	locks    *application.LockService
	sessions *application.SessionService
	auth     *application.AuthService
	engine   Engine
	api      huma.API
	handler  http.Handler
}

// New builds the API and its routes. It starts nothing; serve Handler with
// an http.Server.
func New(cfg Config, svc Services) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Server{cfg: cfg, log: cfg.Logger, locks: svc.Locks, sessions: svc.Sessions, auth: svc.Auth, engine: svc.Engine}
	mux := http.NewServeMux()
	hc := huma.DefaultConfig("OctoStore", APIVersion)
	// No $schema field, Link header or /schemas route: clients see plain
	// JSON, and every route but the public ones needs a token.
	hc.CreateHooks = nil
	hc.SchemasPath = ""
	hc.DocsPath = "" // served below from embedded assets, no CDN
	hc.Info.Description = apiDescription
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A user token (`org/user:token` in OCTOSTORE_STATIC_TOKENS, or the token printed at first start)."},
	}
	hc.Tags = []*huma.Tag{
		{Name: "locks", Description: "Acquire, renew, release, inspect and list locks; check fencing tokens."},
		{Name: "sessions", Description: "Liveness leases: ephemeral locks live as long as their session."},
		{Name: "operations", Description: "Health."},
		{Name: "admin", Description: "Operator routes; they need the admin token."},
	}
	hc.Transformers = append(hc.Transformers, s.transformErrors)
	api := humago.New(mux, hc)
	api.UseMiddleware(s.authenticate)
	s.api = api

	s.registerHealth()
	s.registerLocks()
	s.registerSessions()
	s.registerAdmin()
	// huma registers its ErrorModel while learning error shapes; every
	// error response here is a Problem, so drop the unused schemas.
	schemas := api.OpenAPI().Components.Schemas.Map()
	delete(schemas, "ErrorModel")
	delete(schemas, "ErrorDetail")

	docs := docsui.Handler("/openapi.json")
	mux.Handle("GET /docs", docs)
	mux.Handle("GET "+docsui.AssetsPrefix, docs)
	mux.Handle("/", s.fallback(mux))
	s.handler = s.edge(mux)
	return s
}

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// API returns the huma API, for dumping the OpenAPI document.
func (s *Server) API() huma.API { return s.api }

const apiDescription = `OctoStore is a coarse-grained lock service: leader election, one worker per job, small config values.

A lock is advisory; safety comes from **fencing tokens**, which only ever grow (also across restarts): pass the token to the resource you protect and have it refuse a token lower than one it has seen.

Every route except /health, /docs and /openapi.* needs ` + "`Authorization: Bearer <token>`" + `. All names live inside the caller's org. Lock names are '/'-separated paths; inside a URL the name is one path segment, so '/' is sent as %2F (` + "`/locks/db%2Fprimary/acquire`" + `).

Every error is ` + "`application/problem+json`" + ` with a stable ` + "`code`" + `.`

// authenticate is huma middleware: operations with a security requirement
// need a valid user token; the principal travels in the context.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if len(ctx.Operation().Security) == 0 {
		next(ctx)
		return
	}
	scheme, token, ok := strings.Cut(ctx.Header("Authorization"), " ")
	ok = ok && strings.EqualFold(scheme, "Bearer") // auth schemes are case-insensitive (RFC 9110)
	p, err := s.auth.Authenticate(strings.TrimSpace(token))
	if !ok || err != nil {
		s.writeHumaProblem(ctx, s.problemFor(ctx.Context(), domain.ErrUnauthenticated))
		return
	}
	if c, ok := ctx.Context().Value(principalKey).(*caller); ok {
		c.org, c.user = string(p.Org), p.User
	}
	if strings.HasPrefix(ctx.Operation().Path, "/admin/") && !p.Admin {
		s.writeHumaProblem(ctx, s.problemFor(ctx.Context(), domain.ErrAdminOnly))
		return
	}
	next(huma.WithValue(ctx, principalKey, p))
}

// principal returns the authenticated caller of an operation.
func principal(ctx context.Context) domain.Principal {
	p, _ := ctx.Value(principalKey).(domain.Principal)
	return p
}

func (s *Server) writeHumaProblem(ctx huma.Context, p *Problem) {
	p.Instance = escapedPath(ctx)
	p.RequestID = RequestID(ctx.Context())
	for k, vs := range p.headers {
		for _, v := range vs {
			ctx.AppendHeader(k, v)
		}
	}
	ctx.SetHeader("Content-Type", ProblemContentType)
	ctx.SetStatus(p.Status)
	_ = jsonEncode(ctx.BodyWriter(), p)
}

// errorDoc documents one error status: the codes it carries and an
// example error, shown in the OpenAPI description as that response's body.
type errorDoc struct {
	status  int
	codes   string
	example error
}

// exampleTime is the time shown in examples.
var exampleTime = time.Date(2026, 11, 26, 10, 0, 30, 123_000_000, time.UTC)

var (
	errUnauthorized = errorDoc{http.StatusUnauthorized, "`unauthenticated`: missing or unknown bearer token.", domain.ErrUnauthenticated}
	errForbidden    = errorDoc{http.StatusForbidden, "`admin_not_tenant`: the admin token cannot act on locks.", domain.ErrAdminNotTenant}
	errInvalid      = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`); `invalid_name`: bad lock name; `invalid_ttl`, `invalid_metadata`, `invalid_owner`, `owner_with_session`, `invalid_lock_delay`, `invalid_wait`, `ephemeral_needs_session`.",
		&fieldError{loc: "body.ttl_seconds", err: domain.CheckTTL(2 * domain.MaxTTL)}}
	errInvalidName = errorDoc{http.StatusUnprocessableEntity, "`invalid_name`: bad lock name.",
		&fieldError{loc: "path.name", hint: nameHint, err: exampleNameError}}
	errInvalidQuery = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_name`: bad prefix; `invalid_cursor`.",
		atField("query.cursor", errInvalidCursor)}
	errMalformed = errorDoc{http.StatusBadRequest, "`malformed_request`: the body is not valid JSON.",
		newProblem(http.StatusBadRequest, "malformed_request", humaDetails[http.StatusBadRequest])}
	errTooLarge = errorDoc{http.StatusRequestEntityTooLarge, "`body_too_large`: the body exceeds 1 MiB.",
		newProblem(http.StatusRequestEntityTooLarge, "body_too_large", "request body is too large")}
	errMediaType = errorDoc{http.StatusUnsupportedMediaType, "`unsupported_media_type`: send `Content-Type: application/json`.",
		newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", humaDetails[http.StatusUnsupportedMediaType])}
	errUnavailable = errorDoc{http.StatusServiceUnavailable, "`unavailable`: the change could not be made durable; nothing was changed. Retry. `shutting_down`: the server is stopping.", domain.ErrUnavailable}
	errInternal    = errorDoc{http.StatusInternalServerError, "`internal`: internal error; the server log has the cause under the request id.", errors.New("example")}
)

// exampleNameError is what an unencoded '/' typically produces.
var _, exampleNameError = domain.ParseLockName("db//primary")

// withErrors documents op's error responses with the Problem schema and an
// example of each.
func (s *Server) withErrors(op huma.Operation, docs ...errorDoc) huma.Operation {
	reg := s.api.OpenAPI().Components.Schemas
	schema := reg.Schema(reflect.TypeFor[Problem](), true, "Problem")
	if op.Responses == nil {
		op.Responses = map[string]*huma.Response{}
	}
	docs = append(docs, errInternal)
	for _, d := range docs {
		ex := *problemOf(d.example, exampleTime)
		ex.Instance, ex.RequestID = exampleInstance(op.Path), "5f0c2a9e81d4b7c3"
		op.Responses[strconv.Itoa(d.status)] = &huma.Response{
			Description: http.StatusText(d.status) + ". " + d.codes,
			Content:     map[string]*huma.MediaType{ProblemContentType: {Schema: schema, Example: ex}},
		}
	}
	op.MaxBodyBytes = MaxBodyBytes
	return op
}

// exampleInstance fills a path template with example values.
func exampleInstance(path string) string {
	return strings.NewReplacer("{name}", "db%2Fprimary", "{id}", "s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44").Replace(path)
}

// register adds an operation whose handler is h: its errors go through
// the one mapping to problems, and its error responses are documented.
func register[I, O any](s *Server, op huma.Operation, h func(context.Context, *I) (*O, error), docs ...errorDoc) {
	huma.Register(s.api, s.withErrors(op, docs...), func(ctx context.Context, in *I) (*O, error) {
		out, err := h(ctx, in)
		if err != nil {
			return nil, s.problemFor(ctx, err)
		}
		return out, nil
	})
}

var bearer = []map[string][]string{{"bearer": {}}}
