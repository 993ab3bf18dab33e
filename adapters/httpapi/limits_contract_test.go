package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
)

func limitPath(name, suffix string) string {
	return "/limits/" + strings.ReplaceAll(name, "/", "%2F") + suffix
}

// TestLimitsContract: a limit allows exactly limit checks at once, refuses
// the next with 429, Retry-After and the same body with allowed false and
// retry_after_seconds, allows it again after that wait (the clock is moved
// by hand), and can be read, listed and reset.
func TestLimitsContract(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	body := map[string]any{"limit": 3, "window_seconds": 10}
	t0 := a.clock.Now()
	for i := range 3 {
		r := a.post(limitPath("api/search", "/check"), aliceTok, body).ok(t, http.StatusOK)
		r.keys(t, "allowed", "remaining", "reset_at")
		if r.obj["allowed"] != true || r.num(t, "remaining") != uint64(2-i) {
			t.Fatalf("%v: check %d", r, i+1)
		}
	}
	r := a.post(limitPath("api/search", "/check"), bobTok, body)
	if r.status != http.StatusTooManyRequests || r.mediaType() != "application/json" || r.obj["allowed"] != false || r.num(t, "remaining") != 0 {
		t.Fatalf("%v: want 429 with allowed false", r)
	}
	r.keys(t, "allowed", "remaining", "reset_at", "retry_after_seconds")
	// One unit comes back every 10/3 s: wait 3.334 s, Retry-After 4.
	if r.retryAfter() != 4 || r.str("retry_after_seconds") != "" || r.obj["retry_after_seconds"].(interface{ String() string }).String() != "3.334" {
		t.Errorf("%v: Retry-After %d, want 4 and retry_after_seconds 3.334", r, r.retryAfter())
	}
	if !r.time(t, "reset_at").Equal(t0.Add(10 * time.Second)) {
		t.Errorf("%v: reset_at, want %v", r, t0.Add(10*time.Second))
	}
	// Another org's limit of the same name is its own.
	a.post(limitPath("api/search", "/check"), carolTok, body).ok(t, http.StatusOK)
	a.get(limitPath("api/search", ""), carolTok).ok(t, http.StatusOK)

	a.clock.Advance(3333 * time.Millisecond)
	if r := a.post(limitPath("api/search", "/check"), aliceTok, body); r.status != http.StatusTooManyRequests {
		t.Errorf("%v: allowed before the wait is over", r)
	}
	a.clock.Advance(time.Millisecond)
	a.post(limitPath("api/search", "/check"), aliceTok, body).ok(t, http.StatusOK)

	r = a.get(limitPath("api/search", ""), aliceTok).ok(t, http.StatusOK)
	r.keys(t, "name", "limit", "window_seconds", "remaining", "reset_at")
	if r.num(t, "limit") != 3 || r.num(t, "window_seconds") != 10 || r.num(t, "remaining") != 0 {
		t.Errorf("%v: get", r)
	}
	a.post(limitPath("other", "/check"), aliceTok, map[string]any{"limit": 5, "window_seconds": 1, "cost": 2}).ok(t, http.StatusOK)
	r = a.get("/limits", aliceTok).ok(t, http.StatusOK)
	if s := string(r.raw); !strings.Contains(s, `"name":"api/search"`) || !strings.Contains(s, `"name":"other","limit":5,"window_seconds":1,"remaining":3`) {
		t.Errorf("%v: list", r)
	}
	if r = a.get("/limits?prefix=api", aliceTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "other") {
		t.Errorf("%v: list by prefix", r)
	}
	if res := a.call(http.MethodDelete, limitPath("api/search", ""), aliceTok, nil); res.status != http.StatusNoContent {
		t.Fatalf("%v: reset", res)
	}
	a.get(limitPath("api/search", ""), aliceTok).problem(t, http.StatusNotFound, "limit_not_found").nowhere(t)
	a.call(http.MethodDelete, limitPath("api/search", ""), aliceTok, nil).problem(t, http.StatusNotFound, "limit_not_found")
	if r := a.post(limitPath("api/search", "/check"), aliceTok, body).ok(t, http.StatusOK); r.num(t, "remaining") != 2 {
		t.Errorf("%v: after reset", r)
	}
	// Carol's reset does not touch acme's.
	a.call(http.MethodDelete, limitPath("other", ""), carolTok, nil).problem(t, http.StatusNotFound, "limit_not_found")
}

// TestLimitsInvalid: out-of-range values are refused naming the field.
func TestLimitsInvalid(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{quotas: domain.Limits{domain.QuotaLimits: 1}})
	check := func(body any) *response { return a.post(limitPath("x", "/check"), aliceTok, body) }
	check(map[string]any{"limit": 0, "window_seconds": 1}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.limit")
	check(map[string]any{"limit": 1_000_001, "window_seconds": 1}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.limit")
	check(map[string]any{"limit": 1, "window_seconds": 86401}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.window_seconds")
	check(map[string]any{"limit": 1}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body")
	check(map[string]any{"limit": 1, "window_seconds": 1, "cost": 0}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.cost")
	check(map[string]any{"limit": 2, "window_seconds": 1, "cost": 3}).problem(t, http.StatusUnprocessableEntity, "invalid_cost").at(t, "body.cost")
	for _, bad := range []string{"a%2F%2Fb", "%2E%2E"} {
		a.post("/limits/"+bad+"/check", aliceTok, map[string]any{"limit": 1, "window_seconds": 1}).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
		a.get("/limits/"+bad, aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
		a.call(http.MethodDelete, "/limits/"+bad, aliceTok, nil).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
	}
	a.get("/limits?prefix=a%2F%2F", aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "query.prefix")
	r := request{method: http.MethodPost, path: limitPath("x", "/check"), token: aliceTok}
	for _, c := range []struct{ body, ctype string }{{`{"limit":`, ""}, {`[`, ""}, {`{"limit":1,"window_seconds":1}`, "text/plain"}} {
		r.body, r.ctype = c.body, c.ctype
		status, code := http.StatusBadRequest, "malformed_request"
		if c.ctype != "" {
			status, code = http.StatusUnsupportedMediaType, "unsupported_media_type"
		}
		a.send(r).problem(t, status, code).at(t, "body")
	}
	r.body, r.ctype = `{"limit":1,"x":"`+strings.Repeat("x", 1<<20)+`"}`, ""
	a.send(r).problem(t, http.StatusRequestEntityTooLarge, "body_too_large").nowhere(t)
	a.post(limitPath("x", "/check"), aliceTok, "{\"limit\":1,\"window_seconds\":1,\"x\":\"\xff\"}").
		problem(t, http.StatusUnprocessableEntity, "invalid_utf8")
	a.get("/limits", aliceTok).ok(t, http.StatusOK)
	if r := a.get("/limits", aliceTok).ok(t, http.StatusOK); string(r.raw) != `{"limits":[]}`+"\n" {
		t.Errorf("%v: a refused check kept a counter", r)
	}
	// The org's limits quota (1 here) bounds its names.
	a.post(limitPath("first", "/check"), aliceTok, map[string]any{"limit": 1, "window_seconds": 60}).ok(t, http.StatusOK)
	q := a.post(limitPath("second", "/check"), aliceTok, map[string]any{"limit": 1, "window_seconds": 60}).problem(t, http.StatusTooManyRequests, "quota_exceeded").nowhere(t)
	if q.str("quota") != "limits" {
		t.Errorf("%v: the quota is not named", q)
	}
}
