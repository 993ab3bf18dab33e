package bootstrap_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestHTTP drives one full server over HTTP. The subtests share the server
// and run in order; each uses its own lock names, and the last one checks
// every response seen against the OpenAPI document.
func TestHTTP(t *testing.T) {
	t.Parallel()
	s := newServer(t)

	t.Run("acquire", func(t *testing.T) { testAcquire(t, s) })
	t.Run("lock held", func(t *testing.T) { testLockHeld(t, s) })
	t.Run("release", func(t *testing.T) { testRelease(t, s) })
	t.Run("renew", func(t *testing.T) { testRenew(t, s) })
	t.Run("get", func(t *testing.T) { testGet(t, s) })
	t.Run("list", func(t *testing.T) { testList(t, s) })
	t.Run("names", func(t *testing.T) { testNames(t, s) })
	t.Run("errors leave state unchanged", func(t *testing.T) { testErrors(t, s) })
	t.Run("request id", func(t *testing.T) { testRequestID(t, s) })
	t.Run("public routes", func(t *testing.T) { testPublicRoutes(t, s) })
	t.Run("tenant isolation", func(t *testing.T) { testTenantIsolation(t, s) })
	t.Run("spec conformance", func(t *testing.T) { checkSpec(t, s) })
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

func testAcquire(t *testing.T, s *server) {
	before := time.Now()
	r := s.call(t, http.MethodPost, lockPath("acq/shape", "/acquire"), aliceToken,
		map[string]any{"ttl_seconds": 30, "metadata": "host-a", "owner": "host-a:4711"}).ok(t, http.StatusOK)
	after := time.Now()
	keys := make([]string, 0, len(r.obj))
	for k := range r.obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"expires_at", "fencing_token", "holder", "lease_id", "metadata", "name", "owner", "status"}; !slices.Equal(keys, want) {
		t.Errorf("acquire body keys = %v, want %v: %s", keys, want, r.raw)
	}
	if r.str("status") != "acquired" || r.str("name") != "acq/shape" || r.str("metadata") != "host-a" || r.str("lease_id") == "" ||
		r.str("holder") != "acme/alice" || r.str("owner") != "host-a:4711" {
		t.Errorf("acquire body = %s", r.raw)
	}
	first := lease{name: "acq/shape", id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
	if first.token == 0 {
		t.Errorf("fencing token is 0")
	}
	within(t, "expires_at", first.expires, before.Add(30*time.Second-slack), after.Add(30*time.Second+slack))

	// Without the owner, a second acquire is refused, the taker's own too:
	// two processes sharing a token never both hold the lock.
	s.call(t, http.MethodPost, lockPath("acq/shape", "/acquire"), aliceToken, map[string]any{"ttl_seconds": 5}).problem(t, http.StatusConflict, "lock_held")
	s.call(t, http.MethodPost, lockPath("acq/shape", "/acquire"), aliceToken, map[string]any{"owner": "host-b:1"}).problem(t, http.StatusConflict, "lock_held")
	s.call(t, http.MethodPost, lockPath("acq/shape", "/acquire"), bobToken, map[string]any{"owner": "host-a:4711"}).problem(t, http.StatusConflict, "lock_held")

	// The holder acquiring again with its owner keeps its lease and token;
	// a shorter TTL never shortens the expiry, and no metadata keeps the
	// old one.
	r = s.call(t, http.MethodPost, lockPath("acq/shape", "/acquire"), aliceToken, map[string]any{"ttl_seconds": 5, "owner": "host-a:4711"}).ok(t, http.StatusOK)
	if r.str("lease_id") != first.id || r.num(t, "fencing_token") != first.token || r.str("metadata") != "host-a" {
		t.Errorf("re-acquire = %s, want lease %s token %d metadata host-a", r.raw, first.id, first.token)
	}
	if got := r.time(t, "expires_at"); got.Before(first.expires) {
		t.Errorf("re-acquire with a shorter ttl moved expiry from %s to %s", first.expires, got)
	}
	// A longer TTL extends it.
	before = time.Now()
	r = s.call(t, http.MethodPost, lockPath("acq/shape", "/acquire"), aliceToken,
		map[string]any{"ttl_seconds": 120, "metadata": "host-a2", "owner": "host-a:4711"}).ok(t, http.StatusOK)
	if r.str("lease_id") != first.id || r.num(t, "fencing_token") != first.token || r.str("metadata") != "host-a2" {
		t.Errorf("re-acquire = %s", r.raw)
	}
	if got := r.time(t, "expires_at"); got.Before(before.Add(120*time.Second - slack)) {
		t.Errorf("re-acquire with ttl 120 expires at %s", got)
	}

	// No body at all: the default TTL of 60 s and empty metadata.
	before = time.Now()
	r = s.send(t, req{method: http.MethodPost, path: lockPath("acq/nobody", "/acquire"), token: aliceToken}).ok(t, http.StatusOK)
	after = time.Now()
	if r.str("status") != "acquired" || r.str("metadata") != "" || r.num(t, "fencing_token") <= first.token {
		t.Errorf("acquire without body = %s (token must exceed %d)", r.raw, first.token)
	}
	within(t, "default expires_at", r.time(t, "expires_at"), before.Add(time.Minute-slack), after.Add(time.Minute+slack))

	// The limits themselves are accepted: ttl 1 and 3600, 1024 bytes of metadata.
	for ttl, name := range map[int]string{1: "acq/ttl-min", 3600: "acq/ttl-max"} {
		before := time.Now()
		r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken,
			map[string]any{"ttl_seconds": ttl, "metadata": strings.Repeat("m", 1024)}).ok(t, http.StatusOK)
		d := time.Duration(ttl) * time.Second
		within(t, name+" expires_at", r.time(t, "expires_at"), before.Add(d-slack), time.Now().Add(d+slack))
		if len(r.str("metadata")) != 1024 {
			t.Errorf("%s: metadata of %d bytes", name, len(r.str("metadata")))
		}
	}

	// An empty JSON object is the same as no body.
	r = s.call(t, http.MethodPost, lockPath("acq/empty", "/acquire"), aliceToken, "{}").ok(t, http.StatusOK)
	if r.str("status") != "acquired" {
		t.Errorf("acquire with {} = %s", r.raw)
	}

	// A JSON body is declared as application/json; parameters are allowed.
	s.send(t, req{method: http.MethodPost, path: lockPath("acq/charset", "/acquire"), token: aliceToken,
		body: `{"ttl_seconds":10}`, ctype: "application/json; charset=utf-8"}).ok(t, http.StatusOK)
	s.send(t, req{method: http.MethodPost, path: lockPath("acq/plain", "/acquire"), token: aliceToken,
		body: `{"ttl_seconds":10}`, ctype: "text/plain"}).problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	s.wantFree(t, aliceToken, "acq/plain")
}

