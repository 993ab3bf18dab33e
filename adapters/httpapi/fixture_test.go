package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/adapters/metrics"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
	"github.com/octostore/octostore/ports/porttest"
)

// This file is the contract suite's fixture: the real application over the
// memory journal and a clock moved by hand, served through
// Server.Handler() without a socket, and over a loopback connection for
// watch streams (stream_test.go). Every response a test sees is checked
// against the OpenAPI document when the test ends (see spec_test.go).

// The bearer tokens of the suite: three users of org acme, one of org globex,
// and the admin.
const (
	aliceTok = "alice-token-0123456789"
	bobTok   = "bob-token-0123456789ab"
	carolTok = "carol-token-0123456789"
	daveTok  = "dave-token-0123456789a"
	adminTok = "admin-token-0123456789"
	badTok   = "not-a-token-0123456789"
)

var credentials = []domain.Credential{
	{Hash: domain.HashToken(aliceTok), Principal: domain.Principal{Org: "acme", User: "alice"}},
	{Hash: domain.HashToken(bobTok), Principal: domain.Principal{Org: "acme", User: "bob"}},
	{Hash: domain.HashToken(carolTok), Principal: domain.Principal{Org: "globex", User: "carol"}},
	{Hash: domain.HashToken(daveTok), Principal: domain.Principal{Org: "acme", User: "dave"}},
	{Hash: domain.HashToken(adminTok), Principal: application.AdminPrincipal},
}

// api is one server under test.
type api struct {
	clock   *porttest.Clock
	journal *memstore.Journal
	engine  *application.Engine
	events  *application.EventService
	server  *httpapi.Server
	handler http.Handler
	setup   setup

	mu   sync.Mutex
	seen []*response
	addr string // of the TCP server, once started (serveTCP)
}

// setup tunes newAPIWith.
type setup struct {
	defaultDelay time.Duration // locks.default_lock_delay
	keepEvents   uint64        // events kept in storage (0: the engine's default)
	// watch bounds watch streams; its zero fields become MaxLag 16 and
	// PerPrincipal 2 (MaxStreams stays the service's default).
	watch        application.WatchLimits
	allowPrivate bool          // webhooks may be http:// and point at private addresses
	heartbeat    time.Duration // Config.WatchHeartbeat; 0: an hour, so that no heartbeat comes between the frames a test expects
	writeTimeout time.Duration // Config.WatchWriteTimeout (0: the server's default)
	// send, when set, is the webhook sender of a started dispatcher that
	// tries each delivery twice, 1 ms apart.
	send func(context.Context, ports.WebhookRequest) (int, error)
	// sendBuffer is SO_SNDBUF of the connections the TCP server accepts
	// (0: the system's), and receiveBuffer SO_RCVBUF of the streams a
	// test opens (0: the system's; set before connecting where the
	// platform allows).
	sendBuffer, receiveBuffer int
	github                    httpapi.GitHub // GitHub sign-in (off when nil)
	notServing                bool           // leave the server's listener "not serving" (GET /ready: 503)
	metricsPublic             bool           // metrics.public: GET /metrics needs no token
	// apiRate and apiBurst are Config.APIRate and APIBurst (0: off).
	apiRate  float64
	apiBurst int
	// configWriteRate is Config.ConfigWriteRate (0: off).
	configWriteRate int
	quotas          domain.Limits // server-wide quotas (nil: the defaults)
}

// sendFunc is a ports.WebhookSender made of a function.
type sendFunc func(context.Context, ports.WebhookRequest) (int, error)

func (f sendFunc) Send(ctx context.Context, r ports.WebhookRequest) (int, error) { return f(ctx, r) }

// newAPI starts the application on a fresh memory journal; the engine
// stops and every response seen is checked against the spec when t ends.
func newAPI(t *testing.T) *api { return newAPIWith(t, setup{}) }

