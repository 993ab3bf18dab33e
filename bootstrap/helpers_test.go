package bootstrap_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/octostore/octostore/bootstrap"
)

// Static tokens of the end-to-end tests. Every token is at least
// domain.MinTokenBytes long and all of them differ.
const (
	aliceToken = "alice-token-0123456789"
	bobToken   = "bob-token-0123456789ab"
	carolToken = "carol-token-0123456789"
	adminTok   = "admin-token-0123456789"
	wrongToken = "not-a-token-0123456789"
)

// racers is the number of distinct principals (acme/u0 … acme/u63) that
// compete for one lock in the race test.
const racers = 64

// racerToken returns the token of acme/u<i>.
func racerToken(i int) string { return fmt.Sprintf("racer-%02d-token-0123456789", i) }

// e2eConfig returns the configuration of a test server on dbPath: a free
// port on the loopback interface, fast sweeps, and the static tokens of
// acme/alice, acme/bob, globex/carol and acme/u0…u63 plus
// the admin token.
func e2eConfig(dbPath string) bootstrap.Config {
	cfg := bootstrap.DefaultConfig()
	cfg.Addr = "127.0.0.1:0"
	cfg.DB = dbPath
	cfg.Locks.SweepInterval = 50 * time.Millisecond
	cfg.Shutdown.Timeout = 5 * time.Second
	cfg.AdminToken = adminTok
	cfg.StaticTokens = []string{
		"acme/alice:" + aliceToken,
		"acme/bob:" + bobToken,
		"globex/carol:" + carolToken,
	}
	for i := range racers {
		cfg.StaticTokens = append(cfg.StaticTokens, fmt.Sprintf("acme/u%d:%s", i, racerToken(i)))
	}
	return cfg
}

// syncBuffer is a bytes.Buffer safe for concurrent writers, for logs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// server is one running app as seen from a test: its base URL, an HTTP
// client and the record of every request made through it.
type server struct {
	base   string
	client *http.Client
	stop   func()
	// signIn runs a GitHub sign-in against a fake GitHub and returns its
	// exchange code; nil unless the server has GitHub sign-in on.
	signIn func(t *testing.T) string

	mu    sync.Mutex
	calls []call
}

// call is one request and the status it got, for the spec check.
type call struct {
	method string
	path   string // escaped, without query
	status int
	ctype  string // media type of the response, without parameters
}

// startServer starts the full fx app with cfg, the console banner going to
// console and the log to log (either may be nil), and stops it at cleanup
// at the latest.
func startServer(t testing.TB, cfg bootstrap.Config, console io.Writer, log *slog.Logger) *server {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var srv *bootstrap.HTTPServer
	app := fx.New(
		bootstrap.Options(cfg, bootstrap.Env{Version: "test", Logger: log, Console: console}),
		fx.Populate(&srv),
	)
	if err := app.Err(); err != nil {
		t.Fatalf("build app: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start app: %v", err)
	}
	transport := &http.Transport{MaxIdleConnsPerHost: racers + 8}
	s := &server{
		base: "http://" + srv.Addr(),
		client: &http.Client{
			Transport: transport,
			Timeout:   10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a redirect is an answer to assert on
			},
		},
	}
	var once sync.Once
	s.stop = func() {
		once.Do(func() {
			transport.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			if err := app.Stop(ctx); err != nil {
				t.Errorf("stop app: %v", err)
			}
		})
	}
	t.Cleanup(s.stop)
	return s
}

// newServer starts a server with e2eConfig on a fresh database file.
func newServer(t *testing.T) *server {
	t.Helper()
	return startServer(t, e2eConfig(filepath.Join(t.TempDir(), "octostore.db")), nil, nil)
}

// req is one HTTP request to the server under test.
type req struct {
	method string
	path   string // already escaped, may carry a query
	token  string // sent as a bearer token when not empty
	// body is nil for no body; a string or []byte is sent as is, an
	// io.Reader chunked; anything else is sent JSON-encoded.
	body   any
	ctype  string // Content-Type; application/json when there is a body and ctype is empty
	header http.Header
	// firstFrame reads an event stream only up to the end of its first
	// frame, then closes it (a stream does not end by itself).
	firstFrame bool
}

// resp is a response with its body read.
type resp struct {
	status int
	header http.Header
	raw    []byte
	obj    map[string]any // the body decoded as a JSON object, or nil
}

// call sends an authenticated request with an optional JSON body.
func (s *server) call(t testing.TB, method, path, token string, body any) *resp {
	t.Helper()
	return s.send(t, req{method: method, path: path, token: token, body: body})
}

