package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/clock"
	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// Tokens of the test server's principals.
const (
	aliceToken = "alice-token-0123456789"
	bobToken   = "bob-token-0123456789ab"
	adminToken = "admin-token-0123456789"
)

// newServer returns the real API on a started engine over an in-memory
// journal, with acme/alice, acme/bob and the admin as principals; log may be nil.
func newServer(tb testing.TB, log *slog.Logger) *httpapi.Server {
	tb.Helper()
	e := application.NewEngine(memstore.New(), clock.System{}, application.EngineConfig{})
	if err := e.Start(context.Background()); err != nil {
		tb.Fatalf("start engine: %v", err)
	}
	tb.Cleanup(func() { _ = e.Stop(context.Background()) })
	creds := []domain.Credential{
		{Hash: domain.HashToken(aliceToken), Principal: domain.Principal{Org: "acme", User: "alice"}},
		{Hash: domain.HashToken(bobToken), Principal: domain.Principal{Org: "acme", User: "bob"}},
		{Hash: domain.HashToken(adminToken), Principal: domain.Principal{User: "admin", Admin: true}},
	}
	return httpapi.New(httpapi.Config{Version: "test", Logger: log}, httpapi.Services{
		Locks:    application.NewLockService(e, 0),
		Sessions: application.NewSessionService(e),
		Auth:     application.NewAuthService(e, creds),
		Engine:   e,
	})
}

// logBuffer is a slog handler's destination that is safe for concurrent
// writers; every line is JSON.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// newLog returns a logger at debug level writing JSON lines to a buffer.
func newLog() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// records returns the log lines written so far, decoded.
func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for line := range strings.SplitSeq(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %v: %s", err, line)
		}
		out = append(out, m)
	}
	return out
}

// noneAbove fails the test if any log line is above level max.
func (b *logBuffer) noneAbove(t *testing.T, max slog.Level) {
	t.Helper()
	for _, r := range b.records(t) {
		var l slog.Level
		if err := l.UnmarshalText([]byte(r["level"].(string))); err != nil {
			t.Fatal(err)
		}
		if l > max {
			t.Errorf("log line above %s: %v", max, r)
		}
	}
}

// accessLine returns the access-log line of the request with id, or nil.
func (b *logBuffer) accessLine(t *testing.T, id string) map[string]any {
	t.Helper()
	for _, r := range b.records(t) {
		if r["msg"] == "request" && r["request_id"] == id {
			return r
		}
	}
	return nil
}

// serve sends one request through s's handler; body may be nil. A body is
// sent as application/json unless header says otherwise.
func serve(t *testing.T, s *httpapi.Server, method, path, token string, body io.Reader, header http.Header) *response {
	t.Helper()
	r := httptest.NewRequest(method, path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		r.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, r)
	res := decode(t, rec.Code, rec.Header(), rec.Body.Bytes())
	res.method, res.path = method, r.URL.EscapedPath()
	return res
}

// decode builds a response (the contract suite's type) from its parts;
// its method and path are unknown when it was read off a connection.
func decode(t *testing.T, status int, header http.Header, raw []byte) *response {
	t.Helper()
	res := &response{status: status, header: header, raw: raw}
	if len(raw) > 0 && raw[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&res.obj); err != nil {
			t.Fatalf("body is not JSON: %v: %s", err, raw)
		}
	}
	return res
}

// testDeadline bounds every raw-connection exchange of a test.
const testDeadline = 10 * time.Second

// maxHeaderBytes keeps the test servers' header limit small (net/http
// allows 4 KiB more).
const maxHeaderBytes = 4 << 10

// tcpServer is s served by a real http.Server on a loopback port.
type tcpServer struct {
	addr   string
	closed chan struct{} // receives once per closed connection
}

// listen serves s on 127.0.0.1 until the test ends; wrap may wrap the
// listener (nil: none).
func listen(t *testing.T, s *httpapi.Server, wrap func(net.Listener) net.Listener) *tcpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &tcpServer{addr: ln.Addr().String(), closed: make(chan struct{}, 64)}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: testDeadline,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateClosed {
				ts.closed <- struct{}{}
			}
		},
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ts
}

// dial opens a connection to ts with a deadline for the whole exchange.
func (ts *tcpServer) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if err := c.SetDeadline(time.Now().Add(testDeadline)); err != nil {
		t.Fatal(err)
	}
	return c
}

// exchange writes raw to a new connection and reads one response.
func (ts *tcpServer) exchange(t *testing.T, raw string) *response {
	t.Helper()
	c := ts.dial(t)
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, c)
}

func readResponse(t *testing.T, c net.Conn) *response {
	t.Helper()
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("read response body: %v", err)
	}
	r := decode(t, res.StatusCode, res.Header, raw)
	r.close = res.Close
	return r
}

// waitClosed waits until the server has closed a connection.
func (ts *tcpServer) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-ts.closed:
	case <-time.After(testDeadline):
		t.Fatal("the server did not close the connection")
	}
}
