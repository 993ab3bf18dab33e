package bootstrap_test

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/octostore/octostore/adapters/httpapi/docsui/browsertest"
)

// TestDocsTryItOut opens the real server's /docs in headless Chromium and
// runs "Try it out" → Execute, unchanged, on every operation whose example
// needs no id from another call (a session id or a lease id cannot exist
// before the call that creates it): Swagger UI must fill in the documented
// parameter and body examples, send them to this server, and show the
// operation's documented success status.
func TestDocsTryItOut(t *testing.T) {
	s := newServer(t)
	ops := servedSpec(t, s)
	base, err := url.Parse(s.base)
	if err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.Start(t, 5*time.Minute) // several seconds per operation on a busy machine (each has its own 10 s bound)
	var (
		mu   sync.Mutex
		sent []string // API requests the page sent: method and URL
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok && e.Type == network.ResourceTypeFetch {
			mu.Lock()
			sent = append(sent, e.Request.Method+" "+e.Request.URL)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(s.base+"/docs"),
		chromedp.WaitVisible(chromedp.CSS(`.opblock`)),
	); err != nil {
		t.Fatalf("open /docs: %v", err)
	}
	token, _ := json.Marshal(aliceToken)
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.ui.authActions.authorize({bearer: {name: "bearer",
		schema: {type: "http", scheme: "bearer"}, value: `+string(token)+`}}); true`)); err != nil {
		t.Fatalf("authorize: %v", err)
	}

	// The flag operations run in name order, most before put-flag: the
	// example flag exists beforehand, as it would after a PUT.
	if r := s.call(t, "PUT", "/flags/new-checkout", aliceToken, map[string]any{"enabled": true, "percentage": 25}); r.status != 200 {
		t.Fatalf("put the example flag: %d %s", r.status, r.raw)
	}
	tried := 0
	// A config key exists once put-config has run, until delete-config.
	ids := sortedIDs(ops)
	for _, first := range []string{"put-config"} {
		if i := slices.Index(ids, first); i > 0 {
			ids = append([]string{first}, slices.Delete(ids, i, i+1)...)
		}
	}
	if i := slices.Index(ids, "delete-config"); i >= 0 {
		ids = append(slices.Delete(ids, i, i+1), "delete-config")
	}
	for _, id := range ids {
		op := ops[id]
		// An event stream never ends, and Swagger UI shows a response
		// only once its body has ended: the watch operations say to use
		// curl -N instead, and TestRequestExamples reads their first frame.
		_, stream := op.Responses["200"].Content["text/event-stream"]
		// Rotating the page's token would log it out for the rest.
		// A sign-in needs GitHub, and its exchange code exists only after one
		// (TestGitHubSignIn runs them against a fake GitHub).
		// A team or rule exists only after another call, and only an
		// owner changes them: TestRequestExamples runs each with what it
		// needs. The page's token is a user's; /metrics needs the admin's.
		// Deleting the example flag would leave the flag operations after
		// it nothing to show (TestRequestExamples runs delete-flag).
		if strings.Contains(op.path, "{id}") || strings.Contains(op.path, "{team}") || strings.Contains(op.path, "{prefix}") ||
			strings.HasPrefix(op.path, "/admin/") || op.path == "/metrics" || needsLease(op) || stream || id == "rotate-token" || id == "delete-flag" ||
			strings.HasPrefix(op.path, "/auth/github") || id == "exchange-code" {
			continue
		}
		tried++
		want := strconv.Itoa(successStatus(t, op))
		block, _ := json.Marshal(`[id^="operations-"][id$="-` + id + `"]`)
		path, _ := json.Marshal([]string{"paths", op.path, strings.ToLower(op.method)})
		q := func(sel string) string { return `document.querySelector(` + string(block) + ` + " ` + sel + `")` }
		fast := chromedp.WithPollingInterval(20 * time.Millisecond)
		runCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		// Expand the operation; Try it out is on, so Execute shows. An
		// Execute before Swagger UI resolved the operation fails with
		// "OperationNotFoundError", so wait for that too.
		_, err := chromedp.Run(runCtx, chromedp.Evaluate[bool](q(".opblock-summary-control")+`.click(); true`))
		if err == nil {
			_, err = chromedp.Run(runCtx, chromedp.Poll[bool](`!!`+q("button.execute")+
				` && !!window.ui.specSelectors.specResolvedSubtree(`+string(path)+`)`, fast))
		}
		if err == nil {
			_, err = chromedp.Run(runCtx, chromedp.Evaluate[bool](q("button.execute")+`.click(); true`))
		}
		var got string
		if err == nil {
			got, err = chromedp.Run(runCtx, chromedp.Poll[string](
				`(`+q(".live-responses-table tr.response .response-col_status")+` || {}).textContent`, fast))
		}
		cancel()
		if err != nil {
			t.Errorf("%s: try it out: %v", id, err)
			continue
		}
		if strings.TrimSpace(got) != want {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](q(".live-responses-table tr.response .response-col_description")+".textContent"))
			t.Errorf("%s: the page shows status %q, want %s: %s", id, got, want, body)
		}
	}
	if tried < 5 {
		t.Errorf("tried %d operations; the filter skipped too many", tried)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) < tried {
		t.Errorf("the page sent %d API requests for %d operations: %q", len(sent), tried, sent)
	}
	for _, r := range sent {
		_, raw, _ := strings.Cut(r, " ")
		if u, err := url.Parse(raw); err != nil || u.Host != base.Host {
			t.Errorf("the page sent %s, not to the server that served it (%s)", r, base.Host)
		}
	}
}

// needsLease reports whether op's request example carries a lease_id, which
// only an acquire can supply.
func needsLease(op *specOp) bool {
	if op.RequestBody == nil {
		return false
	}
	for _, ex := range op.RequestBody.Content["application/json"].examples() {
		if m, ok := ex.(map[string]any); ok {
			if _, ok := m["lease_id"]; ok {
				return true
			}
		}
	}
	return false
}
