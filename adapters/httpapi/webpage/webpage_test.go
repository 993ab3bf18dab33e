package webpage_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/octostore/octostore/adapters/httpapi/webpage"
)

func TestHandler(t *testing.T) {
	fsys := fstest.MapFS{"assets/app.js": {Data: []byte("1")}, "assets/LICENSE": {Data: []byte("MIT")}}
	assets := webpage.LoadAssets(fsys, "assets", "/p/assets/")
	h := &webpage.Handler{Path: "/p", Assets: assets, Page: webpage.NewAsset([]byte("<html>"), "text/html; charset=utf-8"),
		Header: http.Header{"Cache-Control": {"no-store"}}}
	get := func(method, target string, header ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, nil)
		for i := 0; i+1 < len(header); i += 2 {
			r.Header.Set(header[i], header[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	if w := get(http.MethodGet, "/p"); w.Code != 200 || w.Body.String() != "<html>" || w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("page: %d %q %v", w.Code, w.Body, w.Header())
	}
	u := assets.URL("app.js")
	if !strings.HasPrefix(u, "/p/assets/app.js?v=") || assets.URL("nope.js") != "" {
		t.Errorf("URL = %q; unknown = %q", u, assets.URL("nope.js"))
	}
	w := get(http.MethodGet, u)
	if w.Code != 200 || w.Header().Get("Content-Type") != "text/javascript; charset=utf-8" ||
		!strings.Contains(w.Header().Get("Cache-Control"), "immutable") || w.Header().Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("asset: %d %v", w.Code, w.Header())
	}
	if w := get(http.MethodGet, u, "If-None-Match", w.Header().Get("ETag")); w.Code != http.StatusNotModified {
		t.Errorf("revalidation: %d, want 304", w.Code)
	}
	if w := get(http.MethodGet, "/p/assets/LICENSE"); w.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("LICENSE: %v", w.Header())
	}
	for _, target := range []string{"/p/assets/nope.js", "/other"} {
		if w := get(http.MethodGet, target); w.Code != 404 {
			t.Errorf("%s: %d, want 404", target, w.Code)
		}
	}
	if w := get(http.MethodPost, "/p"); w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}
}
