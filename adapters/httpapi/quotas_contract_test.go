package httpapi_test

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
)

// The contract of quotas: the admin sets and reads each org's limits, and
// a request that would take an org past one is refused with 429
// quota_exceeded, naming the quota and its limit, and changes nothing.

func setQuotas(t *testing.T, a *api, org string, body map[string]any) *response {
	t.Helper()
	return a.call(http.MethodPut, "/admin/orgs/"+org+"/quotas", adminTok, body).ok(t, http.StatusOK)
}

// quota returns the named quota object of a quotas response.
func quota(t *testing.T, r *response, name string) map[string]any {
	t.Helper()
	q, ok := r.obj[name].(map[string]any)
	if !ok {
		t.Fatalf("%v: no %s", r, name)
	}
	return q
}

func wantQuota(t *testing.T, r *response, name string, limit, used int, isDefault bool) {
	t.Helper()
	q := quota(t, r, name)
	if q["limit"].(interface{ String() string }).String() != strconv.Itoa(limit) ||
		q["used"].(interface{ String() string }).String() != strconv.Itoa(used) || q["default"] != isDefault {
		t.Errorf("%v: %s = %v, want limit %d, used %d, default %v", r, name, q, limit, used, isDefault)
	}
}

func exceeded(t *testing.T, r *response, quota string, limit int) {
	t.Helper()
	r.problem(t, http.StatusTooManyRequests, "quota_exceeded").nowhere(t)
	if r.str("quota") != quota || r.num(t, "limit") != uint64(limit) {
		t.Errorf("%v: want quota %s with limit %d", r, quota, limit)
	}
}

// TestQuotaAdminRoutes: GET shows defaults and usage for any valid org
// name (also one nobody has used); PUT replaces the overrides, null or a
// missing field meaning the default; a tenant token is refused.
func TestQuotaAdminRoutes(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.acquire(t, aliceTok, "q/one", nil)
	a.openSession(t, aliceTok, 60)
	r := a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK)
	r.keys(t, "org", "locks", "sessions", "waiters", "webhooks", "watch_streams", "config_keys", "config_bytes", "flags", "limits")
	wantQuota(t, r, "locks", 100_000, 1, true)
	wantQuota(t, r, "sessions", 10_000, 1, true)
	wantQuota(t, r, "waiters", 10_000, 0, true)
	wantQuota(t, r, "webhooks", 25, 0, true)
	wantQuota(t, r, "watch_streams", 1_000, 0, true)
	wantQuota(t, r, "flags", 10_000, 0, true)
	wantQuota(t, r, "limits", 100_000, 0, true)
	wantQuota(t, a.get("/admin/orgs/nobody-yet/quotas", adminTok).ok(t, http.StatusOK), "locks", 100_000, 0, true)

	r = setQuotas(t, a, "acme", map[string]any{"locks": 1, "sessions": nil, "webhooks": 0})
	wantQuota(t, r, "locks", 1, 1, false)
	wantQuota(t, r, "sessions", 10_000, 1, true)
	wantQuota(t, r, "webhooks", 0, 0, false)
	// A second PUT replaces the overrides as a whole.
	r = setQuotas(t, a, "acme", map[string]any{"locks": 1})
	wantQuota(t, r, "webhooks", 25, 0, true)
	wantQuota(t, a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK), "locks", 1, 1, false)
	// Another org is not affected.
	wantQuota(t, a.get("/admin/orgs/globex/quotas", adminTok).ok(t, http.StatusOK), "locks", 100_000, 0, true)

	for _, tok := range []string{aliceTok, carolTok} {
		a.get("/admin/orgs/acme/quotas", tok).problem(t, http.StatusForbidden, "admin_only").nowhere(t)
		a.call(http.MethodPut, "/admin/orgs/acme/quotas", tok, map[string]any{"locks": 100}).problem(t, http.StatusForbidden, "admin_only").nowhere(t)
	}
	wantQuota(t, a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK), "locks", 1, 1, false)

	// Bad input: an org name, a limit out of range, an unknown field.
	a.get("/admin/orgs/a%2Fb/quotas", adminTok).problem(t, http.StatusUnprocessableEntity, "invalid_org").at(t, "path.org")
	a.call(http.MethodPut, "/admin/orgs/a%2Fb/quotas", adminTok, map[string]any{"locks": 1}).problem(t, http.StatusUnprocessableEntity, "invalid_org").at(t, "path.org")
	a.call(http.MethodPut, "/admin/orgs/acme/quotas", adminTok, map[string]any{"locks": -1}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.locks")
	a.call(http.MethodPut, "/admin/orgs/acme/quotas", adminTok, map[string]any{"cpu": 1}).problem(t, http.StatusUnprocessableEntity, "validation_failed")
	for _, c := range []struct {
		body, ctype string
		status      int
		code        string
	}{
		{`{"locks":`, "", http.StatusBadRequest, "malformed_request"},
		{`{"locks":1}`, "text/plain", http.StatusUnsupportedMediaType, "unsupported_media_type"},
	} {
		a.send(request{method: http.MethodPut, path: "/admin/orgs/acme/quotas", token: adminTok, body: c.body, ctype: c.ctype}).problem(t, c.status, c.code).at(t, "body")
	}
	huge := `{"locks":1,"x":"` + string(make([]byte, 1<<20)) + `"}`
	a.call(http.MethodPut, "/admin/orgs/acme/quotas", adminTok, huge).problem(t, http.StatusRequestEntityTooLarge, "body_too_large").nowhere(t)
	// A failed commit changes nothing.
	a.journal.FailNextCommit(errors.New("disk full"))
	a.call(http.MethodPut, "/admin/orgs/acme/quotas", adminTok, map[string]any{"locks": 5}).problem(t, http.StatusServiceUnavailable, "unavailable")
	wantQuota(t, a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK), "locks", 1, 1, false)
}