func testLockHeld(t *testing.T, s *server) {
	a := s.acquire(t, aliceToken, "held/x", map[string]any{"ttl_seconds": 60, "metadata": "alice"})
	r := s.call(t, http.MethodPost, lockPath("held/x", "/acquire"), bobToken, map[string]any{"ttl_seconds": 10}).
		problem(t, http.StatusConflict, "lock_held")
	if got := r.time(t, "expires_at"); !got.Equal(a.expires) {
		t.Errorf("lock_held expires_at = %s, want %s", got, a.expires)
	}
	ra := r.header.Get("Retry-After")
	secs, err := strconv.Atoi(ra)
	if err != nil || secs < 1 || secs > 60 {
		t.Errorf("Retry-After = %q, want an integer in [1, 60]", ra)
	}
	if _, ok := r.obj["lease_id"]; ok || strings.Contains(string(r.raw), a.id) {
		t.Errorf("lock_held reveals the holder's lease: %s", r.raw)
	}
	got := s.wantHeld(t, aliceToken, "held/x", "user:alice", a)
	if got.str("metadata") != "alice" {
		t.Errorf("metadata changed: %s", got.raw)
	}
}

func testRelease(t *testing.T, s *server) {
	a := s.acquire(t, aliceToken, "rel/a", nil)
	r := s.call(t, http.MethodPost, lockPath("rel/a", "/release"), aliceToken, map[string]string{"lease_id": a.id}).ok(t, http.StatusOK)
	if r.str("status") != "released" || r.str("name") != "rel/a" || len(r.obj) != 2 {
		t.Errorf("release body = %s", r.raw)
	}
	s.wantFree(t, aliceToken, "rel/a")
	// Released twice: the lease is no longer current.
	s.call(t, http.MethodPost, lockPath("rel/a", "/release"), aliceToken, map[string]string{"lease_id": a.id}).
		problem(t, http.StatusConflict, "lease_not_current")

	s.call(t, http.MethodPost, lockPath("rel/never", "/release"), aliceToken, map[string]string{"lease_id": "garbage"}).
		problem(t, http.StatusNotFound, "lock_not_found")

	b := s.acquire(t, aliceToken, "rel/b", nil)
	for _, other := range []string{a.id, "garbage"} {
		s.call(t, http.MethodPost, lockPath("rel/b", "/release"), aliceToken, map[string]string{"lease_id": other}).
			problem(t, http.StatusConflict, "lease_not_current")
		s.wantHeld(t, aliceToken, "rel/b", "user:alice", b)
	}
	// Bob, of the same org, with a lease that is not current.
	s.call(t, http.MethodPost, lockPath("rel/b", "/release"), bobToken, map[string]string{"lease_id": a.id}).
		problem(t, http.StatusConflict, "lease_not_current")
	s.wantHeld(t, aliceToken, "rel/b", "user:alice", b)

	e := s.acquire(t, aliceToken, "rel/exp", map[string]any{"ttl_seconds": 1})
	s.waitNotHeld(t, aliceToken, "rel/exp")
	s.call(t, http.MethodPost, lockPath("rel/exp", "/release"), aliceToken, map[string]string{"lease_id": e.id}).
		problem(t, http.StatusConflict, "lease_not_current")
	s.wantFree(t, aliceToken, "rel/exp")
}

