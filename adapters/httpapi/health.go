package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

type healthOutput struct {
	Body struct {
		Status  string `json:"status" enum:"ok" doc:"ok when the server can serve requests"`
		Version string `json:"version" doc:"Build version" example:"v0.1.0"`
		DB      string `json:"db" enum:"ok" doc:"ok after a real query against the database"`
	}
}

func (s *Server) registerHealth() {
	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "health", Method: http.MethodGet, Path: "/health",
		Summary: "Health check", Tags: []string{"operations"},
		Description: "Runs a real query against the database. No token needed.",
	}, errorDoc{http.StatusServiceUnavailable, "`db_unavailable`: the database cannot be read."}),
		func(ctx context.Context, _ *struct{}) (*healthOutput, error) {
			ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			if err := s.engine.Ping(ctx); err != nil {
				s.log.ErrorContext(ctx, "health: database ping", "request_id", RequestID(ctx), "err", err)
				return nil, newProblem(http.StatusServiceUnavailable, "db_unavailable", "the database cannot be read")
			}
			out := &healthOutput{}
			out.Body.Status, out.Body.Version, out.Body.DB = "ok", s.cfg.Version, "ok"
			return out, nil
		})
}