// send performs r and checks what every response must carry: an
// X-Request-Id header. It must run on the test's goroutine.
func (s *server) send(t testing.TB, r req) *resp {
	t.Helper()
	res, err := s.do(r)
	if err != nil {
		t.Fatal(err)
	}
	if res.header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s -> %d: no X-Request-Id header", r.method, r.path, res.status)
	}
	return res
}

// do performs r and records it for the spec check. It is safe to call
// from any goroutine.
func (s *server) do(r req) (*resp, error) { return s.doCtx(context.Background(), r) }

// doCtx is do bound to ctx; a request with a context of its own (one that
// blocks, or is cancelled on purpose) is not cut off by the client timeout.
func (s *server) doCtx(ctx context.Context, r req) (*resp, error) {
	var body io.Reader
	ctype := r.ctype
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader: // sent chunked: no Content-Length
		body = b
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			return nil, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(enc)
	}
	if body != nil && ctype == "" {
		ctype = "application/json"
	}
	hr, err := http.NewRequestWithContext(ctx, r.method, s.base+r.path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	for k, vs := range r.header {
		hr.Header[k] = vs
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	if r.token != "" {
		hr.Header.Set("Authorization", "Bearer "+r.token)
	}
	client := s.client
	if ctx != context.Background() {
		client = &http.Client{Transport: s.client.Transport, CheckRedirect: s.client.CheckRedirect}
	}
	res, err := client.Do(hr)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer res.Body.Close()
	var raw []byte
	if r.firstFrame && strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		raw, err = readFrame(res.Body)
	} else {
		raw, err = io.ReadAll(res.Body)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", r.method, r.path, err)
	}
	out := &resp{status: res.StatusCode, header: res.Header, raw: raw}
	s.mu.Lock()
	mt, _, _ := strings.Cut(res.Header.Get("Content-Type"), ";")
	s.calls = append(s.calls, call{method: r.method, path: hr.URL.EscapedPath(), status: res.StatusCode, ctype: strings.TrimSpace(mt)})
	s.mu.Unlock()
	if len(raw) > 0 && raw[0] == '{' {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&out.obj); err != nil {
			return nil, fmt.Errorf("%s %s: body is not JSON: %w\n%s", r.method, r.path, err, raw)
		}
	}
	return out, nil
}

// readFrame reads an event stream up to the blank line that ends its
// first frame.
func readFrame(r io.Reader) ([]byte, error) {
	br := bufio.NewReader(r)
	var out []byte
	for {
		line, err := br.ReadBytes('\n')
		out = append(out, line...)
		if err != nil {
			return out, err
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 && len(out) > len(line) {
			return out, nil
		}
	}
}

// recorded returns a copy of the calls made so far.
func (s *server) recorded() []call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]call(nil), s.calls...)
}

// ok fails the test unless the response has status want (a 2xx) and a JSON
// content type.
func (r *resp) ok(t testing.TB, want int) *resp {
	t.Helper()
	if r.status != want {
		t.Fatalf("status = %d, want %d; body: %s", r.status, want, r.raw)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	return r
}

// problem fails the test unless the response is a problem+json document
// with status and code; it returns r for further checks.
func (r *resp) problem(t *testing.T, status int, code string) *resp {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d (%s); body: %s", r.status, status, code, r.raw)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json; body: %s", ct, r.raw)
	}
	if r.obj == nil {
		t.Fatalf("problem body is not a JSON object: %s", r.raw)
	}
	if got := r.str("code"); got != code {
		t.Errorf("code = %q, want %q; body: %s", got, code, r.raw)
	}
	if got := r.num(t, "status"); got != uint64(status) {
		t.Errorf("body status = %d, want %d", got, status)
	}
	if r.str("title") == "" {
		t.Errorf("problem has no title: %s", r.raw)
	}
	return r
}

// str returns the string field key of the body, or "".
func (r *resp) str(key string) string {
	s, _ := r.obj[key].(string)
	return s
}

// num returns the unsigned integer field key of the body.
func (r *resp) num(t testing.TB, key string) uint64 {
	t.Helper()
	n, ok := r.obj[key].(json.Number)
	if !ok {
		t.Fatalf("field %q is %T, not a number: %s", key, r.obj[key], r.raw)
	}
	v, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("field %q = %s: %v", key, n, err)
	}
	return v
}

// time returns the RFC 3339 time field key of the body.
func (r *resp) time(t testing.TB, key string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, r.str(key))
	if err != nil {
		t.Fatalf("field %q: %v; body: %s", key, err, r.raw)
	}
	return v
}