func testRenew(t *testing.T, s *server) {
	a := s.acquire(t, aliceToken, "ren/a", map[string]any{"ttl_seconds": 5, "metadata": "m"})
	before := time.Now()
	r := s.call(t, http.MethodPost, lockPath("ren/a", "/renew"), aliceToken,
		map[string]any{"lease_id": a.id, "ttl_seconds": 30}).ok(t, http.StatusOK)
	after := time.Now()
	if r.str("status") != "renewed" || r.str("name") != "ren/a" || r.str("lease_id") != a.id ||
		r.num(t, "fencing_token") != a.token || r.str("metadata") != "m" {
		t.Errorf("renew body = %s", r.raw)
	}
	exp := r.time(t, "expires_at")
	within(t, "renewed expires_at", exp, before.Add(30*time.Second-slack), after.Add(30*time.Second+slack))
	s.wantHeld(t, aliceToken, "ren/a", "user:alice", lease{token: a.token, expires: exp})

	// Renew without ttl_seconds uses the default 60 s.
	before = time.Now()
	r = s.call(t, http.MethodPost, lockPath("ren/a", "/renew"), aliceToken, map[string]any{"lease_id": a.id}).ok(t, http.StatusOK)
	within(t, "default renewed expires_at", r.time(t, "expires_at"), before.Add(time.Minute-slack), time.Now().Add(time.Minute+slack))

	s.call(t, http.MethodPost, lockPath("ren/never", "/renew"), aliceToken, map[string]any{"lease_id": "garbage"}).
		problem(t, http.StatusNotFound, "lock_not_found")
	s.wantFree(t, aliceToken, "ren/never")

	e := s.acquire(t, aliceToken, "ren/exp", map[string]any{"ttl_seconds": 1})
	s.waitNotHeld(t, aliceToken, "ren/exp")
	s.call(t, http.MethodPost, lockPath("ren/exp", "/renew"), aliceToken, map[string]any{"lease_id": e.id, "ttl_seconds": 60}).
		problem(t, http.StatusConflict, "lease_not_current")
	s.wantFree(t, aliceToken, "ren/exp")
	// Somebody else can take it now, with a new token.
	b := s.acquire(t, bobToken, "ren/exp", nil)
	if b.token <= e.token || b.id == e.id {
		t.Errorf("grant after expiry: token %d lease %s, previous %d %s", b.token, b.id, e.token, e.id)
	}
}

