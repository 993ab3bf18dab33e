package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/httpapi"
)

// wireFormat is the one format of times on the wire (UTC, three digits of
// milliseconds), as the README promises.
const wireFormat = "2006-01-02T15:04:05.000Z07:00"

// The assertions a test makes on one response. Each returns the response
// for further checks.

// mediaType is the Content-Type of r without parameters.
func (r *response) mediaType() string {
	mt, _, _ := strings.Cut(r.header.Get("Content-Type"), ";")
	return strings.TrimSpace(mt)
}

func (r *response) String() string {
	return fmt.Sprintf("%s %s -> %d %s", r.method, r.path, r.status, bytes.TrimSpace(r.raw))
}

// ok fails the test unless r has status want and a JSON body.
func (r *response) ok(t *testing.T, want int) *response {
	t.Helper()
	if r.status != want {
		t.Fatalf("%v: want %d", r, want)
	}
	if r.mediaType() != "application/json" || r.obj == nil {
		t.Fatalf("%v: Content-Type %q, want a JSON object", r, r.header.Get("Content-Type"))
	}
	return r
}

// problem fails the test unless r is a problem+json document with status
// and code whose title, instance and request_id are those of the request.
func (r *response) problem(t *testing.T, status int, code string) *response {
	t.Helper()
	if r.status != status || r.str("code") != code {
		t.Fatalf("%v: want %d %s", r, status, code)
	}
	if r.mediaType() != httpapi.ProblemContentType || r.obj == nil {
		t.Fatalf("%v: Content-Type %q, want a problem document", r, r.header.Get("Content-Type"))
	}
	if n, _ := r.obj["status"].(json.Number); n.String() != strconv.Itoa(status) {
		t.Errorf("%v: body status %v", r, r.obj["status"])
	}
	if r.str("title") != http.StatusText(status) {
		t.Errorf("%v: title %q, want %q", r, r.str("title"), http.StatusText(status))
	}
	// A response read off a connection does not know its request; and
	// net/http's own refusals come before any request id exists.
	if r.path != "" && (r.str("instance") != r.path ||
		r.str("request_id") == "" || r.str("request_id") != r.header.Get("X-Request-Id")) {
		t.Errorf("%v: want title %q, instance %q and the X-Request-Id %q", r, http.StatusText(status), r.path, r.header.Get("X-Request-Id"))
	}
	return r
}

// at fails the test unless errors[] names loc (and, for a problem the
// server raised itself rather than the schema check, only loc).
func (r *response) at(t *testing.T, loc string) *response {
	t.Helper()
	locs := r.locations()
	if !slices.Contains(locs, loc) || (r.str("code") != "validation_failed" && len(locs) != 1) {
		t.Errorf("%v: errors[].location %q, want %q", r, locs, loc)
	}
	for _, e := range r.fieldErrors() {
		if e["message"] == "" {
			t.Errorf("%v: a field error without message", r)
		}
	}
	return r
}

// nowhere fails the test if the problem names a field: only errors about
// the input carry errors[].
func (r *response) nowhere(t *testing.T) *response {
	t.Helper()
	if _, ok := r.obj["errors"]; ok {
		t.Errorf("%v: a problem that is not about a field has errors[]", r)
	}
	return r
}

func (r *response) fieldErrors() []map[string]any {
	var out []map[string]any
	errs, _ := r.obj["errors"].([]any)
	for _, e := range errs {
		m, _ := e.(map[string]any)
		out = append(out, m)
	}
	return out
}

// locations returns every errors[].location.
func (r *response) locations() []string {
	var out []string
	for _, e := range r.fieldErrors() {
		loc, _ := e["location"].(string)
		out = append(out, loc)
	}
	return out
}

// keys fails the test unless the body has exactly the keys want.
func (r *response) keys(t *testing.T, want ...string) *response {
	t.Helper()
	got := make([]string, 0, len(r.obj))
	for k := range r.obj {
		got = append(got, k)
	}
	slices.Sort(got)
	want = slices.Sorted(slices.Values(want))
	if !slices.Equal(got, want) {
		t.Errorf("%v: keys %v, want %v", r, got, want)
	}
	return r
}

// str returns the string field key, or "".
func (r *response) str(key string) string {
	s, _ := r.obj[key].(string)
	return s
}

// num returns the unsigned integer field key.
func (r *response) num(t *testing.T, key string) uint64 {
	t.Helper()
	n, ok := r.obj[key].(json.Number)
	if !ok {
		t.Fatalf("%v: %q is not a number", r, key)
	}
	v, err := strconv.ParseUint(n.String(), 10, 64)
	if err != nil {
		t.Fatalf("%v: %q: %v", r, key, err)
	}
	return v
}

// time returns the RFC 3339 time field key.
func (r *response) time(t *testing.T, key string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, r.str(key))
	if err != nil {
		t.Fatalf("%v: %q: %v", r, key, err)
	}
	return v
}

// retryAfter returns the Retry-After header in seconds, or -1.
func (r *response) retryAfter() int {
	n, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil {
		return -1
	}
	return n
}
