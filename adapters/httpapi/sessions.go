package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// exampleSessionID is the session id of the examples.
const exampleSessionID = "s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"

type sessionPath struct {
	ID string `path:"id" maxLength:"128" doc:"The session_id that opening the session (POST /sessions) returned." example:"s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"`
}

// OpenSessionRequest is the body of opening a session.
type OpenSessionRequest struct {
	TTLSeconds int `json:"ttl_seconds,omitempty" minimum:"10" maximum:"300" default:"60" doc:"Session lifetime without a keepalive, in seconds (10-300)." example:"30"`
}

type openSessionInput struct {
	Body *OpenSessionRequest `required:"false"`
}

// SessionOpened is the answer to opening a session.
type SessionOpened struct {
	SessionID                string `json:"session_id" example:"s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"`
	TTLSeconds               int    `json:"ttl_seconds" example:"60"`
	ExpiresAt                Time   `json:"expires_at" doc:"When the session (and its ephemeral locks) ends without a keepalive."`
	KeepaliveIntervalSeconds int    `json:"keepalive_interval_seconds" doc:"Send a keepalive this often (a third of the TTL)." example:"20"`
}

type openSessionOutput struct {
	Body SessionOpened
}

// SessionKeptAlive is the answer to a keepalive.
type SessionKeptAlive struct {
	SessionID string `json:"session_id" example:"s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"`
	ExpiresAt Time   `json:"expires_at" doc:"The session's new expiry, also that of its ephemeral locks."`
}

type keepaliveOutput struct {
	Body SessionKeptAlive
}

// SessionInfo describes a session to its owner.
type SessionInfo struct {
	SessionID  string   `json:"session_id" example:"s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"`
	TTLSeconds int      `json:"ttl_seconds" example:"60"`
	ExpiresAt  Time     `json:"expires_at"`
	Locks      []string `json:"locks" nullable:"false" doc:"Names of the locks the session holds now."`
}

type getSessionOutput struct {
	Body SessionInfo
}

var (
	errSessionID = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the session id is longer than 128 bytes (`errors[].location` is `path.id`).",
		&Problem{Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Code: "validation_failed",
			Detail: humaDetails[http.StatusUnprocessableEntity], Errors: []*FieldError{{Location: "path.id", Message: "expected length <= 128"}}}}
	errSessionNotFound = errorDoc{http.StatusNotFound, "`session_not_found`: no such session of yours (another principal's session is not found either).", domain.ErrSessionNotFound}
	errSessionExpired  = errorDoc{http.StatusGone, "`session_expired`: the session has expired; its ephemeral locks were freed. Open a new one.", domain.ErrSessionExpired}
)

func (s *Server) registerSessions() {
	sessionErrs := []errorDoc{errUnauthorized, errForbidden, errSessionID, errUnavailable, errSessionNotFound, errSessionExpired}

	register(s, huma.Operation{
		OperationID: "open-session", Method: http.MethodPost, Path: "/sessions", DefaultStatus: http.StatusCreated,
		Summary: "Open a session", Tags: []string{"sessions"}, Security: bearer,
		RequestBody: requestExample("ttl", "A session that lives 30 s without a keepalive", "", OpenSessionRequest{TTLSeconds: 30}),
		Description: "A session is your client's liveness lease: keep it alive every `keepalive_interval_seconds`, and use its `session_id` to hold locks. Ephemeral locks die with it.",
	}, s.openSession, errUnauthorized, errForbidden, errorDoc{http.StatusUnprocessableEntity,
		"`validation_failed`: a field violates the schema (named in `errors[].location`); `invalid_ttl`.",
		domain.CheckSessionTTL(time.Second)}, errMalformed, errTooLarge, errMediaType, errUnavailable,
		errorDoc{http.StatusTooManyRequests, quotaCodes("sessions"), &domain.QuotaExceededError{Quota: domain.QuotaSessions, Limit: 10_000}})

	register(s, huma.Operation{
		OperationID: "keepalive-session", Method: http.MethodPost, Path: "/sessions/{id}/keepalive",
		Summary: "Keep a session alive", Tags: []string{"sessions"}, Security: bearer,
		Description: "Pushes the session's expiry, and that of all its ephemeral locks, to now + TTL. An expired session is never revived.",
	}, s.keepalive, sessionErrs...)

	register(s, huma.Operation{
		OperationID: "get-session", Method: http.MethodGet, Path: "/sessions/{id}",
		Summary: "Describe a session", Tags: []string{"sessions"}, Security: bearer,
		Description: "The session and the locks it holds. Only its owner can see it.",
	}, s.getSession, sessionErrs...)

	register(s, huma.Operation{
		OperationID: "close-session", Method: http.MethodDelete, Path: "/sessions/{id}", DefaultStatus: http.StatusNoContent,
		Summary: "Close a session", Tags: []string{"sessions"}, Security: bearer,
		Description: "Releases the session's ephemeral locks at once (no lock delay), then removes the session. Ownership is checked before anything else.",
	}, s.closeSession, sessionErrs...)
}

func (s *Server) openSession(ctx context.Context, in *openSessionInput) (*openSessionOutput, error) {
	ttl := domain.DefaultSessionTTL
	if in.Body != nil {
		ttl = seconds(in.Body.TTLSeconds, domain.DefaultSessionTTL)
	}
	sess, err := s.sessions.Open(ctx, principal(ctx), ttl)
	if err != nil {
		return nil, err
	}
	secs := int(sess.TTL / time.Second)
	return &openSessionOutput{Body: SessionOpened{
		SessionID: string(sess.ID), TTLSeconds: secs, ExpiresAt: wireTime(sess.ExpiresAt),
		KeepaliveIntervalSeconds: max(1, secs/3),
	}}, nil
}

func (s *Server) keepalive(ctx context.Context, in *sessionPath) (*keepaliveOutput, error) {
	sess, err := s.sessions.KeepAlive(ctx, principal(ctx), domain.SessionID(in.ID))
	if err != nil {
		return nil, err
	}
	return &keepaliveOutput{Body: SessionKeptAlive{SessionID: string(sess.ID), ExpiresAt: wireTime(sess.ExpiresAt)}}, nil
}

func (s *Server) getSession(ctx context.Context, in *sessionPath) (*getSessionOutput, error) {
	view, err := s.sessions.Get(ctx, principal(ctx), domain.SessionID(in.ID))
	if err != nil {
		return nil, err
	}
	info := SessionInfo{SessionID: string(view.Session.ID), TTLSeconds: int(view.Session.TTL / time.Second),
		ExpiresAt: wireTime(view.Session.ExpiresAt), Locks: make([]string, 0, len(view.Locks))}
	for _, n := range view.Locks {
		info.Locks = append(info.Locks, string(n))
	}
	return &getSessionOutput{Body: info}, nil
}

func (s *Server) closeSession(ctx context.Context, in *sessionPath) (*struct{}, error) {
	if err := s.sessions.Close(ctx, principal(ctx), domain.SessionID(in.ID)); err != nil {
		return nil, err
	}
	return nil, nil
}
