package httpapi

import (
	"context"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// StatusReport is the public status of the server: totals only, nothing
// per org.
type StatusReport struct {
	Status            string         `json:"status" enum:"ok,degraded" doc:"ok, or degraded while the last commit failed or the server is starting or stopping" example:"ok"`
	Version           string         `json:"version" doc:"Build version" example:"v0.1.0"`
	UptimeSeconds     int64          `json:"uptime_seconds" doc:"Seconds since the server started" example:"3600"`
	LocksHeld         int            `json:"locks_held" doc:"Lock records: held, in their lock delay, or expired and not yet swept" example:"12"`
	SessionsOpen      int            `json:"sessions_open" doc:"Open sessions" example:"3"`
	RequestsPerSecond float64        `json:"requests_per_second" doc:"API requests per second over the last minute (watch streams and the operations routes are not counted)" example:"41.5"`
	P99MS             float64        `json:"p99_ms" doc:"99th percentile of those requests' latency over the last minute, in milliseconds (0 without requests)" example:"4.2"`
	History           []MinuteReport `json:"history" nullable:"false" doc:"The last 60 whole minutes and the current one, oldest first"`
}

// MinuteReport is one minute of the status history.
type MinuteReport struct {
	Minute   Time    `json:"minute" doc:"Start of the minute"`
	Requests uint64  `json:"requests" doc:"API requests answered in that minute (so far, for the current one)" example:"2490"`
	P99MS    float64 `json:"p99_ms" doc:"99th percentile latency of those requests, in milliseconds (0 without requests)" example:"4.2"`
}

type statusOutput struct {
	CacheControl string `header:"Cache-Control" doc:"no-store: the figures change every request."`
	Body         StatusReport
}

// ReadyReport is the answer of a ready server.
type ReadyReport struct {
	Status string `json:"status" enum:"ready" doc:"ready: the state is restored, the server serves and the last commit succeeded"`
}

type readyOutput struct {
	Body ReadyReport
}

type metricsOutput struct {
	Body func(huma.Context)
}

var errNotReady = newProblem(http.StatusServiceUnavailable, "not_ready",
	"the server is starting (restoring its state) or shutting down")

func (s *Server) registerStatus() {
	register(s, huma.Operation{
		OperationID: "status", Method: http.MethodGet, Path: "/status",
		Summary: "Public status", Tags: []string{"operations"}, Security: public,
		Description: "What the status page at / shows: up or degraded, version, uptime, totals of locks and sessions, and the request rate and p99 latency of the last minute and of each minute of the last hour. Totals only, nothing per org. No token needed.",
	}, s.status)

	register(s, huma.Operation{
		OperationID: "ready", Method: http.MethodGet, Path: "/ready",
		Summary: "Readiness check", Tags: []string{"operations"}, Security: public,
		Description: "For orchestrators and load balancers: 200 once the state is restored and the server serves, 503 while it starts or shuts down and while the last commit failed. `/health` stays the liveness check. No token needed.",
	}, s.ready, errorDoc{http.StatusServiceUnavailable,
		"`not_ready`: the server is starting or shutting down; `degraded`: the last commit failed, so writes are refused until one succeeds.",
		errNotReady})

	security, docs, who := bearer, []errorDoc{errUnauthorized, errAdminOnly}, "Needs the admin token unless `metrics.public` is true."
	if s.cfg.MetricsPublic {
		security, docs, who = public, nil, "No token needed (`metrics.public` is true)."
	}
	register(s, huma.Operation{
		OperationID: "metrics", Method: http.MethodGet, Path: "/metrics",
		Summary: "Prometheus metrics", Tags: []string{"operations"}, Security: security,
		Description: "The server's metrics in the Prometheus text exposition format: requests and their latency per route pattern, method and status; the group commit's batch sizes and latency; locks, sessions, watch streams, waiters, webhook deliveries and events retained; the restore's duration; Go runtime and process figures. No label carries a lock name, a token or an org. " + who,
		Responses: map[string]*huma.Response{"200": {
			Description: "OK. The metrics, in the Prometheus text format (version 0.0.4).",
			Content: map[string]*huma.MediaType{"text/plain": {Schema: &huma.Schema{Type: huma.TypeString},
				Example: "# HELP octostore_locks_held Lock records in memory: held, in their lock delay, or expired and not yet swept.\n# TYPE octostore_locks_held gauge\noctostore_locks_held 12\n"}},
		}},
	}, s.metrics, docs...)
}

func (s *Server) status(context.Context, *struct{}) (*statusOutput, error) {
	now := s.cfg.Now()
	g := s.engine.Gauges()
	hist, perSecond, p99 := s.window.snapshot(now)
	r := StatusReport{Status: "ok", Version: s.cfg.Version, UptimeSeconds: int64(now.Sub(s.began).Seconds()),
		LocksHeld: g.LockRecords, SessionsOpen: g.Sessions, RequestsPerSecond: round3(perSecond), P99MS: p99,
		History: make([]MinuteReport, len(hist))}
	if s.notReady() != nil {
		r.Status = "degraded"
	}
	for i, m := range hist {
		r.History[i] = MinuteReport{Minute: wireTime(m.start), Requests: m.requests, P99MS: m.p99MS}
	}
	return &statusOutput{CacheControl: "no-store", Body: r}, nil
}

// notReady returns the problem /ready answers, or nil when ready.
func (s *Server) notReady() *Problem {
	if !s.serving.Load() || !s.engine.Ready() {
		return newProblem(errNotReady.Status, errNotReady.Code, errNotReady.Detail)
	}
	if at := s.engine.Health().CommitFailedAt; !at.IsZero() {
		return newProblem(http.StatusServiceUnavailable, "degraded",
			"the last write to the database failed at "+wireTime(at).UTC().Format(wireLayout)+
				"; writes answer 503 unavailable until one succeeds")
	}
	return nil
}

func (s *Server) ready(context.Context, *struct{}) (*readyOutput, error) {
	if p := s.notReady(); p != nil {
		return nil, p
	}
	return &readyOutput{Body: ReadyReport{Status: "ready"}}, nil
}

// metrics hands the request to the Prometheus handler, which negotiates
// the format (and compression) with the scraper.
func (s *Server) metrics(context.Context, *struct{}) (*metricsOutput, error) {
	return &metricsOutput{Body: func(ctx huma.Context) {
		r, w := humago.Unwrap(ctx)
		if s.cfg.Metrics == nil {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
			return
		}
		s.cfg.Metrics.ServeHTTP(w, r)
	}}, nil
}

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

// adminOnly reports whether an operation's path needs the admin token.
func adminOnly(path string) bool {
	return strings.HasPrefix(path, "/admin/") || path == "/metrics"
}
