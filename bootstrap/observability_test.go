package bootstrap_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/octostore/octostore/adapters/httpapi/docsui/browsertest"
)

// sample returns the value of one series in a text-format scrape, and
// whether it is there.
func sample(text, name, labels string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name+labels) + ` ([0-9.e+-]+)$`)
	m := re.FindStringSubmatch(text)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestMetricsScrape drives traffic through the real server and scrapes
// /metrics: every named series is there with a plausible value, no label
// carries a lock name or a token, and a tenant's token is refused.
func TestMetricsScrape(t *testing.T) {
	var logs syncBuffer
	s := startServer(t, e2eConfig(filepath.Join(t.TempDir(), "octostore.db")), nil,
		slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})))
	for i := range 5 {
		s.acquire(t, aliceToken, fmt.Sprintf("metrics-secret/%d", i), nil)
	}
	s.openSession(t, bobToken, 30)
	s.call(t, http.MethodGet, "/locks/metrics-secret%2F0", carolToken, nil).ok(t, http.StatusOK)

	s.call(t, http.MethodGet, "/metrics", aliceToken, nil).problem(t, http.StatusForbidden, "admin_only")
	s.call(t, http.MethodGet, "/metrics", "", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	res := s.call(t, http.MethodGet, "/metrics", adminTok, nil)
	if res.status != http.StatusOK || !strings.HasPrefix(res.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", res.status, res.header.Get("Content-Type"))
	}
	text := string(res.raw)
	for _, want := range []struct {
		name, labels string
		min, max     float64
	}{
		{"octostore_http_requests_total", `{method="POST",route="/locks/{name}/acquire",status="200"}`, 5, 5},
		{"octostore_http_requests_total", `{method="GET",route="/locks/{name}",status="200"}`, 1, 1},
		{"octostore_http_requests_total", `{method="GET",route="/metrics",status="403"}`, 1, 1},
		{"octostore_http_request_duration_seconds_count", `{method="POST",route="/sessions",status="201"}`, 1, 1},
		{"octostore_http_request_duration_seconds_sum", `{method="POST",route="/locks/{name}/acquire",status="200"}`, 1e-6, 10},
		{"octostore_locks_held", ``, 5, 5},
		{"octostore_sessions_open", ``, 1, 1},
		{"octostore_watch_streams_open", ``, 0, 0},
		{"octostore_waiters_queued", ``, 0, 0},
		{"octostore_events_retained", ``, 5, 1e6},
		{"octostore_webhook_deliveries", `{state="delivered"}`, 0, 0},
		{"octostore_commit_batch_size_count", ``, 6, 1e6}, // start-up, 5 acquires, the session (maybe shared)
		{"octostore_commit_batch_size_sum", ``, 6, 1e6},
		{"octostore_commit_duration_seconds_count", ``, 6, 1e6},
		{"octostore_commit_duration_seconds_sum", ``, 1e-7, 60},
		{"octostore_commit_failures_total", ``, 0, 0},
		{"octostore_restore_duration_seconds", ``, 1e-9, 60},
		{"octostore_build_info", `{version="test"}`, 1, 1},
		{"go_goroutines", ``, 5, 1e5},
		{"process_resident_memory_bytes", ``, 1 << 20, 1 << 40},
	} {
		v, ok := sample(text, want.name, want.labels)
		if !ok {
			t.Errorf("no series %s%s", want.name, want.labels)
		} else if v < want.min || v > want.max {
			t.Errorf("%s%s = %v, want %v..%v", want.name, want.labels, v, want.min, want.max)
		}
	}
	for _, leak := range []string{"metrics-secret", aliceToken, adminTok, "acme"} {
		if strings.Contains(text, leak) {
			t.Errorf("the metrics carry %q", leak)
		}
	}

	// One access-log line per request, with the route pattern and never
	// the path (which carries the lock name).
	var found bool
	for line := range strings.Lines(logs.String()) {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != "request" {
			continue
		}
		if strings.Contains(line, "metrics-secret") {
			t.Errorf("an access-log line carries the lock name: %s", line)
		}
		if l["route"] == "/locks/{name}/acquire" && l["method"] == "POST" && l["status"] == 200.0 && l["org"] == "acme" &&
			l["request_id"] != "" && l["duration"] != "" {
			found = true
		}
	}
	if !found {
		t.Errorf("no access-log line for the acquires with method, route, status, duration, request_id and org:\n%s", logs.String())
	}
}

