// Package httpapi is the HTTP adapter: huma operations on the standard
// library mux, the error mapping to problem+json, authentication, request
// ids and the access log.
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/octostore/octostore/adapters/httpapi/adminui"
	"github.com/octostore/octostore/adapters/httpapi/docsui"
	"github.com/octostore/octostore/adapters/httpapi/statusui"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

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
	// Gauges returns the live state's sizes.
	Gauges() application.Gauges
	// Ready reports whether the state is restored and the writer runs.
	Ready() bool
}

// Config configures the HTTP adapter.
type Config struct {
	// Version is the build version, reported by /health and as the
	// OpenAPI description's info.version.
	Version string
	Logger  *slog.Logger
	// Now is the server's clock, the one the application decides expiry
	// with; Retry-After counts from it. time.Now when nil.
	Now func() time.Time
	// WatchHeartbeat is how long a watch stream may stay silent before a
	// comment line is sent, so that proxies keep it open (15 s when 0).
	WatchHeartbeat time.Duration
	// WatchWriteTimeout bounds each write to a watch stream: a client that
	// stops reading for this long loses its stream (1 min when 0).
	WatchWriteTimeout time.Duration
	// DashboardURL is where a GitHub sign-in ends, with the one-time
	// exchange code in the fragment.
	DashboardURL string
	// Metrics serves GET /metrics (the Prometheus text format); nil
	// answers an empty exposition.
	Metrics http.Handler
	// MetricsPublic lets anyone scrape GET /metrics; otherwise it needs
	// the admin token.
	MetricsPublic bool
	// Requests is told about every answered request, for metrics; nil
	// for nobody.
	Requests RequestObserver
	// APIRate is how many requests per second each principal (org/user,
	// or the admin) may make on average, and APIBurst how many at once;
	// beyond them the answer is 429 rate_limited. APIRate 0 turns the
	// protection off.
	APIRate  float64
	APIBurst int
	// ConfigWriteRate is how many bytes of config write bodies each org
	// may send per second on average, with a second's worth (at least one
	// largest body) at once; beyond, the answer is 429 rate_limited. 0
	// turns the limit off.
	ConfigWriteRate int
}

// Services are the use cases the API serves. Any may be nil when only the
// OpenAPI description is wanted.
type Services struct {
	Locks    *application.LockService
	Sessions *application.SessionService
	Auth     *application.AuthService
	Engine   Engine
	Events   *application.EventService
	Webhooks *application.WebhookService
	Orgs     *application.OrgService
	Quotas   *application.QuotaService
	Access   *application.AccessService
	Login    *application.LoginService
	// Admin holds the reads of the admin dashboard.
	Admin  *application.AdminService
	Config *application.ConfigService
	Flags  *application.FlagService
	Limits *application.LimitService
	// GitHub signs users in; nil when GitHub sign-in is not configured.
	GitHub GitHub
}

// Server is the HTTP API of OctoStore.
type Server struct {
	cfg      Config
	log      *slog.Logger
	locks    *application.LockService
	sessions *application.SessionService
	auth     *application.AuthService
	engine   Engine
	events   *application.EventService
	webhooks *application.WebhookService
	orgs     *application.OrgService
	quotas   *application.QuotaService
	access   *application.AccessService
	login    *application.LoginService
	admin    *application.AdminService
	config   *application.ConfigService
	flags    *application.FlagService
	limits   *application.LimitService
	guard    *apiGuard
	// configWrites keeps each org's config write bytes within
	// Config.ConfigWriteRate.
	configWrites *apiGuard
	// largeWrites holds a turn for each large config write being served
	// (see takeTurn).
	largeWrites chan struct{}
	github      GitHub
	api         huma.API
	handler     http.Handler

	// routes resolves the mux's patterns to metric labels; window keeps
	// the status page's last hour; began is when the server was built
	// (its uptime starts there); serving is set while the listener
	// serves (see SetServing).
	routes  routeTable
	window  requestWindow
	began   time.Time
	serving atomic.Bool
}

// strictCasing makes huma's validator match JSON field names exactly, as
// the schema spells them: by default {"TTL_SECONDS": 1} passes as
// ttl_seconds and encoding/json then fills the field from it. The setting
// is a package variable of huma that requests read, so it is written once,
// before the first server is built.
var strictCasing sync.Once