// within fails the test unless lo <= got <= hi.
func within(t *testing.T, what string, got, lo, hi time.Time) {
	t.Helper()
	if got.Before(lo) || got.After(hi) {
		t.Errorf("%s = %s, want between %s and %s", what, got.Format(time.RFC3339Nano),
			lo.Format(time.RFC3339Nano), hi.Format(time.RFC3339Nano))
	}
}

// slack covers the millisecond truncation of times on the wire.
const slack = 10 * time.Millisecond

// lockPath returns /locks/<name><suffix> with name escaped as one path
// segment ('/' sent as %2F).
func lockPath(name, suffix string) string {
	return "/locks/" + url.PathEscape(name) + suffix
}

// lease is what a test keeps of a grant.
type lease struct {
	name    string
	id      string
	token   uint64
	expires time.Time
}

// acquire acquires name for token with body and requires success.
func (s *server) acquire(t testing.TB, token, name string, body any) lease {
	t.Helper()
	r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), token, body).ok(t, http.StatusOK)
	if r.str("status") != "acquired" || r.str("name") != name || r.str("lease_id") == "" {
		t.Fatalf("acquire %s: unexpected body %s", name, r.raw)
	}
	return lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
}

// get describes name as seen by token.
func (s *server) get(t *testing.T, token, name string) *resp {
	t.Helper()
	return s.call(t, http.MethodGet, lockPath(name, ""), token, nil).ok(t, http.StatusOK)
}

// heldBy reports whether a lock description (GET or a listing entry)
// shows holder, written as the tests name holders: "user:X" for a lock
// taken by user X without owner or session, "session:ID" for one held by
// session ID, "user:X/owner:O" for one taken by X with owner O.
func heldBy(m map[string]any, holder string) bool {
	str := func(k string) string { v, _ := m[k].(string); return v }
	if id, ok := strings.CutPrefix(holder, "session:"); ok {
		return str("session_id") == id && str("owner") == "" && strings.Contains(str("holder"), "/")
	}
	who, owner, _ := strings.Cut(strings.TrimPrefix(holder, "user:"), "/owner:")
	return strings.HasSuffix(str("holder"), "/"+who) && str("owner") == owner && str("session_id") == ""
}

// wantHeld requires that name is held by holder (see heldBy) with the
// grant of l.
func (s *server) wantHeld(t *testing.T, token, name, holder string, l lease) *resp {
	t.Helper()
	r := s.get(t, token, name)
	if r.str("status") != "held" || !heldBy(r.obj, holder) || r.num(t, "fencing_token") != l.token ||
		!r.time(t, "expires_at").Equal(l.expires) {
		t.Fatalf("GET %s = %s, want held by %s with token %d until %s", name, r.raw, holder, l.token, l.expires.Format(time.RFC3339Nano))
	}
	return r
}

// wantFree requires that name is free for token.
func (s *server) wantFree(t *testing.T, token, name string) {
	t.Helper()
	r := s.get(t, token, name)
	if r.str("status") != "free" {
		t.Fatalf("GET %s = %s, want free", name, r.raw)
	}
	for _, k := range []string{"holder", "fencing_token", "expires_at", "metadata", "lease_id"} {
		if _, ok := r.obj[k]; ok {
			t.Errorf("free lock shows %q: %s", k, r.raw)
		}
	}
}

