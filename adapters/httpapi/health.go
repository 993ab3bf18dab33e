package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// HealthReport is the answer of a healthy server.
type HealthReport struct {
	Status  string `json:"status" enum:"ok" doc:"ok when the server can serve requests"`
	Version string `json:"version" doc:"Build version" example:"v0.1.0"`
	DB      string `json:"db" enum:"ok" doc:"ok after a real query against the database"`
}

type healthOutput struct {
	Body HealthReport
}

// errDegraded is the documented example; answers build their own problem,
// since the error transformer writes each request's id into it.
var errDegraded = newProblem(http.StatusServiceUnavailable, "degraded",
	"the last write to the database failed at 2026-11-26T10:00:30.123Z; writes answer 503 unavailable until one succeeds")

func (s *Server) registerHealth() {
	register(s, huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: "/health",
		Summary: "Health check", Tags: []string{"operations"}, Security: public,
		Description: "Runs a real query against the database and reports whether the last commit failed (a full disk, say). No token needed.",
	}, s.health, errorDoc{http.StatusServiceUnavailable,
		"`db_unavailable`: the database cannot be read; `degraded`: the last commit failed, so writes are refused until one succeeds (the server retries at least once a second).",
		errDegraded})
}

func (s *Server) health(ctx context.Context, _ *struct{}) (*healthOutput, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.engine.Ping(ctx); err != nil {
		s.log.ErrorContext(ctx, "health: database ping", "request_id", RequestID(ctx), "err", err)
		return nil, newProblem(http.StatusServiceUnavailable, "db_unavailable", "the database cannot be read")
	}
	if at := s.engine.Health().CommitFailedAt; !at.IsZero() {
		return nil, newProblem(http.StatusServiceUnavailable, "degraded",
			"the last write to the database failed at "+wireTime(at).UTC().Format(wireLayout)+
				"; writes answer 503 unavailable until one succeeds")
	}
	return &healthOutput{Body: HealthReport{Status: "ok", Version: s.cfg.Version, DB: "ok"}}, nil
}