func newAPIWith(t *testing.T, s setup) *api {
	t.Helper()
	// Whole milliseconds, as times are stored and sent, so that the
	// times a test computes equal those on the wire.
	clk := porttest.NewClock(time.Now().UTC().Truncate(time.Millisecond))
	j := memstore.New()
	// The sweep and the idle heartbeat never run on their own within a
	// test: a test sweeps with Engine.Sweep, and a commit it makes fail is
	// the commit of its own request.
	e := application.NewEngine(j, clk, application.EngineConfig{SweepInterval: time.Hour, Heartbeat: time.Hour, KeepEvents: s.keepEvents, Quotas: s.quotas})
	if err := e.Start(context.Background()); err != nil {
		t.Fatalf("start engine: %v", err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	if s.send != nil {
		d := application.NewDispatcher(e, sendFunc(s.send), application.DispatchConfig{Attempts: 2, Backoff: time.Millisecond, MaxBackoff: time.Millisecond})
		d.Start()
		t.Cleanup(func() { _ = d.Stop(context.Background()) })
	}
	if s.watch.MaxLag == 0 {
		s.watch.MaxLag = 16
	}
	if s.watch.PerPrincipal == 0 {
		s.watch.PerPrincipal = 2
	}
	if s.heartbeat == 0 {
		s.heartbeat = time.Hour
	}
	events := application.NewEventService(e, s.watch)
	m := metrics.New(metrics.Config{Version: "v-contract"})
	m.ReadState(func() metrics.State { // as bootstrap reads it
		g := e.Gauges()
		d := map[string]int{}
		for state, n := range g.Deliveries {
			d[string(state)] = n
		}
		return metrics.State{LocksHeld: g.LockRecords, SessionsOpen: g.Sessions, WatchStreams: events.OpenStreams(),
			WaitersQueued: g.Waiters, EventsRetained: g.EventsRetained, Deliveries: d, RestoreTook: g.RestoreTook}
	})
	auth := application.NewAuthService(e, credentials)
	orgs := application.NewOrgService(e, auth)
	srv := httpapi.New(httpapi.Config{Version: "v-contract", Now: clk.Now, WatchHeartbeat: s.heartbeat, WatchWriteTimeout: s.writeTimeout,
		DashboardURL: dashboardURL, Metrics: m.Handler(), MetricsPublic: s.metricsPublic, Requests: m,
		APIRate: s.apiRate, APIBurst: s.apiBurst, ConfigWriteRate: s.configWriteRate}, httpapi.Services{
		Locks:    application.NewLockService(e, s.defaultDelay),
		Sessions: application.NewSessionService(e),
		Auth:     auth,
		Engine:   e,
		Events:   events,
		Webhooks: application.NewWebhookService(e, s.allowPrivate),
		Orgs:     orgs,
		Quotas:   application.NewQuotaService(e, events),
		Access:   application.NewAccessService(e),
		Login:    application.NewLoginService(e, orgs, domain.OrgMapping{}),
		Admin:    application.NewAdminService(e, events, auth),
		Config:   application.NewConfigService(e, events),
		GitHub:   s.github,
		Flags:    application.NewFlagService(e),
		Limits:   application.NewLimitService(e),
	})
	if !s.notServing {
		srv.SetServing(true)
	}
	a := &api{clock: clk, journal: j, engine: e, events: events, server: srv, handler: srv.Handler(), setup: s}
	t.Cleanup(func() { a.conform(t) })
	return a
}

// request is one HTTP request to the server under test.
type request struct {
	method string
	path   string // escaped, may carry a query
	token  string // sent as a bearer token when not empty
	// body is nil (or a nil map) for none; a string or []byte is sent as
	// is, an io.Reader without a length (as if chunked), anything else
	// JSON-encoded.
	body   any
	ctype  string // Content-Type; application/json when there is a body and ctype is empty
	header http.Header
	ctx    context.Context // nil: the background
}

// response is what the handler answered, with the body decoded when it is
// a JSON object.
type response struct {
	method string
	path   string // escaped, without the query
	status int
	header http.Header
	raw    []byte
	obj    map[string]any
	err    error // the body looked like JSON but did not decode
	close  bool  // the server announced it closes the connection (raw exchanges)
}

// send serves r through the handler and records the answer. It calls no
// testing.T method, so background goroutines may use it.
func (a *api) send(r request) *response {
	var body io.Reader
	ctype := r.ctype
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	case io.Reader:
		body = b
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			panic(err)
		}
		if string(enc) != "null" {
			body = bytes.NewReader(enc)
		}
	}
	if body != nil && ctype == "" {
		ctype = "application/json"
	}
	req := httptest.NewRequest(r.method, r.path, body)
	if r.ctx != nil {
		req = req.WithContext(r.ctx)
	}
	for k, vs := range r.header {
		req.Header[k] = vs
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, req)
	res := &response{method: r.method, path: req.URL.EscapedPath(), status: rec.Code, header: rec.Header(), raw: rec.Body.Bytes()}
	if bytes.HasPrefix(bytes.TrimSpace(res.raw), []byte("{")) {
		dec := json.NewDecoder(bytes.NewReader(res.raw))
		dec.UseNumber()
		if err := dec.Decode(&res.obj); err != nil {
			res.err = fmt.Errorf("body is not JSON: %w", err)
		}
	}
	a.mu.Lock()
	a.seen = append(a.seen, res)
	a.mu.Unlock()
	return res
}

// call sends an authenticated request with an optional body.
func (a *api) call(method, path, token string, body any) *response {
	return a.send(request{method: method, path: path, token: token, body: body})
}

// post and get are call for the two methods most requests use.
func (a *api) post(path, token string, body any) *response {
	return a.call(http.MethodPost, path, token, body)
}

