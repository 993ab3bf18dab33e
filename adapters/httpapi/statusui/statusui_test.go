package statusui_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/octostore/octostore/adapters/httpapi/statusui"
)

func get(h http.Handler, method, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHandler(t *testing.T) {
	h := statusui.Handler(`/status?x="y"`)
	page := get(h, http.MethodGet, "/")
	if page.Code != http.StatusOK || !strings.Contains(page.Body.String(), `data-status-url="/status?x=%22y%22"`) &&
		!strings.Contains(page.Body.String(), `data-status-url="/status?x=&#34;y&#34;"`) {
		t.Fatalf("page: %d\n%s", page.Code, page.Body)
	}
	if csp := page.Header().Get("Content-Security-Policy"); csp != statusui.ContentSecurityPolicy || strings.Contains(csp, "unsafe") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	for _, name := range []string{"ui.css", "chart.js", "status.js", "uPlot.iife.min.js", "uPlot.min.css"} {
		u := statusui.AssetURL(name)
		if u == "" || !strings.Contains(page.Body.String(), u) {
			t.Errorf("%s: URL %q not in the page", name, u)
		}
		path, _, _ := strings.Cut(u, "?")
		res := get(h, http.MethodGet, path)
		if res.Code != http.StatusOK || res.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: %d %q", path, res.Code, res.Header().Get("Cache-Control"))
		}
	}
	if lic := get(h, http.MethodGet, statusui.AssetsPrefix+"LICENSE"); !strings.Contains(lic.Body.String(), "MIT") {
		t.Errorf("uPlot's licence is not served")
	}
	if statusui.AssetURL("nope.js") != "" {
		t.Errorf("an unknown asset has a URL")
	}
	if res := get(h, http.MethodPost, "/"); res.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", res.Code)
	}
	if res := get(h, http.MethodGet, "/ui/nope"); res.Code != http.StatusNotFound {
		t.Errorf("GET /ui/nope: %d", res.Code)
	}
}