func testGet(t *testing.T, s *server) {
	a := s.acquire(t, aliceToken, "get/x", map[string]any{"metadata": "10.0.0.1:5432"})
	for _, tok := range []string{aliceToken, bobToken} { // same org, any principal
		r := s.wantHeld(t, tok, "get/x", "user:alice", a)
		if r.str("name") != "get/x" || r.str("metadata") != "10.0.0.1:5432" {
			t.Errorf("GET = %s", r.raw)
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(r.raw, &fields); err != nil {
			t.Fatal(err)
		}
		if _, ok := fields["lease_id"]; ok || strings.Contains(string(r.raw), a.id) {
			t.Errorf("GET reveals the lease id: %s", r.raw)
		}
	}
	r := s.get(t, aliceToken, "get/never")
	if r.str("status") != "free" || r.str("name") != "get/never" {
		t.Errorf("GET of a free lock = %s", r.raw)
	}
	s.wantFree(t, aliceToken, "get/never")
}

// listNames lists with query as dave (org initech) and returns the names
// and the next cursor.
func listNames(t *testing.T, s *server, query string) ([]string, string) {
	t.Helper()
	r := s.call(t, http.MethodGet, "/locks"+query, daveToken, nil).ok(t, http.StatusOK)
	items, ok := r.obj["locks"].([]any)
	if !ok {
		t.Fatalf("GET /locks%s: locks is not an array: %s", query, r.raw)
	}
	names := make([]string, 0, len(items))
	for _, it := range items {
		m := it.(map[string]any)
		if _, ok := m["lease_id"]; ok {
			t.Errorf("listing reveals a lease id: %s", r.raw)
		}
		if m["status"] != "held" || !heldBy(m, "user:dave") || m["fencing_token"] == nil || m["expires_at"] == nil {
			t.Errorf("listing entry = %v", m)
		}
		names = append(names, m["name"].(string))
	}
	next, _ := r.obj["next_cursor"].(string)
	return names, next
}

func testList(t *testing.T, s *server) {
	// Dave's org initech is used by this subtest only.
	names := []string{"db", "db/x", "db/x/y", "dbx", "db-x", "other"}
	for _, n := range names {
		s.acquire(t, daveToken, n, map[string]any{"metadata": "list"})
	}
	released := s.acquire(t, daveToken, "db/gone", nil)
	s.call(t, http.MethodPost, lockPath("db/gone", "/release"), daveToken, map[string]string{"lease_id": released.id}).ok(t, http.StatusOK)

	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"db", "db-x", "db/x", "db/x/y", "dbx", "other"}},
		{"db", []string{"db", "db/x", "db/x/y"}},
		{"db/", []string{"db/x", "db/x/y"}},
		{"db/x", []string{"db/x", "db/x/y"}},
		{"db/x/", []string{"db/x/y"}},
		{"dbx", []string{"dbx"}},
		{"d", nil},
		{"nothing", nil},
	}
	for _, c := range cases {
		q := ""
		if c.prefix != "" {
			q = "?prefix=" + c.prefix
		}
		got, next := listNames(t, s, q)
		if !slices.Equal(got, c.want) || next != "" {
			t.Errorf("prefix %q: got %v next %q, want %v and no cursor", c.prefix, got, next, c.want)
		}
	}

	// Pagination in name order across several pages.
	var want []string
	leases := map[string]lease{}
	for i := range 7 {
		n := "page/p" + strconv.Itoa(i)
		want = append(want, n)
		leases[n] = s.acquire(t, daveToken, n, nil)
	}
	var got []string
	cursor, pages := "", 0
	for pages < 10 {
		q := "?prefix=page&limit=3"
		if cursor != "" {
			q += "&cursor=" + cursor
		}
		names, next := listNames(t, s, q)
		pages++
		if len(names) > 3 {
			t.Errorf("page %d has %d entries", pages, len(names))
		}
		got = append(got, names...)
		if next == "" {
			break
		}
		cursor = next
	}
	if !slices.Equal(got, want) || pages != 3 {
		t.Errorf("paged listing = %v in %d pages, want %v in 3", got, pages, want)
	}
	// A cursor stays valid when the lock it names is released meanwhile.
	first, next := listNames(t, s, "?prefix=page&limit=2")
	if len(first) != 2 || next == "" {
		t.Fatalf("first page = %v next %q", first, next)
	}
	held := leases[first[1]]
	s.call(t, http.MethodPost, lockPath(first[1], "/release"), daveToken, map[string]string{"lease_id": held.id}).ok(t, http.StatusOK)
	if rest, _ := listNames(t, s, "?prefix=page&limit=2&cursor="+next); !slices.Equal(rest, want[2:4]) {
		t.Errorf("page after a released cursor lock = %v, want %v", rest, want[2:4])
	}
	s.acquire(t, daveToken, first[1], nil)

	// Exactly one full page: no cursor.
	if names, next := listNames(t, s, "?prefix=page&limit=7"); len(names) != 7 || next != "" {
		t.Errorf("limit 7: %v next %q", names, next)
	}

	bad := []struct {
		name, query, code, loc string
	}{
		{"cursor not base64", "?cursor=!!!", "invalid_cursor", "query.cursor"},
		{"cursor not a name", "?cursor=" + base64.RawURLEncoding.EncodeToString([]byte("a//b")), "invalid_cursor", "query.cursor"},
		{"limit 0", "?limit=0", "validation_failed", "query.limit"},
		{"limit 1001", "?limit=1001", "validation_failed", "query.limit"},
		{"prefix empty component", "?prefix=a%2F%2Fb", "invalid_name", "query.prefix"},
		{"prefix dot-dot", "?prefix=%2E%2E", "invalid_name", "query.prefix"},
		{"prefix 257 bytes", "?prefix=" + strings.ReplaceAll(longName(257), "/", "%2F"), "invalid_name", "query.prefix"},
		{"prefix 258 bytes", "?prefix=" + strings.ReplaceAll(longName(257), "/", "%2F") + "%2F", "invalid_name", "query.prefix"},
	}
	for _, b := range bad {
		t.Run(b.name, func(t *testing.T) {
			r := s.call(t, http.MethodGet, "/locks"+b.query, daveToken, nil).problem(t, http.StatusUnprocessableEntity, b.code)
			if r.location() != b.loc {
				t.Errorf("errors[0].location = %q, want %q: %s", r.location(), b.loc, r.raw)
			}
		})
	}
}

// longName returns a valid-looking name of n bytes (n >= 1), made of
// components of at most 64 bytes.
func longName(n int) string {
	var parts []string
	for n > 0 {
		k := min(n, 64)
		parts = append(parts, strings.Repeat("a", k))
		n -= k + 1
	}
	name := strings.Join(parts, "/")
	return name
}

