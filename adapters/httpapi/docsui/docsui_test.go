package docsui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/octostore/octostore/adapters/httpapi/docsui"
	"github.com/octostore/octostore/adapters/httpapi/docsui/browsertest"
)

// testSpec is a tiny OpenAPI 3.1 document with one operation. The Markdown
// description and the $ref make Swagger UI render and resolve more than a
// bare operation, under the page's Content-Security-Policy.
const testSpec = `{
  "openapi": "3.1.0",
  "info": {"title": "Docs test API", "version": "1.0.0", "description": "A *tiny* spec."},
  "paths": {
    "/health": {
      "get": {
        "operationId": "health",
        "summary": "Health check",
        "description": "Returns **ok** while the server runs.",
        "responses": {
          "200": {
            "description": "OK",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}
          }
        }
      }
    }
  },
  "components": {
    "schemas": {
      "Health": {"type": "object", "properties": {"status": {"type": "string", "examples": ["ok"]}}}
    }
  }
}`

// newMux mounts the docs handler the way its doc comment says, next to a
// static spec and the one operation of that spec, which counts its calls.
func newMux(healthCalls *atomic.Int32) *http.ServeMux {
	h := docsui.Handler("/openapi.json")
	mux := http.NewServeMux()
	mux.Handle("GET "+docsui.PagePath, h)
	mux.Handle("GET "+docsui.AssetsPrefix, h)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, testSpec)
	})
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) {
		healthCalls.Add(1)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"status":"ok"}`)
	})
	return mux
}

func get(t *testing.T, h http.Handler, method, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

var refRE = regexp.MustCompile(`(?:src|href)="([^"]*)"`)

func TestPageAndAssets(t *testing.T) {
	mux := newMux(new(atomic.Int32))

	res, page := get(t, mux, http.MethodGet, "/docs", nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /docs: status %d, want 200", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("GET /docs: Content-Type %q", ct)
	}
	if cc := res.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET /docs: Cache-Control %q, want no-cache", cc)
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("GET /docs: Content-Security-Policy %q lacks script-src 'self'", csp)
	}
	if !strings.Contains(page, `data-spec-url="/openapi.json"`) {
		t.Errorf("page does not carry the spec URL:\n%s", page)
	}

	var refs []string
	for _, m := range refRE.FindAllStringSubmatch(page, -1) {
		if !strings.HasPrefix(m[1], "data:") {
			refs = append(refs, m[1])
		}
	}
	wantTypes := map[string]string{
		"swagger-ui.css":       "text/css; charset=utf-8",
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"init.js":              "text/javascript; charset=utf-8",
	}
	for _, ref := range refs {
		u, err := url.Parse(ref)
		if err != nil {
			t.Fatalf("page references %q: %v", ref, err)
		}
		name, ok := strings.CutPrefix(u.Path, docsui.AssetsPrefix)
		if !ok || u.Host != "" {
			t.Errorf("page references %q, which is not under %s", ref, docsui.AssetsPrefix)
			continue
		}
		want, ok := wantTypes[name]
		if !ok {
			t.Errorf("page references unexpected asset %q", ref)
			continue
		}
		delete(wantTypes, name)

		res, body := get(t, mux, http.MethodGet, ref, nil)
		if res.StatusCode != http.StatusOK || body == "" {
			t.Errorf("GET %s: status %d, %d bytes", ref, res.StatusCode, len(body))
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != want {
			t.Errorf("GET %s: Content-Type %q, want %q", ref, ct, want)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s: Cache-Control %q", ref, cc)
		}
		etag := res.Header.Get("ETag")
		if etag == "" || u.Query().Get("v") != strings.Trim(etag, `"`) {
			t.Errorf("GET %s: ETag %q does not match the version in the URL", ref, etag)
		}
		res, _ = get(t, mux, http.MethodGet, ref, http.Header{"If-None-Match": {etag}})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match: status %d, want 304", ref, res.StatusCode)
		}
		res, body = get(t, mux, http.MethodHead, ref, nil)
		if res.StatusCode != http.StatusOK || body != "" {
			t.Errorf("HEAD %s: status %d, %d bytes", ref, res.StatusCode, len(body))
		}
	}
	for name := range wantTypes {
		t.Errorf("page does not reference %s", name)
	}

	for _, p := range []string{
		"/docs/assets/nope.js",
		"/docs/assets/",
		"/docs/assets/assets/init.js",
		"/docs/assets/init.js/x",
	} {
		if res, _ := get(t, mux, http.MethodGet, p, nil); res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
	// The licence travels with the bundle and is readable.
	if res, body := get(t, mux, http.MethodGet, "/docs/assets/LICENSE", nil); res.StatusCode != http.StatusOK ||
		!strings.Contains(body, "Apache License") {
		t.Errorf("GET /docs/assets/LICENSE: status %d", res.StatusCode)
	}
}

