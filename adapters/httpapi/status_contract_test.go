package httpapi_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The contract of the operations routes added for observability: GET
// /status (public totals and the last hour), GET /ready (readiness, apart
// from /health's liveness), GET /metrics (Prometheus, admin only unless
// metrics.public) and the status page at /.

func TestStatusReport(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// Go to the start of a minute, so that everything below falls in it.
	now := a.clock.Now()
	a.clock.Advance(now.Truncate(time.Minute).Add(time.Minute).Sub(now))
	l := a.acquire(t, aliceTok, "status/x", nil)
	a.openSession(t, bobTok, 60)
	a.get(lockPath(l.name, ""), carolTok).ok(t, http.StatusOK)
	a.get("/health", "").ok(t, http.StatusOK) // the operations routes do not count

	r := a.get("/status", badTok).ok(t, http.StatusOK) // a token is neither needed nor checked
	r.keys(t, "status", "version", "uptime_seconds", "locks_held", "sessions_open", "requests_per_second", "p99_ms", "history")
	if r.str("status") != "ok" || r.str("version") != "v-contract" || r.num(t, "locks_held") != 1 || r.num(t, "sessions_open") != 1 {
		t.Errorf("%v: want ok, v-contract, one lock and one session", r)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control %q, want no-store", got)
	}
	hist, _ := r.obj["history"].([]any)
	if len(hist) != 61 {
		t.Fatalf("%d history entries, want 61 (60 whole minutes and the current one)", len(hist))
	}
	last := hist[60].(map[string]any)
	if numv(last["requests"]) != 3 || numv(last["p99_ms"]) <= 0 {
		t.Errorf("the current minute %v: want the 3 API requests and a p99", last)
	}
	if m, _ := time.Parse(time.RFC3339, last["minute"].(string)); !m.Equal(a.clock.Now().Truncate(time.Minute)) {
		t.Errorf("the current minute starts at %v, want %v", last["minute"], a.clock.Now().Truncate(time.Minute))
	}
	if rps := numv(r.obj["requests_per_second"]); rps != 0.05 { // 3 requests in the last 60 s
		t.Errorf("requests_per_second %v, want 0.05", rps)
	}
	if p99 := numv(r.obj["p99_ms"]); p99 <= 0 {
		t.Errorf("p99_ms %v, want > 0", p99)
	}

	// Half a minute later the previous minute counts half.
	a.clock.Advance(90 * time.Second)
	r = a.get("/status", "").ok(t, http.StatusOK)
	hist, _ = r.obj["history"].([]any)
	if prev := hist[59].(map[string]any); numv(prev["requests"]) != 3 {
		t.Errorf("the previous minute %v: want the 3 requests", prev)
	}
	if last := hist[60].(map[string]any); numv(last["requests"]) != 0 || numv(last["p99_ms"]) != 0 {
		t.Errorf("the current minute %v: want none", last)
	}
	if rps := numv(r.obj["requests_per_second"]); rps != 0.025 {
		t.Errorf("requests_per_second %v, want 0.025 (half of the previous minute)", rps)
	}
	if up := r.num(t, "uptime_seconds"); up < 90 {
		t.Errorf("uptime_seconds %d, want at least 90", up)
	}
	// An hour on, the minutes have left the window.
	a.clock.Advance(time.Hour)
	r = a.get("/status", "").ok(t, http.StatusOK)
	for _, m := range r.obj["history"].([]any) {
		if numv(m.(map[string]any)["requests"]) != 0 {
			t.Errorf("%v: an hour later the window still holds requests", m)
		}
	}
}

func TestStatusDegraded(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.journal.FailNextCommit(errors.New("disk full"))
	a.post(lockPath("status/fail", "/acquire"), aliceTok, nil).problem(t, http.StatusServiceUnavailable, "unavailable")
	if r := a.get("/status", "").ok(t, http.StatusOK); r.str("status") != "degraded" {
		t.Errorf("%v: want degraded after a failed commit", r)
	}
	a.get("/ready", "").problem(t, http.StatusServiceUnavailable, "degraded").nowhere(t)
	a.acquire(t, aliceTok, "status/ok", nil)
	if r := a.get("/status", "").ok(t, http.StatusOK); r.str("status") != "ok" {
		t.Errorf("%v: want ok after a good commit", r)
	}
	a.get("/ready", "").ok(t, http.StatusOK)
}

func TestReady(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{notServing: true})
	a.get("/ready", "").problem(t, http.StatusServiceUnavailable, "not_ready").nowhere(t)
	if r := a.get("/status", "").ok(t, http.StatusOK); r.str("status") != "degraded" {
		t.Errorf("%v: want degraded while not serving", r)
	}
	a.get("/health", "").ok(t, http.StatusOK) // liveness is another question
	a.server.SetServing(true)
	a.get("/ready", badTok).ok(t, http.StatusOK).keys(t, "status")
	a.server.SetServing(false) // shutting down
	a.get("/ready", "").problem(t, http.StatusServiceUnavailable, "not_ready")
}