func (a *api) put(path, token string, body any) *response {
	return a.call(http.MethodPut, path, token, body)
}

func (a *api) get(path, token string) *response { return a.call(http.MethodGet, path, token, nil) }

// goSend serves r on another goroutine; the answer arrives on the channel.
func (a *api) goSend(r request) <-chan *response {
	ch := make(chan *response, 1)
	go func() { ch <- a.send(r) }()
	return ch
}

// lockPath returns /locks/<name><suffix>, the name one escaped segment.
func lockPath(name, suffix string) string { return "/locks/" + url.PathEscape(name) + suffix }

// sessionPath returns /sessions/<id><suffix>.
func sessionPath(id, suffix string) string { return "/sessions/" + id + suffix }

// lease is what a test keeps of a grant.
type lease struct {
	name    string
	id      string
	token   uint64
	expires time.Time
}

func leaseOf(t *testing.T, name string, r *response) lease {
	t.Helper()
	return lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
}

// acquire acquires name for token with body and requires a fresh grant.
func (a *api) acquire(t *testing.T, token, name string, body any) lease {
	t.Helper()
	r := a.post(lockPath(name, "/acquire"), token, body).ok(t, http.StatusOK)
	if r.str("status") != "acquired" || r.str("name") != name || r.str("lease_id") == "" {
		t.Fatalf("%v: not a grant of %s", r, name)
	}
	return leaseOf(t, name, r)
}

// release releases l for token and requires success.
func (a *api) release(t *testing.T, token string, l lease) {
	t.Helper()
	a.post(lockPath(l.name, "/release"), token, map[string]string{"lease_id": l.id}).ok(t, http.StatusOK)
}

// session is what a test keeps of an open session.
type session struct {
	id      string
	expires time.Time
}

// openSession opens a session of ttl seconds for token.
func (a *api) openSession(t *testing.T, token string, ttl int) session {
	t.Helper()
	r := a.post("/sessions", token, map[string]int{"ttl_seconds": ttl}).ok(t, http.StatusCreated)
	return session{id: r.str("session_id"), expires: r.time(t, "expires_at")}
}

// withSession is an acquire body holding the lock as s, merged with extra.
func withSession(s session, extra map[string]any) map[string]any {
	b := map[string]any{"session_id": s.id}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// status returns GET /locks/{name} for token.
func (a *api) status(t *testing.T, token, name string) *response {
	t.Helper()
	return a.get(lockPath(name, ""), token).ok(t, http.StatusOK)
}

// wantHeld requires that GET name shows l held by holder (org/user), with
// the owner or session given in extra ("owner" or "session_id"), and
// nothing else of the holder.
func (a *api) wantHeld(t *testing.T, token string, l lease, holder string, extra map[string]string) *response {
	t.Helper()
	r := a.status(t, token, l.name)
	if r.str("status") != "held" || r.str("holder") != holder || r.num(t, "fencing_token") != l.token ||
		!r.time(t, "expires_at").Equal(l.expires) {
		t.Fatalf("%v: want held by %s with token %d until %s", r, holder, l.token, l.expires.Format(time.RFC3339Nano))
	}
	for _, k := range []string{"owner", "session_id"} {
		if r.str(k) != extra[k] {
			t.Errorf("%v: %s %q, want %q", r, k, r.str(k), extra[k])
		}
	}
	if _, ok := r.obj["lease_id"]; ok || strings.Contains(string(r.raw), l.id) {
		t.Errorf("%v: the lease id is shown to readers", r)
	}
	return r
}

// wantFree requires that GET name shows a free lock with nothing of a holder.
func (a *api) wantFree(t *testing.T, token, name string) {
	t.Helper()
	r := a.status(t, token, name)
	if r.str("status") != "free" || r.str("name") != name {
		t.Fatalf("%v: want free", r)
	}
	r.keys(t, "name", "status", "waiters")
}

// waitWaiters waits, at most 5 s, until GET name shows n queued waiters:
// the queue's own state orders the requests of a test, never a sleep.
func (a *api) waitWaiters(t *testing.T, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := a.status(t, aliceTok, name)
		if r.num(t, "waiters") == uint64(n) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: want %d waiters", r, n)
		}
		time.Sleep(time.Millisecond) // yield to the request goroutines
	}
}

// sweep runs the expiry sweep now, at the fake clock's time.
func (a *api) sweep(t *testing.T) {
	t.Helper()
	if err := a.engine.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// answer waits, at most 5 s, for the response of a background request.
func answer(t *testing.T, what string, ch <-chan *response) *response {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: no answer within 5s", what)
		return nil
	}
}

// pending fails the test if a background request has been answered.
func pending(t *testing.T, what string, ch <-chan *response) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: answered early: %v", what, r)
	default:
	}
}
