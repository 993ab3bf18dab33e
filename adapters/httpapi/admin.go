package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// WriterStats are the group-commit writer's counters.
type WriterStats struct {
	Batches            uint64  `json:"batches" doc:"Commits of the group-commit writer that carried changes"`
	Requests           uint64  `json:"requests" doc:"Requests decided in those commits"`
	Changes            uint64  `json:"changes" doc:"Stored changes in those commits"`
	AvgBatch           float64 `json:"avg_batch" doc:"Requests per commit, on average"`
	LastBatch          int     `json:"last_batch" doc:"Requests in the most recent commit"`
	CommitSecondsTotal float64 `json:"commit_seconds_total" doc:"Time spent committing (including fsync)"`
	AvgCommitSeconds   float64 `json:"avg_commit_seconds" doc:"Mean commit latency"`
	LockRecords        int     `json:"lock_records" doc:"Lock records in memory (held, or expired and awaiting the sweep)"`
}

type statsOutput struct {
	Body WriterStats
}

var errAdminOnly = errorDoc{http.StatusForbidden, "`admin_only`: this route needs the admin token.", domain.ErrAdminOnly}

func (s *Server) registerAdmin() {
	register(s, huma.Operation{
		OperationID: "admin-stats", Method: http.MethodGet, Path: "/admin/stats",
		Summary: "Writer statistics", Tags: []string{"admin"}, Security: bearer,
		Description: "Group-commit counters for operators and dashboards. Needs the admin token.",
	}, s.stats, errUnauthorized, errAdminOnly)
	s.registerQuotas()
	s.registerAdminAPI()
}

func (s *Server) stats(context.Context, *struct{}) (*statsOutput, error) {
	st := s.engine.Stats()
	b := WriterStats{Batches: st.Batches, Requests: st.Requests, Changes: st.Changes, LastBatch: st.LastBatch,
		LockRecords: st.LockRecords, CommitSecondsTotal: st.CommitTime.Seconds()}
	if st.Batches > 0 {
		b.AvgBatch = float64(st.Requests) / float64(st.Batches)
		b.AvgCommitSeconds = b.CommitSecondsTotal / float64(st.Batches)
	}
	return &statsOutput{Body: b}, nil
}
