// Package adminui serves the admin dashboard: one HTML page with its
// script and style sheet, embedded in the binary (no CDN, no build step).
// The page asks for the admin token, keeps it in sessionStorage only and
// calls the admin JSON routes (/admin/api/…, /admin/orgs…, /admin/tokens)
// with it in the Authorization header, never in a URL. Its
// Content-Security-Policy allows no inline script or style and no origin
// but its own.
package adminui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/octostore/octostore/adapters/httpapi/statusui"
)

const (
	// PagePath is the path of the dashboard page.
	PagePath = "/admin"
	// AssetsPrefix is the path prefix of the page's script and style
	// sheet, served as AssetsPrefix + file name.
	AssetsPrefix = "/admin/assets/"
	// ChartsID is the id of the overview's element that holds the charts
	// of the status page (requests per second and p99 over the last hour).
	ChartsID = "overview-charts"
)

// contentSecurityPolicy lets the page load only this package's files and
// call only its own origin. The favicon is an empty data: URL.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets
var assetsFS embed.FS

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("admin").Parse(pageHTML))

type asset struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	page   asset
	assets map[string]asset
}

// Handler returns the handler of the page and its assets. Register it on
// an http.ServeMux under exactly these two patterns:
//
//	mux.Handle("GET "+adminui.PagePath, h)     // "GET /admin"
//	mux.Handle("GET "+adminui.AssetsPrefix, h) // "GET /admin/assets/"
//
// It answers PagePath with the page (Cache-Control: no-store, the
// Content-Security-Policy), AssetsPrefix + name with the embedded file
// (cached for a year: the page names each with a ?v=<content hash>), any
// other path with 404 and a method other than GET or HEAD with 405.
func Handler() http.Handler {
	h := &handler{assets: make(map[string]asset)}
	err := fs.WalkDir(assetsFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(assetsFS, p)
		if err != nil {
			return err
		}
		h.assets[strings.TrimPrefix(p, "assets/")] = newAsset(body, contentType(p))
		return nil
	})
	if err != nil {
		panic("adminui: read embedded assets: " + err.Error()) // cannot happen: go:embed checked them
	}
	var page bytes.Buffer
	// The overview's charts are the status page's: its uPlot build and
	// chart code, served under /ui/.
	err = pageTemplate.Execute(&page, struct{ CSS, JS, ChartsID, ChartCSS, UPlot, ChartJS string }{
		CSS: h.assetURL("admin.css"), JS: h.assetURL("admin.js"), ChartsID: ChartsID,
		ChartCSS: statusui.AssetURL("uPlot.min.css"), UPlot: statusui.AssetURL("uPlot.iife.min.js"), ChartJS: statusui.AssetURL("chart.js"),
	})
	if err != nil {
		panic("adminui: render page: " + err.Error()) // the template is constant and writes to memory
	}
	h.page = newAsset(page.Bytes(), "text/html; charset=utf-8")
	return h
}

func newAsset(body []byte, contentType string) asset {
	sum := sha256.Sum256(body)
	return asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// assetURL returns the URL of an embedded file, versioned by its content.
func (h *handler) assetURL(name string) string {
	return AssetsPrefix + name + "?v=" + strings.Trim(h.assets[name].etag, `"`)
}

func contentType(name string) string {
	switch path.Ext(name) {
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	default:
		return "text/plain; charset=utf-8"
	}
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == PagePath:
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
		w.Header().Set("Referrer-Policy", "no-referrer")
		serve(w, r, h.page)
	case strings.HasPrefix(p, AssetsPrefix):
		a, ok := h.assets[strings.TrimPrefix(p, AssetsPrefix)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		serve(w, r, a)
	default:
		http.NotFound(w, r)
	}
}

// serve writes a with its validators; http.ServeContent handles HEAD, Range
// and If-None-Match.
func serve(w http.ResponseWriter, r *http.Request, a asset) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