// series matches one sample line of the text format.
func series(name, labels string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + regexp.QuoteMeta(labels) + ` ([0-9.e+-]+)$`)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "secret-lock/name", nil)
	a.openSession(t, aliceTok, 60)
	a.get(lockPath("nope%2F..", ""), aliceTok) // 422
	a.get("/no/such/route", aliceTok)          // 404

	for _, tok := range []string{aliceTok, carolTok} {
		a.get("/metrics", tok).problem(t, http.StatusForbidden, "admin_only").nowhere(t)
	}
	a.get("/metrics", "").problem(t, http.StatusUnauthorized, "unauthenticated")
	text := a.get("/metrics", adminTok).text(t)
	for _, want := range []struct {
		name, labels string
		min          float64
	}{
		{"octostore_http_requests_total", `{method="POST",route="/locks/{name}/acquire",status="200"}`, 1},
		{"octostore_http_requests_total", `{method="GET",route="/locks/{name}",status="422"}`, 1},
		{"octostore_http_requests_total", `{method="GET",route="unmatched",status="404"}`, 1},
		{"octostore_http_requests_total", `{method="GET",route="/metrics",status="403"}`, 2},
		{"octostore_http_request_duration_seconds_count", `{method="POST",route="/sessions",status="201"}`, 1},
		{"octostore_http_request_duration_seconds_bucket", `{method="POST",route="/sessions",status="201",le="+Inf"}`, 1},
		{"octostore_locks_held", ``, 1},
		{"octostore_sessions_open", ``, 1},
		{"octostore_watch_streams_open", ``, 0},
		{"octostore_waiters_queued", ``, 0},
		{"octostore_events_retained", ``, 2},
		{"octostore_webhook_deliveries", `{state="pending"}`, 0},
		{"octostore_restore_duration_seconds", ``, 0},
		{"octostore_build_info", `{version="v-contract"}`, 1},
		{"go_goroutines", ``, 1},
	} {
		m := series(want.name, want.labels).FindStringSubmatch(text)
		if m == nil {
			t.Errorf("no series %s%s", want.name, want.labels)
			continue
		}
		var v float64
		if _, err := fmtSscan(m[1], &v); err != nil || v < want.min {
			t.Errorf("%s%s = %s, want at least %v", want.name, want.labels, m[1], want.min)
		}
	}
	// The engine here has no commit observer (bootstrap wires one): the
	// commit histograms are registered but empty.
	if !strings.Contains(text, "# TYPE octostore_commit_duration_seconds histogram") || !strings.Contains(text, "# TYPE octostore_commit_batch_size histogram") {
		t.Errorf("the commit histograms are missing")
	}
	for _, leak := range []string{"secret-lock", l.id, aliceTok, "acme", "/no/such"} {
		if strings.Contains(text, leak) {
			t.Errorf("the metrics carry %q", leak)
		}
	}
}

func TestMetricsPublic(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{metricsPublic: true})
	if text := a.get("/metrics", "").text(t); !strings.Contains(text, "octostore_locks_held 0") {
		t.Errorf("%.300s: want the metrics", text)
	}
	a.get("/metrics", aliceTok).text(t) // a token is neither needed nor checked
}

func TestStatusPage(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.get("/", "")
	if r.status != http.StatusOK || r.mediaType() != "text/html" || !strings.Contains(string(r.raw), `data-status-url="/status"`) {
		t.Fatalf("%.300v: want the status page", r)
	}
	csp := r.header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	assets := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`).FindAllStringSubmatch(string(r.raw), -1)
	if len(assets) != 5 {
		t.Errorf("the page loads %d assets, want 5: %q", len(assets), assets)
	}
	for _, m := range assets {
		res := a.get(strings.ReplaceAll(m[1], "&amp;", "&"), "")
		if res.status != http.StatusOK || len(res.raw) == 0 {
			t.Errorf("%s: %d", m[1], res.status)
		}
	}
	a.get("/ui/nope.js", "").problem(t, http.StatusNotFound, "not_found")
	a.get("/ui", "").problem(t, http.StatusNotFound, "not_found")
	a.post("/", "", nil).problem(t, http.StatusMethodNotAllowed, "method_not_allowed")
}

func fmtSscan(s string, v *float64) (int, error) { return fmt.Sscan(s, v) }

// numv is a JSON number of a decoded body as a float64 (NaN for none).
func numv(v any) float64 {
	n, ok := v.(json.Number)
	if !ok {
		return math.NaN()
	}
	f, err := n.Float64()
	if err != nil {
		return math.NaN()
	}
	return f
}

// text fails the test unless r is a 200 text/plain answer, and returns it.
func (r *response) text(t *testing.T) string {
	t.Helper()
	if r.status != http.StatusOK || r.mediaType() != "text/plain" {
		t.Fatalf("%.300v: want 200 text/plain, got Content-Type %q", r, r.header.Get("Content-Type"))
	}
	return string(r.raw)
}
