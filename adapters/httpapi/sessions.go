package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

type sessionPath struct {
	ID string `path:"id" maxLength:"128" doc:"The session_id returned when the session was opened."`
}

type openSessionInput struct {
	Body *struct {
		TTLSeconds int `json:"ttl_seconds,omitempty" minimum:"10" maximum:"300" default:"60" doc:"Session lifetime without a keepalive, in seconds (10-300)."`
	} `required:"false"`
}

type sessionBody struct {
	SessionID                string    `json:"session_id" example:"s_3f9a0c1e5b7d2a443f9a0c1e5b7d2a44"`
	TTLSeconds               int       `json:"ttl_seconds" example:"60"`
	ExpiresAt                time.Time `json:"expires_at" doc:"When the session (and its ephemeral locks) ends without a keepalive."`
	KeepaliveIntervalSeconds int       `json:"keepalive_interval_seconds" doc:"Send a keepalive this often (a third of the TTL)." example:"20"`
}

type openSessionOutput struct {
	Body sessionBody
}

type keepaliveOutput struct {
	Body struct {
		SessionID string    `json:"session_id"`
		ExpiresAt time.Time `json:"expires_at"`
	}
}

type getSessionOutput struct {
	Body struct {
		SessionID  string    `json:"session_id"`
		TTLSeconds int       `json:"ttl_seconds"`
		ExpiresAt  time.Time `json:"expires_at"`
		Locks      []string  `json:"locks" doc:"Names of the locks the session holds now."`
	}
}

func (s *Server) registerSessions() {
	sessionErrs := []errorDoc{errUnauthorized, errForbidden, errUnavailable,
		{http.StatusNotFound, "`session_not_found`: no such session of yours (another principal's session is not found either)."},
		{http.StatusGone, "`session_expired`: the session has expired; its ephemeral locks were freed. Open a new one."}}

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "open-session", Method: http.MethodPost, Path: "/sessions", DefaultStatus: http.StatusCreated,
		Summary: "Open a session", Tags: []string{"sessions"}, Security: bearer,
		Description: "A session is your client's liveness lease: keep it alive every `keepalive_interval_seconds`, and use its `session_id` to hold locks. Ephemeral locks die with it.",
	}, errUnauthorized, errForbidden, errInvalid, errMalformed, errTooLarge, errMediaType, errUnavailable),
		func(ctx context.Context, in *openSessionInput) (*openSessionOutput, error) {
			ttl := domain.DefaultSessionTTL
			if in.Body != nil && in.Body.TTLSeconds != 0 {
				ttl = time.Duration(in.Body.TTLSeconds) * time.Second
			}
			sess, err := s.sessions.Open(ctx, principal(ctx), ttl)
			if err != nil {
				return nil, s.problemFor(ctx, atField("body.ttl_seconds", err))
			}
			secs := int(sess.TTL / time.Second)
			return &openSessionOutput{Body: sessionBody{
				SessionID: string(sess.ID), TTLSeconds: secs, ExpiresAt: wireTime(sess.ExpiresAt),
				KeepaliveIntervalSeconds: max(1, secs/3),
			}}, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "keepalive-session", Method: http.MethodPost, Path: "/sessions/{id}/keepalive",
		Summary: "Keep a session alive", Tags: []string{"sessions"}, Security: bearer,
		Description: "Pushes the session's expiry, and that of all its ephemeral locks, to now + TTL. An expired session is never revived.",
	}, sessionErrs...),
		func(ctx context.Context, in *sessionPath) (*keepaliveOutput, error) {
			sess, err := s.sessions.KeepAlive(ctx, principal(ctx), domain.SessionID(in.ID))
			if err != nil {
				return nil, s.problemFor(ctx, err)
			}
			out := &keepaliveOutput{}
			out.Body.SessionID, out.Body.ExpiresAt = string(sess.ID), wireTime(sess.ExpiresAt)
			return out, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "get-session", Method: http.MethodGet, Path: "/sessions/{id}",
		Summary: "Describe a session", Tags: []string{"sessions"}, Security: bearer,
		Description: "The session and the locks it holds. Only its owner can see it.",
	}, sessionErrs...),
		func(ctx context.Context, in *sessionPath) (*getSessionOutput, error) {
			view, err := s.sessions.Get(ctx, principal(ctx), domain.SessionID(in.ID))
			if err != nil {
				return nil, s.problemFor(ctx, err)
			}
			out := &getSessionOutput{}
			b := &out.Body
			b.SessionID, b.TTLSeconds, b.ExpiresAt = string(view.Session.ID), int(view.Session.TTL/time.Second), wireTime(view.Session.ExpiresAt)
			b.Locks = make([]string, 0, len(view.Locks))
			for _, n := range view.Locks {
				b.Locks = append(b.Locks, string(n))
			}
			return out, nil
		})

	huma.Register(s.api, s.withErrors(huma.Operation{
		OperationID: "close-session", Method: http.MethodDelete, Path: "/sessions/{id}", DefaultStatus: http.StatusNoContent,
		Summary: "Close a session", Tags: []string{"sessions"}, Security: bearer,
		Description: "Releases the session's ephemeral locks at once (no lock delay), then removes the session. Ownership is checked before anything else.",
	}, sessionErrs...),
		func(ctx context.Context, in *sessionPath) (*struct{}, error) {
			if err := s.sessions.Close(ctx, principal(ctx), domain.SessionID(in.ID)); err != nil {
				return nil, s.problemFor(ctx, err)
			}
			return nil, nil
		})
}
