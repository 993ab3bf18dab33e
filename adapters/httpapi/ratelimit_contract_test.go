package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAPIRateLimitIsolatesPrincipals: with a burst of 2 and a rate that
// refills one request per 10 s, a principal that spent its burst gets 429
// rate_limited with Retry-After on every route that needs a token, while
// another user of its org, another org and the admin are unaffected;
// /health is exempt. The clock is moved by hand.
func TestAPIRateLimitIsolatesPrincipals(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{apiRate: 0.1, apiBurst: 2})
	a.get("/locks", aliceTok).ok(t, http.StatusOK)
	a.get("/flags", aliceTok).ok(t, http.StatusOK)
	routes := everyRoute("rl/x", "s_0011223344556677")
	for _, r := range routes {
		if adminRoute(r.path) {
			continue
		}
		r.token = aliceTok
		res := a.send(r).problem(t, http.StatusTooManyRequests, "rate_limited").nowhere(t)
		if res.retryAfter() != 10 {
			t.Errorf("%v: Retry-After %d, want 10", res, res.retryAfter())
		}
	}
	// Carol (another org) and Bob (another user of acme) are unaffected.
	a.get("/locks", carolTok).ok(t, http.StatusOK)
	a.get("/flags", bobTok).ok(t, http.StatusOK)
	for range 3 {
		a.get("/health", aliceTok).ok(t, http.StatusOK)
	}
	// The admin has a bucket of its own.
	a.get("/admin/orgs", adminTok).ok(t, http.StatusOK)
	a.get("/admin/stats", adminTok).ok(t, http.StatusOK)
	for _, r := range routes {
		if adminRoute(r.path) {
			r.token = adminTok
			a.send(r).problem(t, http.StatusTooManyRequests, "rate_limited")
		}
	}
	// One request comes back every 10 s.
	a.clock.Advance(10 * time.Second)
	a.get("/locks", aliceTok).ok(t, http.StatusOK)
	a.get("/locks", aliceTok).problem(t, http.StatusTooManyRequests, "rate_limited")
}

// adminRoute reports whether path needs the admin token.
func adminRoute(path string) bool { return strings.HasPrefix(path, "/admin/") || path == "/metrics" }
