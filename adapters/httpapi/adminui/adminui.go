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
	"embed"
	"html/template"
	"net/http"

	"github.com/octostore/octostore/adapters/httpapi/statusui"
	"github.com/octostore/octostore/adapters/httpapi/webpage"
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
	assets := webpage.LoadAssets(assetsFS, "assets", AssetsPrefix)
	var page bytes.Buffer
	// The overview's charts are the status page's: its uPlot build and
	// chart code, served under /ui/.
	err := pageTemplate.Execute(&page, struct{ CSS, JS, ChartsID, ChartCSS, UPlot, ChartJS string }{
		CSS: assets.URL("admin.css"), JS: assets.URL("admin.js"), ChartsID: ChartsID,
		ChartCSS: statusui.AssetURL("uPlot.min.css"), UPlot: statusui.AssetURL("uPlot.iife.min.js"), ChartJS: statusui.AssetURL("chart.js"),
	})
	if err != nil {
		panic("adminui: render page: " + err.Error()) // the template is constant and writes to memory
	}
	return &webpage.Handler{Path: PagePath, Assets: assets, Page: webpage.NewAsset(page.Bytes(), "text/html; charset=utf-8"),
		Header: http.Header{"Cache-Control": {"no-store"}, "Content-Security-Policy": {contentSecurityPolicy}, "Referrer-Policy": {"no-referrer"}}}
}
