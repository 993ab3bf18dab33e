// Package webpage serves an HTML page and the files it loads, embedded in
// the binary: the page with its Content-Security-Policy and never cached
// stale, each file under a prefix with a content-hash ETag, cached for a
// year (pages name files with ?v=<hash>, so a new build is a new URL).
// The docs, status and admin pages are built on it.
package webpage

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Asset is one file as served: its bytes, type and validator.
type Asset struct {
	body        []byte
	contentType string
	etag        string
}

// NewAsset returns body served as contentType, with an ETag of its hash.
func NewAsset(body []byte, contentType string) Asset {
	sum := sha256.Sum256(body)
	return Asset{body: body, contentType: contentType, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Assets are the files of one directory, served under a path prefix.
type Assets struct {
	prefix string
	files  map[string]Asset
}

// LoadAssets reads every file of dir in fsys (an embed.FS: reading cannot
// fail at run time, so an error panics) to serve under prefix, which ends
// with '/'.
func LoadAssets(fsys fs.FS, dir, prefix string) *Assets {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		panic("webpage: read embedded assets: " + err.Error())
	}
	a := &Assets{prefix: prefix, files: make(map[string]Asset, len(entries))}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		body, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			panic("webpage: read embedded asset: " + err.Error())
		}
		a.files[e.Name()] = NewAsset(body, contentType(e.Name()))
	}
	return a
}

// Prefix is the path prefix the files are served under.
func (a *Assets) Prefix() string { return a.prefix }

// URL returns the URL of a file, versioned by its content; "" for a file
// that is not there.
func (a *Assets) URL(name string) string {
	f, ok := a.files[name]
	if !ok {
		return ""
	}
	return a.prefix + name + "?v=" + strings.Trim(f.etag, `"`)
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

// Handler serves a page at Path and its Assets.
type Handler struct {
	Path   string
	Page   Asset
	Assets *Assets
	// Header is set on the page's answers (Cache-Control,
	// Content-Security-Policy, …).
	Header http.Header
}

// ServeHTTP answers Path with the page, the assets' prefix plus a name
// with that file, any other path with 404 and a method other than GET or
// HEAD with 405.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, http.StatusText(http.StatusMethodNotAllowed), http.StatusMethodNotAllowed)
		return
	}
	switch p := r.URL.Path; {
	case p == h.Path:
		for k, vs := range h.Header {
			w.Header()[k] = vs
		}
		serve(w, r, h.Page)
	case strings.HasPrefix(p, h.Assets.prefix):
		a, ok := h.Assets.files[strings.TrimPrefix(p, h.Assets.prefix)]
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
func serve(w http.ResponseWriter, r *http.Request, a Asset) {
	w.Header().Set("Content-Type", a.contentType)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("ETag", a.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.body))
}