// New builds the API and its routes. It starts nothing; serve Handler with
// an http.Server.
func New(cfg Config, svc Services) *Server {
	strictCasing.Do(func() { huma.ValidateStrictCasing = true })
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.WatchHeartbeat <= 0 {
		cfg.WatchHeartbeat = 15 * time.Second
	}
	if cfg.WatchWriteTimeout <= 0 {
		cfg.WatchWriteTimeout = time.Minute
	}
	s := &Server{cfg: cfg, log: cfg.Logger, locks: svc.Locks, sessions: svc.Sessions, auth: svc.Auth, engine: svc.Engine,
		events: svc.Events, webhooks: svc.Webhooks, orgs: svc.Orgs, quotas: svc.Quotas, access: svc.Access, login: svc.Login, admin: svc.Admin, config: svc.Config, github: svc.GitHub,
		flags: svc.Flags, limits: svc.Limits, guard: newAPIGuard(cfg.APIRate, cfg.APIBurst),
		configWrites: newAPIGuard(float64(cfg.ConfigWriteRate), max(cfg.ConfigWriteRate, MaxBodyBytes)),
		largeWrites:  make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2))}
	mux := http.NewServeMux()
	hc := huma.DefaultConfig("OctoStore", cfg.Version)
	// No $schema field, Link header or /schemas route: clients see plain
	// JSON, and every route but the public ones needs a token.
	hc.CreateHooks = nil
	hc.SchemasPath = ""
	hc.DocsPath = "" // served below from embedded assets, no CDN
	hc.Info.Description = apiDescription
	// A relative server first: Swagger UI sends "Try it out" requests to the
	// server that served the page, whatever address it listens on.
	hc.Servers = []*huma.Server{
		{URL: "/", Description: "This server: the one that served this description."},
		{URL: "http://127.0.0.1:3000", Description: "The default listen address (`make run`; `--addr` or OCTOSTORE_ADDR changes it)."},
	}
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "A user token (`org/user:token` in OCTOSTORE_STATIC_TOKENS, or the token printed at first start)."},
	}
	hc.Tags = []*huma.Tag{
		{Name: "locks", Description: "Acquire, renew, release, inspect and list locks; check fencing tokens."},
		{Name: "sessions", Description: "Liveness leases: ephemeral locks live as long as their session."},
		{Name: "events", Description: "Change notification: the event stream, watches and webhooks."},
		{Name: "flags", Description: "Feature flags with percentage rollouts, evaluated for a subject by a documented stable hash."},
		{Name: "limits", Description: "Rate limits that clients check to gate their own work (GCRA, counters in memory)."},
		{Name: "operations", Description: "Health, readiness, status and metrics."},
		{Name: "admin", Description: "Operator routes; they need the admin token."},
		{Name: "auth", Description: "Your own token, and signing in with GitHub."},
	}
	hc.Formats = map[string]huma.Format{"application/json": jsonFormat, "json": jsonFormat}
	hc.Transformers = append(hc.Transformers, s.transformErrors)
	api := humago.New(mux, hc)
	api.UseMiddleware(s.authenticate, s.readBody)
	s.api = api

	s.registerHealth()
	s.registerStatus()
	s.registerLocks()
	s.registerSessions()
	s.registerEvents()
	s.registerWatches()
	s.registerConfig()
	s.registerWebhooks()
	s.registerAdmin()
	s.registerTokens()
	s.registerOrgs()
	s.registerAccess()
	s.registerOAuth()
	s.registerFlags()
	s.registerLimits()
	// huma registers its ErrorModel while learning error shapes; every
	// error response here is a Problem, so drop the unused schemas.
	schemas := api.OpenAPI().Components.Schemas.Map()
	delete(schemas, "ErrorModel")
	delete(schemas, "ErrorDetail")
	promoteParamExamples(api.OpenAPI())

	docs := problemErrors(docsui.Handler("/openapi.json"))
	mux.Handle("GET /docs", docs)
	mux.Handle("GET "+docsui.AssetsPrefix, docs)
	// Without a route of its own, ServeMux redirects /docs/assets to
	// /docs/assets/ (the only subtree pattern besides "/").
	mux.Handle(strings.TrimSuffix(docsui.AssetsPrefix, "/"), http.HandlerFunc(notFound))
	ui := problemErrors(statusui.Handler("/status"))
	mux.Handle("GET "+statusui.PagePattern, ui)
	mux.Handle("GET "+statusui.AssetsPrefix, ui)
	mux.Handle(strings.TrimSuffix(statusui.AssetsPrefix, "/"), http.HandlerFunc(notFound))
	admin := problemErrors(adminui.Handler())
	mux.Handle("GET "+adminui.PagePath, admin)
	mux.Handle("GET "+adminui.AssetsPrefix, admin)
	mux.Handle(strings.TrimSuffix(adminui.AssetsPrefix, "/"), http.HandlerFunc(notFound))
	mux.Handle("/", s.fallback(mux))
	s.routes = s.buildRoutes()
	s.began = cfg.Now()
	s.handler = s.edge(mux)
	return s
}