func TestHandlerDirect(t *testing.T) {
	h := docsui.Handler(`/openapi.json?a=1&b="x"`)

	_, page := get(t, h, http.MethodGet, "/docs", nil)
	if strings.Contains(page, `b="x"`) {
		t.Errorf("spec URL is not escaped in the page:\n%s", page)
	}
	if res, _ := get(t, h, http.MethodPost, "/docs", nil); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /docs: status %d, want 405", res.StatusCode)
	}
	if res, _ := get(t, h, http.MethodGet, "/elsewhere", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /elsewhere: status %d, want 404", res.StatusCode)
	}
}

// TestBrowserRendersSpec opens /docs in headless Chromium and checks that
// Swagger UI renders the operation and can call it. Set OCTOSTORE_SCREENSHOT
// to a file name to save a PNG of the rendered page.
func TestBrowserRendersSpec(t *testing.T) {
	var healthCalls atomic.Int32
	srv := httptest.NewServer(newMux(&healthCalls)) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	srvURL, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	ctx := browsertest.Start(t, 30*time.Second)

	var (
		mu       sync.Mutex
		requests []string
		problems []string
	)
	err = chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, ev.Request.URL)
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
			if ev.Entry.Level == log.EntryLevelError {
				problems = append(problems, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	runCtx, cancelRun := context.WithTimeout(ctx, 20*time.Second)
	defer cancelRun()
	summary := chromedp.CSS(`#operations-default-health .opblock-summary-description`)
	if err := chromedp.Do(runCtx,
		chromedp.Navigate(srv.URL+docsui.PagePath),
		chromedp.WaitVisible(summary),
	); err != nil {
		t.Fatalf("operation not rendered: %v", err)
	}
	text, err := chromedp.Run(runCtx, chromedp.Text(summary))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(text) != "Health check" {
		t.Errorf("operation summary %q, want %q", text, "Health check")
	}
	title, err := chromedp.Run(runCtx, chromedp.Text(chromedp.CSS(`.info .title`)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Docs test API") {
		t.Errorf("spec title %q, want it to contain %q", title, "Docs test API")
	}

	// Try it out is on by default, so expanding the operation shows Execute.
	// Expanding also makes Swagger UI resolve the operation in the
	// background; a click on Execute before that ends fails with
	// "OperationNotFoundError: Operation get_health not found", so wait.
	execute := chromedp.CSS(`#operations-default-health button.execute`)
	status := chromedp.CSS(`#operations-default-health .live-responses-table tr.response .response-col_status`)
	if err := chromedp.Do(runCtx,
		chromedp.Click(chromedp.CSS(`#operations-default-health .opblock-summary-control`)),
		chromedp.WaitVisible(execute),
	); err != nil {
		t.Fatalf("expand the operation: %v", err)
	}
	if _, err := chromedp.Run(runCtx, chromedp.Poll[bool](
		`!!window.ui.specSelectors.specResolvedSubtree(["paths", "/health", "get"])`,
	)); err != nil {
		t.Fatalf("wait for Swagger UI to resolve the operation: %v", err)
	}
	if err := chromedp.Do(runCtx, chromedp.Click(execute), chromedp.WaitVisible(status)); err != nil {
		t.Fatalf("execute the operation from the page: %v", err)
	}
	if n := healthCalls.Load(); n != 1 {
		t.Errorf("GET /health reached the server %d times, want 1", n)
	}
	code, err := chromedp.Run(runCtx, chromedp.Text(status))
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(code) != "200" {
		t.Errorf("response status on the page %q, want 200", code)
	}

	if path := os.Getenv("OCTOSTORE_SCREENSHOT"); path != "" {
		png, err := chromedp.Run(runCtx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot saved to %s", path)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, r := range requests {
		u, err := url.Parse(r)
		if err != nil || (u.Scheme != "data" && u.Host != srvURL.Host) {
			t.Errorf("the browser requested %s, outside the test server %s", r, srv.URL)
		}
	}
	for _, want := range []string{"/docs", "/openapi.json", "/health"} {
		if !slices.ContainsFunc(requests, func(r string) bool {
			u, err := url.Parse(r)
			return err == nil && u.Path == want
		}) {
			t.Errorf("the browser never requested %s; requests: %q", want, requests)
		}
	}
	for _, p := range problems {
		t.Errorf("browser reported %s", p)
	}
}