// TestQuotaExceeded: each quota refuses the request that would exceed it
// with 429 quota_exceeded, and the refused request changes nothing.
func TestQuotaExceeded(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	setQuotas(t, a, "acme", map[string]any{"locks": 2, "sessions": 1, "waiters": 1, "webhooks": 1, "watch_streams": 1})

	// Locks: a re-acquire by the holder is not a new lock.
	l := a.acquire(t, aliceTok, "q/a", map[string]any{"owner": "w1"})
	a.acquire(t, aliceTok, "q/b", nil)
	a.post(lockPath("q/a", "/acquire"), aliceTok, map[string]any{"owner": "w1"}).ok(t, http.StatusOK)
	exceeded(t, a.post(lockPath("q/c", "/acquire"), bobTok, nil), "locks", 2)
	a.wantFree(t, aliceTok, "q/c")
	a.acquire(t, carolTok, "q/c", nil) // another org's quota is its own
	a.release(t, aliceTok, l)
	a.acquire(t, bobTok, "q/c", nil)

	// Waiters: one may queue, the second is refused at once.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch := a.goAcquire(ctx, aliceTok, "q/c", map[string]any{"wait_seconds": 30})
	a.waitWaiters(t, "q/c", 1)
	exceeded(t, a.post(lockPath("q/b", "/acquire"), bobTok, map[string]any{"wait_seconds": 30}), "waiters", 1)
	cancel()
	<-ch

	// Sessions.
	a.openSession(t, aliceTok, 60)
	exceeded(t, a.post("/sessions", bobTok, map[string]any{"ttl_seconds": 60}), "sessions", 1)

	// Webhooks.
	a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/1", "events": []string{"*"}})
	exceeded(t, a.post("/webhooks", bobTok, map[string]any{"url": "https://hooks.example.com/2", "events": []string{"*"}}), "webhooks", 1)

	// Watch streams (per org; the per-principal cap is 2 here).
	a.watch(t, "/watch", aliceTok, nil).snapshot(t)
	_, r := a.openStream(t, "/watch", bobTok, nil)
	exceeded(t, r, "watch_streams", 1)

	u := a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK)
	wantQuota(t, u, "locks", 2, 2, false)
	wantQuota(t, u, "sessions", 1, 1, false)
	wantQuota(t, u, "webhooks", 1, 1, false)
	wantQuota(t, u, "watch_streams", 1, 1, false)
	wantQuota(t, u, "waiters", 1, 0, false)
}