// waitNotHeld polls until name is no longer held for token (free, or
// delayed in its lock delay), for at most 5 s.
func (s *server) waitNotHeld(t *testing.T, token, name string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.get(t, token, name)
		if r.str("status") != "held" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still held after 5s: %s", name, r.raw)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitWaiters polls GET name until it shows n queued waiters (the queue's
// own state, so that tests order waiters without sleeping), for at most 5 s.
func (s *server) waitWaiters(t *testing.T, token, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.get(t, token, name)
		if _, ok := r.obj["waiters"]; ok && r.num(t, "waiters") == uint64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: want %d waiters: %s", name, n, r.raw)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitCommit waits (at most 5 s) until the writer has committed another
// batch, read from /admin/stats: a commit also records that the server is
// alive, which restart grace relies on.
func (s *server) waitCommit(t *testing.T) {
	t.Helper()
	batches := func() uint64 {
		return s.call(t, http.MethodGet, "/admin/stats", adminTok, nil).ok(t, http.StatusOK).num(t, "batches")
	}
	before, deadline := batches(), time.Now().Add(5*time.Second)
	for batches() == before {
		if time.Now().After(deadline) {
			t.Fatal("no commit within 5s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// acquireWhenAvailable acquires name once its lock delay, ending at avail,
// has passed. The server decides by its monotonic clock and avail is a
// wall time (they drift apart by milliseconds per minute on a VM), so
// after avail it retries a refused acquire for at most 5 s.
func (s *server) acquireWhenAvailable(t *testing.T, token, name string, avail time.Time) lease {
	t.Helper()
	time.Sleep(time.Until(avail))
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), token, nil)
		if r.status == http.StatusOK {
			return lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
		}
		r.problem(t, http.StatusLocked, "lock_delayed")
		if time.Now().After(deadline) {
			t.Fatalf("%s still delayed 5s after %s", name, avail.Format(time.RFC3339Nano))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wantDelayedLock requires that GET name shows it in its lock delay until
// avail, and nothing of its former holder.
func (s *server) wantDelayedLock(t *testing.T, token, name string, avail time.Time) {
	t.Helper()
	r := s.get(t, token, name)
	if r.str("status") != "delayed" || !r.time(t, "available_at").Equal(avail) {
		t.Fatalf("GET %s = %s, want delayed until %s", name, r.raw, avail.Format(time.RFC3339Nano))
	}
	for _, k := range []string{"holder", "fencing_token", "expires_at", "metadata", "lease_id", "owner", "session_id"} {
		if _, ok := r.obj[k]; ok {
			t.Errorf("delayed lock shows %q: %s", k, r.raw)
		}
	}
}

// specPaths reads /openapi.json: for each path template and method, the
// documented statuses and the media types of each.
func (s *server) specPaths(t *testing.T) map[string]map[string]map[string][]string {
	t.Helper()
	r := s.call(t, http.MethodGet, "/openapi.json", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Responses map[string]struct {
				Content map[string]json.RawMessage `json:"content"`
			} `json:"responses"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatalf("decode spec: %v", err)
	}
	out := map[string]map[string]map[string][]string{}
	for path, ops := range doc.Paths {
		out[path] = map[string]map[string][]string{}
		for method, op := range ops {
			codes := map[string][]string{}
			for code, res := range op.Responses {
				types := []string{}
				for mt := range res.Content {
					types = append(types, mt)
				}
				codes[code] = types
			}
			out[path][strings.ToUpper(method)] = codes
		}
	}
	return out
}

// matchTemplate reports whether the escaped path matches an OpenAPI path
// template, where {x} stands for one non-empty segment.
func matchTemplate(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
			if ps[i] == "" {
				return false
			}
			continue
		}
		if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// servedOutsideSpec are the routes that are not API operations.
func servedOutsideSpec(path string) bool {
	return path == "/openapi.json" || path == "/openapi.yaml" || path == "/docs" ||
		strings.HasPrefix(path, "/docs/") || path == "/" || strings.HasPrefix(path, "/ui/")
}

// checkSpec checks every request made through s against the spec: the
// status must be among the documented responses of the operation, with a
// documented media type. A path the spec does not know must have got 404
// (or be a docs route), and a known path with an undocumented method 405.
func checkSpec(t *testing.T, s *server) {
	t.Helper()
	spec := s.specPaths(t)
	calls := s.recorded()
	if len(calls) == 0 {
		t.Fatal("no calls recorded")
	}
	seen := map[call]bool{}
	for _, c := range calls {
		if seen[c] {
			continue
		}
		seen[c] = true
		// The template with the most literal segments wins: /flags/evaluate
		// before /flags/{name}, as the router decides.
		var ops map[string]map[string][]string
		best := -1
		for tmpl, o := range spec {
			if lit := strings.Count(tmpl, "/") - strings.Count(tmpl, "{"); matchTemplate(tmpl, c.path) && lit > best {
				ops, best = o, lit
			}
		}
		switch {
		case ops == nil:
			if c.status != http.StatusNotFound && !servedOutsideSpec(c.path) {
				t.Errorf("%s %s -> %d: path not in the spec, want 404", c.method, c.path, c.status)
			}
		case ops[c.method] == nil:
			if c.status != http.StatusMethodNotAllowed {
				t.Errorf("%s %s -> %d: method not in the spec, want 405", c.method, c.path, c.status)
			}
		default:
			types, ok := ops[c.method][strconv.Itoa(c.status)]
			if !ok {
				t.Errorf("%s %s -> %d: status not documented for this operation", c.method, c.path, c.status)
			} else if len(types) > 0 && !slices.Contains(types, c.ctype) {
				t.Errorf("%s %s -> %d: Content-Type %q, documented %v", c.method, c.path, c.status, c.ctype, types)
			}
		}
	}
}
