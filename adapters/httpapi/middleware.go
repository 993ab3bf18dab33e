package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
)

type ctxKey int

const (
	requestIDKey ctxKey = iota
	principalKey
	tokenKey // the bearer token the request authenticated with
)

// RequestID returns the request id of ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// acceptableRequestID reports whether a client-supplied X-Request-Id is short
// and plain enough to echo and log.
func acceptableRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// statusRecorder remembers the status for the access log. It unwraps to
// the underlying writer so http.ResponseController keeps Flush working for
// streams.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// edge wraps every request: request id, body limit, panic recovery, the
// request metrics and one access-log line. Tokens never reach the log:
// only method, route pattern (never the path, which carries lock names),
// status, timing, request id and the caller's org/user.
func (s *Server) edge(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		began := time.Now()
		id := r.Header.Get("X-Request-Id")
		if !acceptableRequestID(id) {
			id = newRequestID()
		}
		w.Header().Set("X-Request-Id", id)
		who := &caller{}
		ctx := context.WithValue(r.Context(), requestIDKey, id)
		ctx = context.WithValue(ctx, principalKey, who)
		r = r.WithContext(ctx)
		r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(ctx, "panic in handler", "request_id", id, "panic", v)
				if rec.status == 0 {
					writeProblem(rec, r, newProblem(http.StatusInternalServerError, "internal", "internal error"))
				}
			}
			took := time.Since(began)
			status := rec.status
			if status == 0 { // nothing written: net/http answers 200
				status = http.StatusOK
			}
			// The mux wrote the matched pattern into r; a route table
			// built at start-up turns it into labels without allocating.
			route, windowed := s.routes.lookup(r.Pattern)
			if s.cfg.Requests != nil {
				s.cfg.Requests.ObserveRequest(route, methodLabel(r.Method), status, took)
			}
			if windowed {
				s.window.record(s.cfg.Now(), took)
			}
			// A request whose client went away (its context is cancelled
			// by net/http) ends in a 503 nobody reads; that is not a
			// server error.
			gone := ctx.Err() != nil
			level := slog.LevelInfo
			if rec.status >= 500 && !gone {
				level = slog.LevelError
			}
			if !s.log.Enabled(ctx, level) {
				return // building the line costs allocations on every request
			}
			attrs := []any{"method", r.Method, "route", route, "status", status,
				"bytes", rec.bytes, "duration", took.String(), "request_id", id}
			if who.org != "" || who.user != "" {
				attrs = append(attrs, "org", who.org, "user", who.user)
			}
			if gone {
				attrs = append(attrs, "client_gone", true)
			}
			s.log.Log(ctx, level, "request", attrs...)
		}()
		if p := nonCanonical(r.URL); p != nil {
			writeProblem(rec, r, p)
			return
		}
		next.ServeHTTP(rec, r)
	})
}

// nonCanonical refuses a path that ServeMux would answer with a redirect
// to its cleaned form (and an HTML body): one with an empty, "." or ".."
// segment, as the client sent it (the mux cleans URL.EscapedPath). Escaped
// dots and slashes (%2E, %2F) are data inside a segment and reach the
// handler, which validates the name.
func nonCanonical(u *url.URL) *Problem {
	// EscapedPath allocates for a path with escapes. It is either RawPath
	// or Path escaped (same segments as Path), so when both are canonical
	// it is too.
	if canonical(u.Path) && (u.RawPath == "" || canonical(u.RawPath)) {
		return nil
	}
	p := u.EscapedPath()
	if canonical(p) {
		return nil
	}
	if !strings.HasPrefix(p, "/") {
		return newProblem(http.StatusBadRequest, "malformed_request", "the request target must be a path starting with /")
	}
	return newProblem(http.StatusNotFound, "not_found",
		"no route for "+p+": paths must be canonical (no empty, '.' or '..' segments); this server does not redirect")
}

// canonical reports whether p is what ServeMux's cleanPath makes of it:
// absolute, and clean but for one trailing slash.
func canonical(p string) bool {
	if !strings.HasPrefix(p, "/") {
		return false
	}
	clean := path.Clean(p)
	return clean == p || clean != "/" && len(p) == len(clean)+1 && strings.HasPrefix(p, clean) && p[len(clean)] == '/'
}

// caller is filled in by authentication for the access log.
type caller struct{ org, user string }

// fallback answers requests no route matched with problem+json: 405 when the
// path exists under another method, 404 otherwise.
func (s *Server) fallback(mux *http.ServeMux) http.Handler {
	methods := []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allowed []string
		for _, m := range methods {
			probe := r.Clone(r.Context())
			probe.Method = m
			if _, pattern := mux.Handler(probe); pattern != "" && pattern != "/" {
				allowed = append(allowed, m)
			}
		}
		if len(allowed) > 0 {
			p := newProblem(http.StatusMethodNotAllowed, "method_not_allowed",
				r.Method+" is not allowed here; allowed: "+strings.Join(allowed, ", "))
			p.headers = http.Header{"Allow": {strings.Join(allowed, ", ")}}
			writeProblem(w, r, p)
			return
		}
		notFound(w, r)
	})
}

// notFound answers 404 not_found.
func notFound(w http.ResponseWriter, r *http.Request) {
	detail := "no route for " + r.URL.Path
	if strings.HasPrefix(r.URL.Path, "/locks/") {
		detail += "; a '/' inside a lock name must be sent as %2F (e.g. /locks/db%2Fprimary/acquire)"
	}
	writeProblem(w, r, newProblem(http.StatusNotFound, "not_found", detail))
}

func jsonEncode(w io.Writer, v any) error {
	return json.NewEncoder(w).Encode(v)
}

// problemErrors makes the errors of a plain net/http handler (http.Error,
// http.NotFound, http.ServeContent's 416) problem+json; the docs handler
// is one.
func problemErrors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&plainErrorWriter{ResponseWriter: w, r: r}, r)
	})
}

// plainErrorWriter answers an error status with a problem and drops the
// handler's own (text/plain) body.
type plainErrorWriter struct {
	http.ResponseWriter
	r        *http.Request
	answered bool
}

func (w *plainErrorWriter) WriteHeader(status int) {
	if status < http.StatusBadRequest || w.answered {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.answered = true
	detail := strings.ToLower(http.StatusText(status))
	if status == http.StatusNotFound {
		detail = "no route for " + w.r.URL.Path
	}
	writeProblem(w.ResponseWriter, w.r, newProblem(status, codeOfStatus(status), detail))
}

func (w *plainErrorWriter) Write(b []byte) (int, error) {
	if w.answered {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *plainErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