func testNames(t *testing.T, s *server) {
	r := s.call(t, http.MethodPost, "/locks/db%2Fprimary/acquire", aliceToken, nil).ok(t, http.StatusOK)
	if r.str("name") != "db/primary" {
		t.Errorf("acquire db%%2Fprimary: name = %q", r.str("name"))
	}
	id := r.str("lease_id")
	if g := s.call(t, http.MethodGet, "/locks/db%2Fprimary", aliceToken, nil).ok(t, http.StatusOK); g.str("name") != "db/primary" || g.str("status") != "held" {
		t.Errorf("GET db%%2Fprimary = %s", g.raw)
	}
	// The tenant-isolation subtest takes db/primary afresh.
	s.call(t, http.MethodPost, "/locks/db%2Fprimary/release", aliceToken, map[string]string{"lease_id": id}).ok(t, http.StatusOK)

	max256 := longName(256)
	if len(max256) != 256 {
		t.Fatalf("longName(256) has %d bytes", len(max256))
	}
	s.acquire(t, aliceToken, max256, nil)
	s.acquire(t, aliceToken, strings.Repeat("c", 64), nil)

	long := longName(257)
	if len(long) != 257 {
		t.Fatalf("longName(257) has %d bytes", len(long))
	}
	bad := map[string]string{
		"a%2F%2Fb":   "empty component",
		"%2E%2E":     "dot-dot",
		"%2E":        "dot",
		"a%2F..%2Fb": "dot-dot inside",
		"%2Fa":       "leading slash",
		"a%2F":       "trailing slash",
		"a%20b":      "space",
		"caf%C3%A9":  "non-ASCII",
		// The length limits are name rules like the others, so they
		// answer invalid_name too, not the schema's validation_failed.
		strings.ReplaceAll(long, "/", "%2F"): "257 bytes",
		strings.Repeat("c", 65):              "65-byte component",
		"ok%2F" + strings.Repeat("c", 65):    "65-byte second component",
	}
	for path, why := range bad {
		t.Run(why, func(t *testing.T) {
			for _, op := range []struct{ method, suffix string }{
				{http.MethodPost, "/acquire"}, {http.MethodPost, "/release"}, {http.MethodPost, "/renew"}, {http.MethodGet, ""},
			} {
				var body any
				if op.suffix == "/release" || op.suffix == "/renew" {
					body = map[string]string{"lease_id": "L1-abcd"}
				}
				r := s.call(t, op.method, "/locks/"+path+op.suffix, aliceToken, body)
				if r.status != http.StatusUnprocessableEntity || r.str("code") != "invalid_name" || r.location() != "path.name" {
					t.Errorf("%s /locks/{%s}%s: got %d code %q at %q, want 422 invalid_name at path.name",
						op.method, why, op.suffix, r.status, r.str("code"), r.location())
					continue
				}
				r.problem(t, http.StatusUnprocessableEntity, "invalid_name")
			}
		})
	}

	r = s.call(t, http.MethodPost, "/locks/db/primary/acquire", aliceToken, nil).problem(t, http.StatusNotFound, "not_found")
	if !strings.Contains(r.str("detail"), "%2F") {
		t.Errorf("404 for an unencoded name does not mention %%2F: %s", r.raw)
	}
	s.wantFree(t, aliceToken, "db/primary")
}

