package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

// TestServerErrorsAreProblems sends requests that net/http's server refuses
// before any handler runs, over a real connection through Server.Listener:
// each answer is problem+json with a stable code, closes the connection
// and is logged at info under its request id.
func TestServerErrorsAreProblems(t *testing.T) {
	cases := []struct {
		name, raw string
		status    int
		code      string
		detail    string // a part of the detail
	}{
		{"request line is not HTTP", "HELLO\r\n\r\n", 400, "malformed_request", "malformed"},
		{"no Host header", "GET /health HTTP/1.1\r\n\r\n", 400, "malformed_request", "missing required Host header"},
		{"header line without colon", "GET /health HTTP/1.1\r\nHost: o\r\nno colon\r\n\r\n", 400, "malformed_request", "malformed"},
		{"control byte in a header value", "GET /health HTTP/1.1\r\nHost: o\r\nX-A: a\x01b\r\n\r\n", 400, "malformed_request", "malformed"},
		{"malformed Host header", "GET /health HTTP/1.1\r\nHost: a b\r\n\r\n", 400, "malformed_request", "malformed Host header"},
		{"two Host headers", "GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400, "malformed_request", "malformed"},
		{"unknown transfer coding", "POST /locks/x/acquire HTTP/1.1\r\nHost: o\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "unsupported_transfer_encoding", "unsupported transfer encoding"},
		{"HTTP/2.0 request line", "GET /health HTTP/2.0\r\nHost: o\r\n\r\n", 505, "http_version_not_supported", "unsupported protocol version"},
		{"unknown Expect", "GET /health HTTP/1.1\r\nHost: o\r\nExpect: magic\r\n\r\n", 417, "expectation_failed", "100-continue"},
		{"headers too large", "GET /health HTTP/1.1\r\nHost: o\r\nX-Big: " + strings.Repeat("b", 4*maxHeaderBytes) + "\r\n\r\n", 431, "headers_too_large", "too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, logs := newLog()
			s := newServer(t, log)
			ts := listen(t, s, s.Listener)
			conn := ts.dial(t)
			// Written concurrently: the server may answer and stop
			// reading before it has read everything.
			go func() { _, _ = io.WriteString(conn, c.raw) }()
			r := readResponse(t, conn).problem(t, c.status, c.code)
			if !strings.Contains(r.str("detail"), c.detail) {
				t.Errorf("detail = %q, want it to contain %q", r.str("detail"), c.detail)
			}
			id := r.header.Get("X-Request-Id")
			if id == "" || r.str("request_id") != id {
				t.Errorf("X-Request-Id %q, body request_id %q", id, r.str("request_id"))
			}
			if !r.close {
				t.Error("the answer does not close the connection")
			}
			_ = conn.Close()
			ts.waitClosed(t)
			logs.noneAbove(t, slog.LevelInfo)
			found := false
			for _, rec := range logs.records(t) {
				found = found || rec["request_id"] == id && rec["status"] == float64(c.status)
			}
			if !found {
				t.Errorf("no log line with request id %s and status %d: %v", id, c.status, logs.records(t))
			}
		})
	}
}

// TestNonCanonicalPathsAreNotRedirected: ServeMux would redirect these
// paths to their cleaned form with an HTML body; they are 404 problems,
// while escaped dots and slashes inside a segment still reach the handler.
func TestNonCanonicalPathsAreNotRedirected(t *testing.T) {
	s := newServer(t, nil)
	ts := listen(t, s, s.Listener)
	get := func(t *testing.T, path string) *response {
		t.Helper()
		return ts.exchange(t, "GET "+path+" HTTP/1.1\r\nHost: o\r\nAuthorization: Bearer "+aliceToken+"\r\nConnection: close\r\n\r\n")
	}
	for _, path := range []string{
		"//health", "/locks//x", "/locks/../health", "/locks/./x", "/locks/x/..", "/./health",
		"/docs/assets", "/docs/./assets/init.js", "/locks/a%2Fb/../health", "/locks/%2E%2E//x",
	} {
		t.Run(path, func(t *testing.T) {
			r := get(t, path).problem(t, http.StatusNotFound, "not_found")
			if loc := r.header.Get("Location"); loc != "" {
				t.Errorf("Location = %q", loc)
			}
		})
	}
	t.Run("asterisk", func(t *testing.T) {
		get(t, "*").problem(t, http.StatusBadRequest, "malformed_request")
	})
	t.Run("escaped dots reach the handler", func(t *testing.T) {
		get(t, "/locks/%2E%2E").problem(t, http.StatusUnprocessableEntity, "invalid_name")
		get(t, "/locks/a%2F%2E%2E%2Fb").problem(t, http.StatusUnprocessableEntity, "invalid_name")
	})
	t.Run("escaped slash reaches the handler", func(t *testing.T) {
		if r := get(t, "/locks/db%2Fprimary"); r.status != http.StatusOK || r.str("name") != "db/primary" {
			t.Errorf("GET /locks/db%%2Fprimary = %d %s", r.status, r.raw)
		}
	})
	t.Run("requests pass through the listener unchanged", func(t *testing.T) {
		conn := ts.dial(t)
		for range 3 { // one keep-alive connection
			if _, err := io.WriteString(conn, "GET /health HTTP/1.1\r\nHost: o\r\n\r\n"); err != nil {
				t.Fatal(err)
			}
			if r := readResponse(t, conn); r.status != http.StatusOK || r.str("status") != "ok" {
				t.Fatalf("GET /health = %d %s", r.status, r.raw)
			}
		}
	})
}

// TestDocsErrorsAreProblems: the docs handler's own errors (an unknown
// asset, a range past the end) are problem+json too; its files are not.
func TestDocsErrorsAreProblems(t *testing.T) {
	s := newServer(t, nil)
	serve(t, s, http.MethodGet, "/docs/assets/nope.js", "", nil, nil).problem(t, http.StatusNotFound, "not_found")
	serve(t, s, http.MethodGet, "/docs/assets/", "", nil, nil).problem(t, http.StatusNotFound, "not_found")
	serve(t, s, http.MethodGet, "/docs/assets/init.js", "", nil, http.Header{"Range": {"bytes=99999999-"}}).
		problem(t, http.StatusRequestedRangeNotSatisfiable, "range_not_satisfiable")
	r := serve(t, s, http.MethodGet, "/docs/assets/init.js", "", nil, nil)
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/javascript") || len(r.raw) == 0 {
		t.Errorf("GET init.js = %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.raw))
	}
}
