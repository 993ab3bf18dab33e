// Package docsui serves an interactive reference page for the OpenAPI
// document, rendered by Swagger UI. Every file the page loads is embedded in
// the binary, so /docs works on a machine without internet access (huma's
// own DocsPath page loads its renderer from a CDN; disable it with
// cfg.DocsPath = "").
//
// The files in assets/ come unmodified from the npm package swagger-ui-dist;
// its exact version is in assets/VERSION. To upgrade, run
// `npm pack swagger-ui-dist@5`, untar it, copy swagger-ui-bundle.js,
// swagger-ui-bundle.js.LICENSE.txt, swagger-ui.css, LICENSE and NOTICE into
// assets/ and update assets/VERSION. assets/init.js is ours.
package docsui

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
)

const (
	// PagePath is the path of the HTML page.
	PagePath = "/docs"
	// AssetsPrefix is the path prefix under which the embedded files are
	// served, as AssetsPrefix + file name.
	AssetsPrefix = "/docs/assets/"
)

// contentSecurityPolicy allows the page to load only what this package serves
// and to call only its own origin (the spec and "Try it out" requests).
// Swagger UI's icons are data: images. It sets styles only through the DOM,
// which CSP does not restrict, so style-src needs no 'unsafe-inline'; the
// browser test fails on any violation.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; " +
	"frame-ancestors 'none'"

//go:embed assets
var assetsFS embed.FS

var pageTemplate = template.Must(template.New("docs").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>OctoStore API reference</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="{{.CSS}}">
</head>
<body>
<div id="docs" data-spec-url="{{.SpecURL}}"></div>
<script src="{{.Bundle}}"></script>
<script src="{{.Init}}"></script>
</body>
</html>
`))

type asset struct {
	body        []byte
	contentType string
	etag        string
}

type handler struct {
	page   asset
	assets map[string]asset
}

// Handler returns the handler for the docs page and its assets. specURL is
// the URL of the OpenAPI document the page renders, usually "/openapi.json";
// it must be on the same origin, because the page's Content-Security-Policy
// only lets it connect to its own origin.
//
// Register it on an http.ServeMux under exactly these two patterns:
//
//	mux.Handle("GET "+docsui.PagePath, h)     // "GET /docs"
//	mux.Handle("GET "+docsui.AssetsPrefix, h) // "GET /docs/assets/"
//
// GET patterns also match HEAD. The handler answers:
//   - PagePath: the HTML page, with Cache-Control: no-cache and an ETag;
//   - AssetsPrefix + name: the embedded file with its Content-Type and
//     Cache-Control: public, max-age=31536000, immutable. The page adds a
//     ?v=<content hash> query to each asset URL so that a new version is
//     fetched despite the long cache lifetime;
//   - any other path, or an unknown asset: 404; a method other than GET or
//     HEAD: 405.
func Handler(specURL string) http.Handler {
	h := &handler{assets: make(map[string]asset)}
	entries, err := assetsFS.ReadDir("assets")
	if err != nil {
		panic("docsui: read embedded assets: " + err.Error()) // cannot happen: go:embed checked it at build time
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := fs.ReadFile(assetsFS, "assets/"+e.Name())
		if err != nil {
			panic("docsui: read embedded asset: " + err.Error())
		}
		h.assets[e.Name()] = newAsset(body, contentType(e.Name()))
	}

	var page bytes.Buffer
	err = pageTemplate.Execute(&page, struct{ CSS, Bundle, Init, SpecURL string }{
		CSS:     h.assetURL("swagger-ui.css"),
		Bundle:  h.assetURL("swagger-ui-bundle.js"),
		Init:    h.assetURL("init.js"),
		SpecURL: specURL,
	})
	if err != nil {
		panic("docsui: render page: " + err.Error()) // the template is constant and writes to memory
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
	default: // LICENSE, NOTICE, VERSION, *.txt
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
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("Content-Security-Policy", contentSecurityPolicy)
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