func testErrors(t *testing.T, s *server) {
	const name = "err/target"
	a := s.acquire(t, aliceToken, name, map[string]any{"ttl_seconds": 600, "metadata": "orig"})
	unchanged := func(t *testing.T) {
		t.Helper()
		r := s.wantHeld(t, aliceToken, name, "user:alice", a)
		if r.str("metadata") != "orig" {
			t.Errorf("metadata changed: %s", r.raw)
		}
	}
	acq, rel, ren := lockPath(name, "/acquire"), lockPath(name, "/release"), lockPath(name, "/renew")
	huge := `{"metadata":"` + strings.Repeat("x", 1<<20) + `"}`
	cases := []struct {
		name   string
		r      req
		status int
		code   string
		loc    string // a location that must appear in errors[], if set
	}{
		{"malformed JSON", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":`}, 400, "malformed_request", ""},
		{"malformed JSON release", req{method: "POST", path: rel, token: aliceToken, body: `{"lease_id":`}, 400, "malformed_request", ""},
		{"malformed JSON renew", req{method: "POST", path: ren, token: aliceToken, body: `[`}, 400, "malformed_request", ""},
		{"unknown field", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":5,"bogus":1}`}, 422, "validation_failed", "body.bogus"},
		{"unknown field release", req{method: "POST", path: rel, token: aliceToken, body: map[string]any{"lease_id": a.id, "force": true}}, 422, "validation_failed", "body.force"},
		{"ttl 0", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":0}`}, 422, "validation_failed", "body.ttl_seconds"},
		{"ttl 3601", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":3601}`}, 422, "validation_failed", "body.ttl_seconds"},
		{"ttl negative", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":-5}`}, 422, "validation_failed", "body.ttl_seconds"},
		{"ttl not a number", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":"5"}`}, 422, "validation_failed", "body.ttl_seconds"},
		{"renew ttl 0", req{method: "POST", path: ren, token: aliceToken, body: map[string]any{"lease_id": a.id, "ttl_seconds": 0}}, 422, "validation_failed", "body.ttl_seconds"},
		{"renew ttl 3601", req{method: "POST", path: ren, token: aliceToken, body: map[string]any{"lease_id": a.id, "ttl_seconds": 3601}}, 422, "validation_failed", "body.ttl_seconds"},
		{"metadata 1025 bytes", req{method: "POST", path: acq, token: aliceToken, body: map[string]any{"metadata": strings.Repeat("m", 1025)}}, 422, "validation_failed", "body.metadata"},
		{"metadata 1200 bytes in 600 characters", req{method: "POST", path: acq, token: aliceToken, body: map[string]any{"metadata": strings.Repeat("é", 600)}}, 422, "invalid_metadata", "body.metadata"},
		{"trailing garbage after JSON", req{method: "POST", path: acq, token: aliceToken, body: `{"ttl_seconds":5} x`}, 400, "malformed_request", ""},
		{"JSON null body", req{method: "POST", path: acq, token: aliceToken, body: `null`}, 422, "validation_failed", "body"},
		{"lease id over 128 bytes", req{method: "POST", path: rel, token: aliceToken, body: map[string]string{"lease_id": strings.Repeat("L", 129)}}, 422, "validation_failed", "body.lease_id"},
		{"release without lease", req{method: "POST", path: rel, token: aliceToken, body: `{}`}, 422, "validation_failed", ""},
		{"release empty lease", req{method: "POST", path: rel, token: aliceToken, body: `{"lease_id":""}`}, 422, "validation_failed", "body.lease_id"},
		{"release without body", req{method: "POST", path: rel, token: aliceToken}, 400, "malformed_request", ""},
		{"text/plain", req{method: "POST", path: acq, token: aliceToken, body: `{"metadata":"changed"}`, ctype: "text/plain"}, 415, "unsupported_media_type", ""},
		{"text/plain release", req{method: "POST", path: rel, token: aliceToken, body: `{"lease_id":"` + a.id + `"}`, ctype: "text/plain"}, 415, "unsupported_media_type", ""},
		{"body over 1 MiB", req{method: "POST", path: acq, token: aliceToken, body: huge}, 413, "body_too_large", ""},
		{"body over 1 MiB release", req{method: "POST", path: rel, token: aliceToken, body: `{"lease_id":"` + a.id + `","x":"` + strings.Repeat("x", 1<<20) + `"}`}, 413, "body_too_large", ""},
		{"body over 1 MiB chunked", req{method: "POST", path: acq, token: aliceToken, body: io.MultiReader(strings.NewReader(`{"metadata":"`), strings.NewReader(strings.Repeat("x", 1<<20)), strings.NewReader(`"}`))}, 413, "body_too_large", ""},
		{"unknown route", req{method: "GET", path: "/nope", token: aliceToken}, 404, "not_found", ""},
		{"unknown lock sub-route", req{method: "POST", path: lockPath(name, "/steal"), token: aliceToken}, 404, "not_found", ""},
		{"wrong method", req{method: "DELETE", path: "/health"}, 405, "method_not_allowed", ""},
		{"wrong method on the list", req{method: "POST", path: "/locks", token: aliceToken, body: `{}`}, 405, "method_not_allowed", ""},
		{"wrong method on a lock", req{method: "DELETE", path: lockPath(name, ""), token: aliceToken}, 405, "method_not_allowed", ""},
		{"missing token", req{method: "POST", path: acq, body: `{"metadata":"changed"}`}, 401, "unauthenticated", ""},
		{"wrong token", req{method: "POST", path: rel, token: wrongToken, body: map[string]string{"lease_id": a.id}}, 401, "unauthenticated", ""},
		{"basic auth", req{method: "POST", path: rel, body: map[string]string{"lease_id": a.id}, header: http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+aliceToken))}}}, 401, "unauthenticated", ""},
		{"raw token without Bearer", req{method: "POST", path: rel, body: map[string]string{"lease_id": a.id}, header: http.Header{"Authorization": {aliceToken}}}, 401, "unauthenticated", ""},
		{"empty bearer", req{method: "POST", path: rel, body: map[string]string{"lease_id": a.id}, header: http.Header{"Authorization": {"Bearer "}}}, 401, "unauthenticated", ""},
		{"missing token on get", req{method: "GET", path: lockPath(name, "")}, 401, "unauthenticated", ""},
		{"missing token on list", req{method: "GET", path: "/locks"}, 401, "unauthenticated", ""},
		{"admin acquire", req{method: "POST", path: acq, token: adminTok, body: `{"metadata":"changed"}`}, 403, "admin_not_tenant", ""},
		{"admin release", req{method: "POST", path: rel, token: adminTok, body: map[string]string{"lease_id": a.id}}, 403, "admin_not_tenant", ""},
		{"admin renew", req{method: "POST", path: ren, token: adminTok, body: map[string]any{"lease_id": a.id, "ttl_seconds": 1}}, 403, "admin_not_tenant", ""},
		{"admin get", req{method: "GET", path: lockPath(name, ""), token: adminTok}, 403, "admin_not_tenant", ""},
		{"admin list", req{method: "GET", path: "/locks", token: adminTok}, 403, "admin_not_tenant", ""},
		{"other holder acquires", req{method: "POST", path: acq, token: bobToken, body: `{"metadata":"changed"}`}, 409, "lock_held", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := s.send(t, c.r).problem(t, c.status, c.code)
			if c.loc != "" && !slices.Contains(r.locations(), c.loc) {
				t.Errorf("errors[].location = %v, want %q: %s", r.locations(), c.loc, r.raw)
			}
			switch c.status {
			case http.StatusUnauthorized:
				if wa := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(wa, "Bearer") {
					t.Errorf("WWW-Authenticate = %q", wa)
				}
			case http.StatusMethodNotAllowed:
				if r.header.Get("Allow") == "" {
					t.Error("405 without Allow header")
				}
			}
			if c.status >= 500 || strings.Contains(string(r.raw), "sqlite") {
				t.Errorf("response leaks internals: %s", r.raw)
			}
			unchanged(t)
		})
	}
}

func testRequestID(t *testing.T, s *server) {
	for _, c := range []struct {
		r    req
		code int
	}{
		{req{method: "GET", path: "/health"}, 200},
		{req{method: "GET", path: "/nope"}, 404},
		{req{method: "GET", path: "/locks"}, 401},
		{req{method: "POST", path: lockPath("rid/x", "/acquire"), token: aliceToken, body: `{"ttl_seconds":0}`}, 422},
		{req{method: "POST", path: lockPath("rid/x", "/acquire"), token: aliceToken}, 200},
	} {
		c.r.header = http.Header{"X-Request-Id": {"client-req_42.A"}}
		r := s.send(t, c.r)
		if r.status != c.code {
			t.Errorf("%s %s = %d, want %d", c.r.method, c.r.path, r.status, c.code)
		}
		if got := r.header.Get("X-Request-Id"); got != "client-req_42.A" {
			t.Errorf("%s %s: X-Request-Id = %q, want the client's", c.r.method, c.r.path, got)
		}
		if r.status >= 400 && r.str("request_id") != "client-req_42.A" {
			t.Errorf("%s %s: problem request_id = %q", c.r.method, c.r.path, r.str("request_id"))
		}
	}
	// Ids that are not short and plain are replaced, never echoed.
	for _, bad := range []string{strings.Repeat("a", 65), "has space", "new\\nline", "<script>"} {
		r := s.send(t, req{method: "GET", path: "/health", header: http.Header{"X-Request-Id": {bad}}})
		if got := r.header.Get("X-Request-Id"); got == bad || got == "" {
			t.Errorf("X-Request-Id %q answered with %q", bad, got)
		}
	}
	// Without one, each response gets its own.
	a := s.send(t, req{method: "GET", path: "/health"}).header.Get("X-Request-Id")
	b := s.send(t, req{method: "GET", path: "/health"}).header.Get("X-Request-Id")
	if a == b {
		t.Errorf("two requests got the same generated id %q", a)
	}
}

func testPublicRoutes(t *testing.T, s *server) {
	r := s.send(t, req{method: "GET", path: "/health"}).ok(t, http.StatusOK)
	if r.str("status") != "ok" || r.str("version") != "test" || r.str("db") != "ok" || len(r.obj) != 3 {
		t.Errorf("/health = %s", r.raw)
	}
	r = s.send(t, req{method: "GET", path: "/openapi.json"})
	if r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Type"), "json") || r.str("openapi") == "" {
		t.Errorf("/openapi.json: %d %q", r.status, r.header.Get("Content-Type"))
	}
	r = s.send(t, req{method: "GET", path: "/openapi.yaml"})
	if r.status != http.StatusOK || !strings.Contains(string(r.raw), "openapi: 3.") || !strings.Contains(string(r.raw), "/locks/{name}/acquire") {
		t.Errorf("/openapi.yaml: %d %.200s", r.status, r.raw)
	}
	r = s.send(t, req{method: "GET", path: "/docs"})
	if r.status != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(string(r.raw), "<html") {
		t.Errorf("/docs: %d %q %.200s", r.status, r.header.Get("Content-Type"), r.raw)
	}
}

