package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/metrics"
)

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("scrape: %d", rec.Code)
	}
	return rec.Body.String()
}

func TestSeries(t *testing.T) {
	m := metrics.New(metrics.Config{Version: "v1"})
	m.ReadState(func() metrics.State {
		return metrics.State{LocksHeld: 3, SessionsOpen: 2, WatchStreams: 1, WaitersQueued: 4, EventsRetained: 9,
			Deliveries: map[string]int{"pending": 1, "delivered": 5, "failed": 0}, RestoreTook: 1500 * time.Millisecond}
	})
	m.ObserveRequest("/locks/{name}/acquire", "POST", 200, 2*time.Millisecond)
	m.ObserveRequest("/locks/{name}/acquire", "POST", 200, 3*time.Millisecond)
	m.ObserveRequest("/locks/{name}/acquire", "POST", 409, time.Millisecond)
	m.ObserveCommit(5, 4*time.Millisecond, true)
	m.ObserveCommit(1, time.Millisecond, false)
	text := scrape(t, m)
	for _, want := range []string{
		`octostore_http_requests_total{method="POST",route="/locks/{name}/acquire",status="200"} 2`,
		`octostore_http_requests_total{method="POST",route="/locks/{name}/acquire",status="409"} 1`,
		`octostore_http_request_duration_seconds_bucket{method="POST",route="/locks/{name}/acquire",status="200",le="0.0025"} 1`,
		`octostore_http_request_duration_seconds_count{method="POST",route="/locks/{name}/acquire",status="200"} 2`,
		`octostore_commit_batch_size_sum 6`,
		`octostore_commit_batch_size_count 2`,
		`octostore_commit_duration_seconds_count 2`,
		`octostore_commit_failures_total 1`,
		`octostore_locks_held 3`,
		`octostore_sessions_open 2`,
		`octostore_watch_streams_open 1`,
		`octostore_waiters_queued 4`,
		`octostore_events_retained 9`,
		`octostore_webhook_deliveries{state="delivered"} 5`,
		`octostore_webhook_deliveries{state="failed"} 0`,
		`octostore_restore_duration_seconds 1.5`,
		`octostore_build_info{version="v1"} 1`,
		`# TYPE go_goroutines gauge`,
		`# TYPE process_cpu_seconds_total counter`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("no %s", want)
		}
	}
}

// TestObserveRequestAllocates nothing once a route, method and status has
// been seen, and is safe from many goroutines (run with -race).
func TestObserveRequestAllocatesNothing(t *testing.T) {
	m := metrics.New(metrics.Config{})
	m.ObserveRequest("/locks/{name}", "GET", 200, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { m.ObserveRequest("/locks/{name}", "GET", 200, time.Millisecond) }); n != 0 {
		t.Errorf("ObserveRequest allocates %v times per call", n)
	}
	done := make(chan struct{})
	for g := range 8 {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := range 200 {
				m.ObserveRequest("/r", "GET", 200+(g+i)%5, time.Microsecond)
			}
		}()
	}
	for range 8 {
		<-done
	}
	if text := scrape(t, m); !strings.Contains(text, `octostore_http_requests_total{method="GET",route="/r",status="204"}`) {
		t.Errorf("a series is missing after concurrent first observations")
	}
}