// TestReadyAndStatus: a started server is ready and up.
func TestReadyAndStatus(t *testing.T) {
	s := newServer(t)
	s.call(t, http.MethodGet, "/ready", "", nil).ok(t, http.StatusOK)
	s.acquire(t, aliceToken, "status/x", nil)
	r := s.call(t, http.MethodGet, "/status", "", nil).ok(t, http.StatusOK)
	if r.str("status") != "ok" || r.str("version") != "test" || r.num(t, "locks_held") != 1 {
		t.Errorf("%s: want ok, version test, one lock", r.raw)
	}
	checkSpec(t, s)
}

// artifactDir is where browser tests save screenshots: $OCTOSTORE_ARTIFACTS
// when set, else a temporary directory of the test.
func artifactDir(t *testing.T) string {
	if d := os.Getenv("OCTOSTORE_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// TestStatusPageInBrowser opens the status page of the real server in
// headless Chromium: it loads with no console error or policy violation,
// shows the version, and its request chart grows after traffic. It saves
// screenshots (wide and narrow) as artifacts.
func TestStatusPageInBrowser(t *testing.T) {
	s := newServer(t)
	base, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}
	dir := artifactDir(t)
	ctx := browsertest.Start(t, 60*time.Second)
	var (
		mu       sync.Mutex
		problems []string
		outside  []string
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			if u, err := url.Parse(ev.Request.URL); err != nil || u.Scheme != "data" && u.Host != base.Host {
				outside = append(outside, ev.Request.URL)
			}
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				msg := "console." + string(ev.Type)
				for _, a := range ev.Args {
					msg += " " + a.Description + string(a.Value)
				}
				problems = append(problems, msg)
			}
		case *log.EventEntryAdded:
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	fast := chromedp.WithPollingInterval(50 * time.Millisecond)
	runCtx, cancel := context.WithTimeout(ctx, 40*time.Second)
	defer cancel()
	if err := chromedp.Do(runCtx, chromedp.Navigate(s.base+"/?refresh=1")); err != nil {
		t.Fatalf("open /: %v", err)
	}
	if _, err := chromedp.Run(runCtx, chromedp.Poll[bool](`document.getElementById("status").dataset.version === "test"`, fast)); err != nil {
		t.Fatalf("the page never showed the status: %v", err)
	}
	version, err := chromedp.Run(runCtx, chromedp.Text(chromedp.CSS(`#version`)))
	if err != nil || version != "test" {
		t.Errorf("version shown %q (%v), want test", version, err)
	}
	state, _ := chromedp.Run(runCtx, chromedp.Text(chromedp.CSS(`#state`)))
	if !strings.Contains(state, "Up") {
		t.Errorf("state shown %q, want up", state)
	}
	before, err := chromedp.Run(runCtx, chromedp.Evaluate[float64](`Number(document.getElementById("rps-chart").dataset.sum || 0)`))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		s.acquire(t, aliceToken, fmt.Sprintf("page/%d", i), nil)
	}
	// The page refreshes every second: wait until its chart shows the
	// traffic (the locks count follows in the same refresh).
	if _, err := chromedp.Run(runCtx, chromedp.Poll[bool](fmt.Sprintf(
		`Number(document.getElementById("rps-chart").dataset.sum) > %v && document.getElementById("locks").textContent === "20"`, before), fast)); err != nil {
		sum, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("rps-chart").dataset.sum`))
		t.Fatalf("the chart never grew after traffic (sum %s, was %v): %v", sum, before, err)
	}
	if n, _ := chromedp.Run(runCtx, chromedp.Evaluate[int](`document.querySelectorAll("#rps-chart canvas, #p99-chart canvas").length`)); n != 2 {
		t.Errorf("%d chart canvases, want 2", n)
	}
	// Keyboard: the first Tab reaches the link to the API reference.
	if err := chromedp.Do(runCtx, chromedp.KeyEvent("\t")); err != nil {
		t.Fatal(err)
	}
	if href, _ := chromedp.Run(runCtx, chromedp.Evaluate[string](`document.activeElement.getAttribute("href") || ""`)); href != "/docs" {
		t.Errorf("the first Tab focuses %q, want the /docs link", href)
	}
	shoot := func(name string) {
		png, err := chromedp.Run(runCtx, chromedp.FullScreenshot(100)) // 100: PNG
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	shoot("status.png")
	// A narrow screen: nothing overflows sideways.
	if err := chromedp.Do(runCtx, chromedp.EmulateViewport(360, 740)); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(runCtx, chromedp.Poll[bool](
		`document.documentElement.scrollWidth <= window.innerWidth && document.querySelector("#rps-chart canvas").getBoundingClientRect().width <= window.innerWidth`, fast)); err != nil {
		w, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		t.Errorf("on a 360 px screen the page is %d px wide: %v", w, err)
	}
	shoot("status-narrow.png")
	t.Logf("screenshots in %s", dir)

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser reported %s", p)
	}
	for _, u := range outside {
		t.Errorf("the page requested %s, outside the server", u)
	}
}