func testTenantIsolation(t *testing.T, s *server) {
	const name = "db/primary"
	a := s.acquire(t, aliceToken, name, map[string]any{"metadata": "acme-primary"})
	untouched := func(t *testing.T) {
		t.Helper()
		if r := s.wantHeld(t, aliceToken, name, "user:alice", a); r.str("metadata") != "acme-primary" {
			t.Errorf("metadata changed: %s", r.raw)
		}
	}

	// Carol (globex) sees nothing of acme.
	s.wantFree(t, carolToken, name)
	for _, q := range []string{"", "?prefix=db", "?prefix=db/primary"} {
		r := s.call(t, http.MethodGet, "/locks"+q, carolToken, nil).ok(t, http.StatusOK)
		if string(r.raw) != "{\"locks\":[]}\n" && string(r.raw) != `{"locks":[]}` {
			t.Errorf("carol lists %s", r.raw)
		}
	}
	// An acme lease id means nothing in globex: the lock is free there, so
	// a lease-shaped id is not current and a garbage one finds no lock.
	s.call(t, http.MethodPost, lockPath(name, "/release"), carolToken, map[string]string{"lease_id": a.id}).
		problem(t, http.StatusConflict, "lease_not_current")
	untouched(t)
	s.call(t, http.MethodPost, lockPath(name, "/renew"), carolToken, map[string]any{"lease_id": a.id, "ttl_seconds": 1}).
		problem(t, http.StatusConflict, "lease_not_current")
	untouched(t)
	s.call(t, http.MethodPost, lockPath(name, "/release"), carolToken, map[string]string{"lease_id": "garbage"}).
		problem(t, http.StatusNotFound, "lock_not_found")
	untouched(t)

	// Carol's own db/primary is a different lock; both coexist.
	c := s.acquire(t, carolToken, name, map[string]any{"metadata": "globex-primary"})
	if c.id == a.id || c.token == a.token {
		t.Errorf("carol got alice's lease or token: %+v vs %+v", c, a)
	}
	untouched(t)
	if r := s.wantHeld(t, carolToken, name, "user:carol", c); r.str("metadata") != "globex-primary" {
		t.Errorf("carol's metadata: %s", r.raw)
	}
	r := s.call(t, http.MethodGet, "/locks?prefix=db", carolToken, nil).ok(t, http.StatusOK)
	if locks, _ := r.obj["locks"].([]any); len(locks) != 1 || !heldBy(locks[0].(map[string]any), "user:carol") {
		t.Errorf("carol's listing = %s", r.raw)
	}
	r = s.call(t, http.MethodGet, "/locks?prefix=db%2Fprimary", aliceToken, nil).ok(t, http.StatusOK)
	if locks, _ := r.obj["locks"].([]any); len(locks) != 1 || !heldBy(locks[0].(map[string]any), "user:alice") {
		t.Errorf("alice's listing = %s", r.raw)
	}
	// Alice's lease cannot touch carol's lock either, and carol's release
	// leaves alice's alone.
	s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": c.id}).
		problem(t, http.StatusConflict, "lease_not_current")
	s.call(t, http.MethodPost, lockPath(name, "/release"), carolToken, map[string]string{"lease_id": c.id}).ok(t, http.StatusOK)
	s.wantFree(t, carolToken, name)
	untouched(t)
}