// SetServing tells the server whether its listener serves: GET /ready
// answers 503 not_ready until it does and again once shutdown begins.
func (s *Server) SetServing(on bool) { s.serving.Store(on) }

// Handler returns the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// API returns the huma API, for dumping the OpenAPI document.
func (s *Server) API() huma.API { return s.api }

const apiDescription = `OctoStore is a coarse-grained lock service: leader election, one worker per job, small config values.

A lock is advisory; safety comes from **fencing tokens**, which only ever grow (also across restarts): pass the token to the resource you protect and have it refuse a token lower than one it has seen.

Every route except /health, /ready, /status, the status page /, /docs, /openapi.*, the admin dashboard page (/admin, which asks for the admin token and sends it to the /admin/api routes) and the GitHub sign-in routes (/auth/github, /auth/github/callback, /auth/exchange) needs ` + "`Authorization: Bearer <token>`" + ` (/metrics: the admin token, unless metrics.public is set). All names live inside the caller's org. Lock names are '/'-separated paths; inside a URL the name is one path segment, so '/' is sent as %2F (` + "`/locks/db%2Fprimary/acquire`" + `).

Every error is ` + "`application/problem+json`" + ` with a stable ` + "`code`" + `, also where no operation is reached: a request the HTTP server refuses before routing is 400 ` + "`malformed_request`" + ` (malformed request line or header), 417 ` + "`expectation_failed`" + `, 431 ` + "`headers_too_large`" + `, 501 ` + "`unsupported_transfer_encoding`" + ` or 505 ` + "`http_version_not_supported`" + `; a path with an empty, '.' or '..' segment is 404 ` + "`not_found`" + `, never a redirect.`

// authenticate is huma middleware: operations with a security requirement
// need a valid user token; the principal travels in the context.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	if len(ctx.Operation().Security) == 0 {
		next(ctx)
		return
	}
	// With two Authorization headers Header returns the first; which one
	// counts must not depend on that.
	if r, _ := humago.Unwrap(ctx); len(r.Header["Authorization"]) > 1 {
		s.writeHumaProblem(ctx, newProblem(http.StatusBadRequest, "multiple_authorization_headers",
			"the request has more than one Authorization header; send exactly one"))
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
	if adminOnly(ctx.Operation().Path) && !p.Admin {
		s.writeHumaProblem(ctx, s.problemFor(ctx.Context(), domain.ErrAdminOnly))
		return
	}
	if wait, ok := s.guard.allow(p, s.cfg.Now()); !ok {
		s.writeHumaProblem(ctx, rateLimitedProblem(wait))
		return
	}
	next(huma.WithValue(huma.WithValue(ctx, principalKey, p), tokenKey, strings.TrimSpace(token)))
}

// bearerToken returns the token the request authenticated with.
func bearerToken(ctx context.Context) string {
	t, _ := ctx.Value(tokenKey).(string)
	return t
}

// principal returns the authenticated caller of an operation.
func principal(ctx context.Context) domain.Principal {
	p, _ := ctx.Value(principalKey).(domain.Principal)
	return p
}

