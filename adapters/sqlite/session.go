package sqlite

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// loadSessions reads every session, sharing org and owner strings through
// intern.
func loadSessions(ctx context.Context, q *sqlitedb.Queries, intern map[string]string) ([]domain.Session, error) {
	rows, err := q.ListSessions(ctx)
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	sessions := make([]domain.Session, 0, len(rows))
	for _, r := range rows {
		r.Org, r.Owner = interned(intern, r.Org), interned(intern, r.Owner)
		s, err := sessionToDomain(r)
		if err != nil {
			return nil, fmt.Errorf("session %q: %w", r.ID, err)
		}
		sessions = append(sessions, s)
	}
	return sessions, nil
}

// sessionToDomain converts a sessions row and checks it as Commit does.
func sessionToDomain(r sqlitedb.Session) (domain.Session, error) {
	if r.TtlMs <= 0 || r.TtlMs > math.MaxInt64/int64(time.Millisecond) {
		return domain.Session{}, fmt.Errorf("ttl %dms is out of range", r.TtlMs)
	}
	s := domain.Session{
		ID:        domain.SessionID(r.ID),
		Org:       domain.OrgID(r.Org),
		Owner:     r.Owner,
		TTL:       time.Duration(r.TtlMs) * time.Millisecond,
		CreatedAt: time.UnixMilli(r.CreatedAtMs),
		ExpiresAt: time.UnixMilli(r.ExpiresAtMs),
	}
	return s, checkSession(s)
}

// fromSession converts a session into the parameters of its row.
func fromSession(s domain.Session) sqlitedb.UpsertSessionParams {
	return sqlitedb.UpsertSessionParams{
		ID:          string(s.ID),
		Org:         string(s.Org),
		Owner:       s.Owner,
		TtlMs:       s.TTL.Milliseconds(),
		CreatedAtMs: s.CreatedAt.UnixMilli(),
		ExpiresAtMs: s.ExpiresAt.UnixMilli(),
	}
}

// checkSession adds to Session.Validate what SQLite needs: the TTL is
// stored in milliseconds, so it must be at least one.
func checkSession(s domain.Session) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if s.TTL < time.Millisecond {
		return fmt.Errorf("session ttl %v is under a millisecond", s.TTL)
	}
	return nil
}