// TestAcquireRace has 64 distinct principals acquire one name at once, ten
// times over: each round has exactly one winner, and the winners' fencing
// tokens strictly increase.
func TestAcquireRace(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const name, rounds = "race/leader", 10
	var last uint64
	for round := range rounds {
		type outcome struct {
			who int
			r   *resp
			err error
		}
		results := make([]outcome, racers)
		var ready, done sync.WaitGroup
		gate := make(chan struct{})
		for i := range racers {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-gate
				r, err := s.do(req{method: http.MethodPost, path: lockPath(name, "/acquire"), token: racerToken(i), body: `{"ttl_seconds":30}`})
				results[i] = outcome{who: i, r: r, err: err}
			}()
		}
		ready.Wait()
		close(gate)
		done.Wait()

		var winners []outcome
		for _, o := range results {
			if o.err != nil {
				t.Fatalf("round %d, racer %d: %v", round, o.who, o.err)
			}
			switch o.r.status {
			case http.StatusOK:
				winners = append(winners, o)
			case http.StatusConflict:
				o.r.problem(t, http.StatusConflict, "lock_held")
				if o.r.header.Get("Retry-After") == "" {
					t.Errorf("round %d: 409 without Retry-After", round)
				}
			default:
				t.Fatalf("round %d, racer %d: %d %s", round, o.who, o.r.status, o.r.raw)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, len(winners))
		}
		w := winners[0]
		tok := w.r.num(t, "fencing_token")
		if tok <= last {
			t.Errorf("round %d: winner's token %d does not exceed the previous winner's %d", round, tok, last)
		}
		last = tok
		g := s.get(t, aliceToken, name)
		if !heldBy(g.obj, "user:u"+strconv.Itoa(w.who)) || g.num(t, "fencing_token") != tok {
			t.Errorf("round %d: GET = %s, want held by u%d with token %d", round, g.raw, w.who, tok)
		}
		s.call(t, http.MethodPost, lockPath(name, "/release"), racerToken(w.who), map[string]string{"lease_id": w.r.str("lease_id")}).ok(t, http.StatusOK)
		s.wantFree(t, aliceToken, name)
	}
	checkSpec(t, s)
}
