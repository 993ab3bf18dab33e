package adminui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/octostore/octostore/adapters/httpapi/adminui"
)

func serve(t *testing.T, h http.Handler, method, path string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	res := rec.Result()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

// TestPage: the page has its strict CSP, no inline script or style, a
// labelled token field and the charts container, and every asset it names
// is served with a long cache life.
func TestPage(t *testing.T) {
	h := adminui.Handler()
	res, page := serve(t, h, http.MethodGet, adminui.PagePath)
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /admin: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	csp := res.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe") {
		t.Errorf("CSP %q allows unsafe sources", csp)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q", res.Header.Get("Cache-Control"))
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`).MatchString(page) || strings.Contains(page, "<style") ||
		strings.Contains(page, " style=") || regexp.MustCompile(` on[a-z]+=`).MatchString(page) {
		t.Errorf("the page has inline script or style")
	}
	for _, want := range []string{`<label for="token">`, `id="` + adminui.ChartsID + `"`, `lang="en"`, `name="viewport"`} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	assets := regexp.MustCompile(`(?:src|href)="(/admin/assets/[^"]+)"`).FindAllStringSubmatch(page, -1)
	if len(assets) != 2 {
		t.Fatalf("assets %v: want the script and the style sheet", assets)
	}
	for _, a := range assets {
		res, body := serve(t, h, http.MethodGet, strings.ReplaceAll(a[1], "&amp;", "&"))
		if res.StatusCode != http.StatusOK || body == "" || !strings.Contains(res.Header.Get("Cache-Control"), "immutable") ||
			res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: %d, Cache-Control %q", a[1], res.StatusCode, res.Header.Get("Cache-Control"))
		}
	}
}

// TestScriptKeepsTheTokenOutOfURLs: the script stores the token in
// sessionStorage only and never builds HTML from strings.
func TestScriptKeepsTheTokenOutOfURLs(t *testing.T) {
	_, js := serve(t, adminui.Handler(), http.MethodGet, adminui.AssetsPrefix+"admin.js")
	for _, bad := range []string{"localStorage", "document.cookie", "innerHTML", "outerHTML", "insertAdjacentHTML", "eval(", "?token=", "&token="} {
		if strings.Contains(js, bad) {
			t.Errorf("admin.js uses %s", bad)
		}
	}
	if !strings.Contains(js, "sessionStorage") || !strings.Contains(js, `Authorization: "Bearer "`) {
		t.Errorf("admin.js does not keep the token in sessionStorage and the Authorization header")
	}
}

func TestOtherRequests(t *testing.T) {
	h := adminui.Handler()
	for _, c := range []struct {
		method, path string
		want         int
	}{
		{http.MethodPost, adminui.PagePath, http.StatusMethodNotAllowed},
		{http.MethodGet, adminui.AssetsPrefix + "nope.js", http.StatusNotFound},
		{http.MethodGet, "/elsewhere", http.StatusNotFound},
		{http.MethodHead, adminui.PagePath, http.StatusOK},
	} {
		if res, _ := serve(t, h, c.method, c.path); res.StatusCode != c.want {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.want)
		}
	}
}