// writeHumaProblem answers from huma middleware, which runs before huma
// serializes anything.
func (s *Server) writeHumaProblem(ctx huma.Context, p *Problem) {
	r, w := humago.Unwrap(ctx)
	writeProblem(w, r, p)
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
	errDenied       = errorDoc{http.StatusForbidden, "`permission_denied`: an ACL rule of your org does not allow you this on this name.", domain.ErrPermissionDenied}
	errInvalid      = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`); `invalid_name`: bad lock name; `invalid_ttl`, `invalid_metadata`, `invalid_owner`, `owner_with_session`, `invalid_lock_delay`, `invalid_wait`, `ephemeral_needs_session`.",
		&fieldError{loc: "body.ttl_seconds", err: domain.CheckTTL(2 * domain.MaxTTL)}}
	errInvalidName = errorDoc{http.StatusUnprocessableEntity, "`invalid_name`: bad lock name.",
		&fieldError{loc: "path.name", hint: nameHint, err: exampleNameError}}
	errInvalidQuery = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_name`: bad prefix; `invalid_cursor`.",
		atField("query.cursor", errInvalidCursor)}
	errMalformed = errorDoc{http.StatusBadRequest, "`malformed_request`: the body is not valid JSON, or could not be read (malformed chunked encoding, connection closed mid-body).",
		newProblem(http.StatusBadRequest, "malformed_request", humaDetails[http.StatusBadRequest])}
	errTooLarge = errorDoc{http.StatusRequestEntityTooLarge, "`body_too_large`: the body exceeds 1 MiB.",
		newProblem(http.StatusRequestEntityTooLarge, "body_too_large", "request body is too large")}
	errAuthHeaders = errorDoc{http.StatusBadRequest, "`multiple_authorization_headers`: send exactly one Authorization header.",
		newProblem(http.StatusBadRequest, "multiple_authorization_headers", "send exactly one Authorization header")}
	errTimeout = errorDoc{http.StatusRequestTimeout, "`request_timeout`: the body did not arrive within 5 seconds.",
		newProblem(http.StatusRequestTimeout, "request_timeout", "the request body did not arrive in time")}
	errNotUTF8 = errorDoc{http.StatusUnprocessableEntity, "`invalid_utf8`: the body is not valid UTF-8 (`errors[].location` names the field).",
		&Problem{Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Code: "invalid_utf8",
			Detail: "the request body is not valid UTF-8", Errors: []*FieldError{{Location: "body.metadata", Message: "not valid UTF-8"}}}}
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
	docs = slices.Clip(docs) // appends below never write into the caller's array
	if len(op.Security) > 0 {
		docs = append(docs, errAuthHeaders, errRateLimited)
	}
	// Every operation that reads a body (and so documents its limit) can
	// also time out reading it, or find it is not UTF-8.
	if slices.Contains(docs, errTooLarge) {
		docs = append(docs, errTimeout, errNotUTF8)
	}
	docs = append(docs, errInternal)
	for _, d := range docs {
		ex := *problemOf(d.example, exampleTime)
		ex.Instance, ex.RequestID = exampleInstance(op.Path), "5f0c2a9e81d4b7c3"
		status := strconv.Itoa(d.status)
		if res, ok := op.Responses[status]; ok { // another code of the same status
			res.Description += " " + d.codes
			if mt := res.Content[ProblemContentType]; mt != nil {
				mt.Examples[ex.Code] = &huma.Example{Summary: ex.Code, Value: ex}
			} else { // a status that also has a body of its own (a refused limit check)
				res.Content[ProblemContentType] = &huma.MediaType{Schema: schema,
					Examples: map[string]*huma.Example{ex.Code: {Summary: ex.Code, Value: ex}}}
			}
			continue
		}
		op.Responses[status] = &huma.Response{
			Description: http.StatusText(d.status) + ". " + d.codes,
			Content: map[string]*huma.MediaType{ProblemContentType: {Schema: schema,
				Examples: map[string]*huma.Example{ex.Code: {Summary: ex.Code, Value: ex}}}},
		}
	}
	op.MaxBodyBytes = humaMaxBodyBytes
	op.BodyReadTimeout = -1 // readBody sets the deadline; see there
	return op
}

// exampleInstance fills a path template with example values.
func exampleInstance(path string) string {
	id := exampleSessionID
	if strings.HasPrefix(path, "/webhooks/") {
		id = exampleWebhookID
	}
	return strings.NewReplacer("{name}", url.PathEscape(exampleName), "{id}", id, "{org}", "acme",
		"{team}", exampleTeam, "{prefix}", url.PathEscape(exampleName), "{key}", url.PathEscape(exampleConfigKey)).Replace(path)
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

var (
	bearer = []map[string][]string{{"bearer": {}}}
	// public documents an operation that needs no token: an empty
	// requirement, unlike a missing one, says so.
	public = []map[string][]string{}
)

// requestExample documents a request body by one example, named and
// explained; Swagger UI's "Try it out" sends it as is.
func requestExample(name, summary, description string, value any) *huma.RequestBody {
	return &huma.RequestBody{Content: map[string]*huma.MediaType{"application/json": {
		Examples: map[string]*huma.Example{name: {Summary: summary, Description: description, Value: value}},
	}}}
}

// promoteParamExamples copies each parameter's schema example to the
// parameter itself, where Swagger UI reads it to fill in "Try it out".
func promoteParamExamples(doc *huma.OpenAPI) {
	for _, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			for _, p := range op.Parameters {
				if p.Example == nil && p.Schema != nil && len(p.Schema.Examples) > 0 {
					p.Example = p.Schema.Examples[0]
				}
			}
		}
	}
}
