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
	"embed"
	"html/template"
	"net/http"

	"github.com/octostore/octostore/adapters/httpapi/webpage"
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
	assets := webpage.LoadAssets(assetsFS, "assets", AssetsPrefix)
	var page bytes.Buffer
	err := pageTemplate.Execute(&page, struct{ CSS, Bundle, Init, SpecURL string }{
		CSS:     assets.URL("swagger-ui.css"),
		Bundle:  assets.URL("swagger-ui-bundle.js"),
		Init:    assets.URL("init.js"),
		SpecURL: specURL,
	})
	if err != nil {
		panic("docsui: render page: " + err.Error()) // the template is constant and writes to memory
	}
	return &webpage.Handler{Path: PagePath, Assets: assets, Page: webpage.NewAsset(page.Bytes(), "text/html; charset=utf-8"),
		Header: http.Header{"Cache-Control": {"no-cache"}, "Content-Security-Policy": {contentSecurityPolicy}}}
}
