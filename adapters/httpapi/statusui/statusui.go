// Package statusui serves the public status page: up or degraded, version,
// uptime, totals, and live charts of the request rate and p99 latency of
// the last hour, drawn from the JSON of GET /status. Every file the page
// loads is embedded in the binary; the page runs under a strict
// Content-Security-Policy (no inline script or style).
//
// The charts are drawn by uPlot, vendored unmodified from its npm package
// (version in assets/VERSION): to upgrade, run `npm pack uplot`, untar it
// and copy dist/uPlot.iife.min.js, dist/uPlot.min.css and LICENSE into
// assets/. The other files are ours and reusable by other pages served
// under the same assets prefix: ui.css (layout, colours, the status badge
// and the figures), chart.js (window.OctoChart: a line chart of a time
// series in a given element) and status.js (this page's data and refresh).
package statusui

import (
	"bytes"
	"embed"
	"html/template"
	"net/http"
	"sync"

	"github.com/octostore/octostore/adapters/httpapi/webpage"
)

const (
	// PagePath is the path of the HTML page.
	PagePath = "/"
	// PagePattern is the ServeMux pattern of the page: "/" alone, not
	// the subtree.
	PagePattern = "/{$}"
	// AssetsPrefix is the path prefix under which the embedded files are
	// served, as AssetsPrefix + file name.
	AssetsPrefix = "/ui/"
)

// ContentSecurityPolicy lets the page load only what this server serves
// and call only its own origin. uPlot styles its elements through the DOM
// (which CSP does not restrict) and draws on a canvas.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets
var assetsFS embed.FS

var pageTemplate = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OctoStore status</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.UplotCSS}}">
<link rel="stylesheet" href="{{.CSS}}">
</head>
<body>
<header class="bar">
  <h1>OctoStore status</h1>
  <nav aria-label="Links"><a href="/docs">API reference</a></nav>
</header>
<main id="status" data-status-url="{{.StatusURL}}">
  <section aria-labelledby="state-heading" class="card">
    <h2 id="state-heading" class="visually-hidden">Current state</h2>
    <p id="state" class="badge badge-unknown" role="status" aria-live="polite">Loading…</p>
    <dl class="facts">
      <div><dt>Version</dt><dd id="version">–</dd></div>
      <div><dt>Uptime</dt><dd id="uptime">–</dd></div>
      <div><dt>Locks held</dt><dd id="locks">–</dd></div>
      <div><dt>Sessions open</dt><dd id="sessions">–</dd></div>
      <div><dt>Requests per second</dt><dd id="rps">–</dd></div>
      <div><dt>p99 latency</dt><dd id="p99">–</dd></div>
    </dl>
    <p class="note" id="updated" aria-live="off"></p>
  </section>
  <section aria-labelledby="charts-heading" class="card">
    <h2 id="charts-heading">The last hour</h2>
    <figure>
      <figcaption id="rps-caption">API requests per second, by minute</figcaption>
      <div id="rps-chart" class="chart" role="img" aria-labelledby="rps-caption" aria-describedby="rps-summary"></div>
      <p id="rps-summary" class="visually-hidden"></p>
    </figure>
    <figure>
      <figcaption id="p99-caption">p99 latency in milliseconds, by minute</figcaption>
      <div id="p99-chart" class="chart" role="img" aria-labelledby="p99-caption" aria-describedby="p99-summary"></div>
      <p id="p99-summary" class="visually-hidden"></p>
    </figure>
  </section>
</main>
<footer class="bar"><p>Figures are totals over every org; watch streams and the operations routes are not counted. JSON: <a href="{{.StatusURL}}">{{.StatusURL}}</a>.</p></footer>
<script src="{{.Uplot}}"></script>
<script src="{{.Chart}}"></script>
<script src="{{.Status}}"></script>
</body>
</html>
`))

// embedded are the embedded files, read once: other pages name them too.
var embedded = sync.OnceValue(func() *webpage.Assets { return webpage.LoadAssets(assetsFS, "assets", AssetsPrefix) })

// Handler returns the handler for the status page and its assets.
// statusURL is the URL of the status JSON the page renders, usually
// "/status", on the same origin (the page's policy connects nowhere else).
//
// Register it on an http.ServeMux under these two patterns:
//
//	mux.Handle("GET "+statusui.PagePattern, h)  // "GET /{$}"
//	mux.Handle("GET "+statusui.AssetsPrefix, h) // "GET /ui/"
//
// It answers PagePath with the page (Cache-Control: no-cache, an ETag and
// the Content-Security-Policy), AssetsPrefix + name with the embedded file
// (cached for a year; the page asks for ?v=<content hash>), 404 for any
// other path and 405 for a method other than GET or HEAD.
func Handler(statusURL string) http.Handler {
	var page bytes.Buffer
	err := pageTemplate.Execute(&page, struct{ UplotCSS, CSS, Uplot, Chart, Status, StatusURL string }{
		UplotCSS: AssetURL("uPlot.min.css"), CSS: AssetURL("ui.css"), Uplot: AssetURL("uPlot.iife.min.js"),
		Chart: AssetURL("chart.js"), Status: AssetURL("status.js"), StatusURL: statusURL,
	})
	if err != nil {
		panic("statusui: render page: " + err.Error()) // the template is constant and writes to memory
	}
	return &webpage.Handler{Path: PagePath, Assets: embedded(), Page: webpage.NewAsset(page.Bytes(), "text/html; charset=utf-8"),
		Header: http.Header{"Cache-Control": {"no-cache"}, "Content-Security-Policy": {ContentSecurityPolicy}}}
}

// AssetURL returns the URL of an embedded file, versioned by its content,
// for any page that reuses them once Handler is mounted (ui.css,
// chart.js, uPlot.iife.min.js, uPlot.min.css); "" for an unknown file.
func AssetURL(name string) string { return embedded().URL(name) }
