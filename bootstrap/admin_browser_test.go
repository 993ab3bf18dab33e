package bootstrap_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/octostore/octostore/adapters/httpapi/docsui/browsertest"
)

// TestAdminDashboard drives the real /admin page in headless Chromium: a
// wrong token and a user token are refused and not stored, the admin token
// is accepted and kept in sessionStorage only, the page lists a lock that
// alice took over HTTP, force-releases it after a confirmation, and the
// live event tail shows the release forced by the admin. No request carries
// a token in its URL, and the browser reports no error (the refused sign-ins
// aside), no exception and no CSP violation. Screenshots go to
// $OCTOSTORE_ARTIFACTS (or a temp dir); OCTOSTORE_ADMIN_SCREENSHOT names a
// file for the README's picture.
func TestAdminDashboard(t *testing.T) {
	s := newServer(t)
	acq := s.call(t, http.MethodPost, "/locks/"+url.PathEscape("jobs/nightly")+"/acquire", aliceToken, map[string]any{"ttl_seconds": 600})
	if acq.status != http.StatusOK {
		t.Fatalf("acquire: %d %s", acq.status, acq.raw)
	}
	lease, _ := acq.obj["lease_id"].(string)
	s.call(t, http.MethodPost, "/locks/"+url.PathEscape("cache/warmup")+"/acquire", carolToken, map[string]any{"ttl_seconds": 600})

	artifacts := os.Getenv("OCTOSTORE_ARTIFACTS")
	if artifacts == "" {
		artifacts = t.TempDir()
	}
	ctx := browsertest.Start(t, 90*time.Second)

	var (
		mu       sync.Mutex
		problems []string
		urls     []string
		refused  int // console lines of the refused sign-ins
	)
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			urls = append(urls, ev.Request.URL)
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
			// Chromium logs every 4xx answer to fetch; those of the
			// two refused sign-ins are expected, nothing else.
			if ev.Entry.Source == log.EntrySourceNetwork && strings.HasSuffix(ev.Entry.URL, "/admin/api/overview") &&
				(strings.Contains(ev.Entry.Text, "401") || strings.Contains(ev.Entry.Text, "403")) {
				refused++
				return
			}
			if ev.Entry.Level == log.EntryLevelError || ev.Entry.Level == log.EntryLevelWarning {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	}); err != nil {
		t.Fatal(err)
	}

	fast := chromedp.WithPollingInterval(25 * time.Millisecond)
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if err := chromedp.Do(runCtx, actions...); err != nil {
			shot(t, ctx, filepath.Join(artifacts, "admin-failed.png"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	// waitFor polls a JavaScript condition, bounded by the step's timeout.
	waitFor := func(what, cond string) {
		t.Helper()
		runCtx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		if _, err := chromedp.Run(runCtx, chromedp.Poll[bool](cond, fast, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
			shot(t, ctx, filepath.Join(artifacts, "admin-failed.png"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("evaluate %s: %v", expr, err)
		}
		return v
	}
	stored := `String(sessionStorage.getItem("octostore-admin-token"))`
	signIn := func(token string) {
		t.Helper()
		eval(`document.getElementById("token").value = ""`)
		step("sign in", chromedp.SendKeys(chromedp.CSS(`#token`), token),
			chromedp.Click(chromedp.CSS(`#signin-form button[type=submit]`)))
	}

	step("open /admin", chromedp.Navigate(s.base+"/admin"), chromedp.WaitVisible(chromedp.CSS(`#token`)))

	// A wrong token, then a user token: refused, said so, not stored.
	signIn(wrongToken)
	waitFor("the wrong token's error", `!document.getElementById("signin-error").hidden && document.getElementById("signin-error").textContent.includes("not valid")`)
	if got := eval(stored); got != "null" {
		t.Errorf("after a wrong token sessionStorage holds %q", got)
	}
	signIn(aliceToken)
	waitFor("the user token's error", `document.getElementById("signin-error").textContent.includes("not the admin token")`)
	if got := eval(stored); got != "null" || eval(`String(document.getElementById("app").hidden)`) != "true" {
		t.Errorf("after a user token: stored %q, dashboard shown", got)
	}
	shot(t, ctx, filepath.Join(artifacts, "admin-refused.png"))

	// The admin token opens the dashboard and is kept for this tab.
	signIn(adminTok)
	waitFor("the overview", `!document.getElementById("app").hidden && document.querySelector("#overview-table tbody").textContent.includes("acme")`)
	if got := eval(stored); got != adminTok {
		t.Errorf("sessionStorage holds %q, want the admin token", got)
	}
	if eval(`String(localStorage.length)`) != "0" || eval(`document.cookie`) != "" {
		t.Errorf("the token went somewhere other than sessionStorage")
	}
	// The status page's charts, drawn from /status after this test's
	// traffic.
	waitFor("the overview's charts", `Number(document.getElementById("ov-rps").dataset.points) > 0 && Number(document.getElementById("ov-rps").dataset.sum) > 0 && !!document.querySelector("#overview-charts canvas")`)
	shot(t, ctx, filepath.Join(artifacts, "admin-overview.png"))

	// Tabs follow the arrow keys.
	step("arrow keys", chromedp.Focus(chromedp.CSS(`#tab-overview`)), chromedp.KeyEvent(kb.ArrowRight))
	waitFor("the orgs tab", `document.getElementById("tab-orgs").getAttribute("aria-selected") === "true" && !document.getElementById("view-orgs").hidden`)

	// Locks: alice's lock is listed; force-release it through the confirmation.
	step("locks view", chromedp.Click(chromedp.CSS(`#tab-locks`)), chromedp.SetValue(chromedp.CSS(`#locks-org`), "acme"),
		chromedp.SetValue(chromedp.CSS(`#locks-prefix`), "jobs"), chromedp.Click(chromedp.CSS(`#locks-form button[type=submit]`)))
	row := `document.querySelector('#locks-table tr[data-lock="jobs/nightly"]')`
	waitFor("alice's lock in the list", row+` !== null && `+row+`.textContent.includes("acme/alice")`)
	shot(t, ctx, filepath.Join(artifacts, "admin-locks.png"))
	step("force release", chromedp.Click(chromedp.CSS(`#locks-table tr[data-lock="jobs/nightly"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#confirm-release`)))
	shot(t, ctx, filepath.Join(artifacts, "admin-confirm.png"))
	step("confirm", chromedp.Click(chromedp.CSS(`#confirm-release`)))
	waitFor("the release", row+` === null && document.getElementById("app-status").textContent.includes("Released acme/jobs/nightly")`)

	// The live tail shows it, forced by the admin.
	step("events view", chromedp.Click(chromedp.CSS(`#tab-events`)))
	waitFor("the forced release in the tail", `[...document.querySelectorAll("#events-table tr.forced")].some(r =>
		r.textContent.includes("lock.released") && r.textContent.includes("jobs/nightly") && r.querySelector(".forced-by").textContent === "admin")`)
	step("narrow screen", chromedp.EmulateViewport(375, 800))
	waitFor("no page-wide horizontal scroll on a narrow screen", `document.documentElement.scrollWidth <= window.innerWidth`)
	shot(t, ctx, filepath.Join(artifacts, "admin-events-narrow.png"))
	step("wide screen", chromedp.EmulateViewport(1280, 900))
	if path := os.Getenv("OCTOSTORE_ADMIN_SCREENSHOT"); path != "" {
		step("overview for the README", chromedp.Click(chromedp.CSS(`#tab-overview`)))
		waitFor("the overview", `document.querySelector("#overview-table tbody").textContent.includes("globex")`)
		step("events for the README", chromedp.Click(chromedp.CSS(`#tab-events`)))
		waitFor("the tail", `document.querySelector("#events-table tr.forced") !== null`)
		shot(t, ctx, path)
	}

	// The lease is dead for alice.
	r := s.call(t, http.MethodPost, "/locks/"+url.PathEscape("jobs/nightly")+"/renew", aliceToken, map[string]any{"lease_id": lease})
	if r.status != http.StatusConflict || r.obj["code"] != "lease_not_current" {
		t.Errorf("alice's renew after the force release: %d %s", r.status, r.raw)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, u := range urls {
		if strings.Contains(u, adminTok) || strings.Contains(u, aliceToken) || strings.Contains(u, wrongToken) {
			t.Errorf("a request carried a token in its URL: %s", u)
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "data" && "http://"+p.Host != s.base) {
			t.Errorf("the page requested %s, outside the server", u)
		}
	}
	for _, p := range problems {
		t.Errorf("browser reported %s", p)
	}
	if refused > 2 {
		t.Errorf("%d refused requests logged, want at most the 2 refused sign-ins", refused)
	}
}

// shot saves a PNG screenshot of the page at path (quality 100 is PNG;
// below it, JPEG).
func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", path, err)
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("save screenshot: %v", err)
		return
	}
	t.Logf("screenshot: %s", path)
}
