package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/octostore/octostore/adapters/httpapi"
)

// This file checks responses against the OpenAPI document the server
// serves at /openapi.json: each status must be documented for its
// operation, with the documented media type, and each body must validate
// against the documented schema. A small validator covers the JSON Schema
// that huma generates ($ref, type, properties, required,
// additionalProperties, items, enum, date-time, bounds, lengths).

// spec is the OpenAPI document.
type spec struct {
	ops     []operation
	schemas map[string]any
}

// operation is one documented method of one path template.
type operation struct {
	id, method, path string
	// responses maps each documented status to its media types and their
	// schemas; a response without content has no media types.
	responses map[string]map[string]map[string]any
}

// fetchSpec reads /openapi.json from h, outside the record of responses.
func fetchSpec(h http.Handler) (*spec, error) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		return nil, fmt.Errorf("GET /openapi.json: %d", rec.Code)
	}
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode spec: %w", err)
	}
	s := &spec{schemas: doc.Components.Schemas}
	for path, item := range doc.Paths {
		for method, raw := range item {
			var op struct {
				OperationID string `json:"operationId"`
				Responses   map[string]struct {
					Content map[string]struct {
						Schema map[string]any `json:"schema"`
					} `json:"content"`
				} `json:"responses"`
			}
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.UseNumber()
			if err := dec.Decode(&op); err != nil {
				return nil, fmt.Errorf("%s %s: %w", method, path, err)
			}
			o := operation{id: op.OperationID, method: strings.ToUpper(method), path: path,
				responses: map[string]map[string]map[string]any{}}
			for status, res := range op.Responses {
				types := map[string]map[string]any{}
				for mt, c := range res.Content {
					types[mt] = c.Schema
				}
				o.responses[status] = types
			}
			s.ops = append(s.ops, o)
		}
	}
	slices.SortFunc(s.ops, func(a, b operation) int { return strings.Compare(a.id, b.id) })
	return s, nil
}

// matchTemplate reports whether an escaped path matches a path template,
// where {x} stands for one non-empty segment.
func matchTemplate(tmpl, path string) bool {
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return false
	}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") {
			if ps[i] == "" {
				return false
			}
		} else if ts[i] != ps[i] {
			return false
		}
	}
	return true
}

// servedOutsideSpec are the routes that are not API operations.
func servedOutsideSpec(path string) bool {
	return path == "/openapi.json" || path == "/openapi.yaml" || path == "/docs" || strings.HasPrefix(path, "/docs/") ||
		path == "/" || strings.HasPrefix(path, "/ui/")
}

// check returns what is wrong with r according to the spec, and the
// operation it answered ("" for none).
func (s *spec) check(r *response) (string, error) {
	if r.err != nil {
		return "", r.err
	}
	if r.header.Get("X-Request-Id") == "" {
		return "", fmt.Errorf("no X-Request-Id")
	}
	if servedOutsideSpec(r.path) {
		return "", nil
	}
	var known bool
	for _, op := range s.ops {
		if !matchTemplate(op.path, r.path) {
			continue
		}
		known = true
		if op.method != r.method {
			continue
		}
		types, ok := op.responses[strconv.Itoa(r.status)]
		if !ok {
			return op.id, fmt.Errorf("status %d is not documented for %s", r.status, op.id)
		}
		if len(types) == 0 {
			if len(r.raw) != 0 {
				return op.id, fmt.Errorf("a body where %s documents none", op.id)
			}
			return op.id, nil
		}
		schema, ok := types[r.mediaType()]
		if !ok {
			return op.id, fmt.Errorf("Content-Type %q, %s documents %v for %d", r.mediaType(), op.id, keys(types), r.status)
		}
		if r.mediaType() == "text/event-stream" {
			return op.id, s.validateStream(schema, r.raw)
		}
		if r.mediaType() == "text/plain" {
			if schema["type"] != "string" || !utf8.Valid(r.raw) {
				return op.id, fmt.Errorf("a text/plain body needs a string schema and UTF-8 text")
			}
			return op.id, nil
		}
		return op.id, s.validateBody(schema, r.raw)
	}
	// Not an operation: the router's own answers, still problems.
	want := http.StatusNotFound
	if known {
		want = http.StatusMethodNotAllowed
	}
	if r.status != want || r.mediaType() != httpapi.ProblemContentType {
		return "", fmt.Errorf("no such operation: want a %d problem", want)
	}
	return "", s.validateBody(map[string]any{"$ref": "#/components/schemas/Problem"}, r.raw)
}

func keys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

func (s *spec) validateBody(schema map[string]any, raw []byte) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if errs := s.validate(schema, v, "body"); len(errs) > 0 {
		return fmt.Errorf("body does not match its schema: %s", strings.Join(errs, "; "))
	}
	return nil
}

// validateStream checks a Server-Sent Events stream against its schema, an
// array whose items are oneOf the possible frames (huma's form): each
// complete frame must be one of them by its event name, have an id when
// that frame requires one, and carry data that validates. Comment lines
// (heartbeats) are fine anywhere; a frame cut off by the end of what was
// read is not checked.
func (s *spec) validateStream(schema map[string]any, raw []byte) error {
	schema = s.resolve(schema)
	items, _ := schema["items"].(map[string]any)
	alts, _ := items["oneOf"].([]any)
	frames := map[string]map[string]any{}
	for _, alt := range alts {
		f, _ := alt.(map[string]any)
		props, _ := f["properties"].(map[string]any)
		event, _ := props["event"].(map[string]any)
		for _, name := range schemaList(event["enum"]) {
			frames[name] = f
		}
	}
	if len(frames) == 0 {
		return fmt.Errorf("the stream's schema lists no frames")
	}
	blocks := strings.Split(string(raw), "\n\n")
	blocks = blocks[:len(blocks)-1] // the rest after the last empty line is incomplete
	var errs []string
	for i, block := range blocks {
		fields := map[string][]string{}
		for line := range strings.SplitSeq(strings.Trim(block, "\n"), "\n") {
			if strings.HasPrefix(line, ":") {
				continue
			}
			name, value, _ := strings.Cut(line, ":")
			fields[name] = append(fields[name], strings.TrimPrefix(value, " "))
		}
		if len(fields) == 0 {
			continue // comments only
		}
		at := fmt.Sprintf("frame %d", i)
		event := "message"
		if e := fields["event"]; len(e) > 0 {
			event = e[0]
		}
		f, ok := frames[event]
		if !ok {
			errs = append(errs, fmt.Sprintf("%s: event %q is not documented", at, event))
			continue
		}
		props, _ := f["properties"].(map[string]any)
		for name, values := range fields {
			if _, ok := props[name]; !ok || len(values) != 1 && name != "data" {
				errs = append(errs, fmt.Sprintf("%s: field %s %q is not in the schema", at, name, values))
			}
		}
		for _, name := range schemaList(f["required"]) {
			if _, ok := fields[name]; !ok {
				errs = append(errs, fmt.Sprintf("%s: %s: required", at, name))
			}
		}
		if id, ok := fields["id"]; ok {
			if _, err := strconv.ParseUint(id[0], 10, 64); err != nil {
				errs = append(errs, fmt.Sprintf("%s: id %q is not an integer", at, id[0]))
			}
		}
		if data, ok := fields["data"]; ok {
			dataSchema, _ := props["data"].(map[string]any)
			if err := s.validateBody(dataSchema, []byte(strings.Join(data, "\n"))); err != nil {
				errs = append(errs, fmt.Sprintf("%s (%s): %v", at, event, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("stream does not match its schema: %s", strings.Join(errs, "; "))
	}
	return nil
}

// resolve follows a schema's $ref, if it has one.
func (s *spec) resolve(schema map[string]any) map[string]any {
	if ref, ok := schema["$ref"].(string); ok {
		if target, ok := s.schemas[strings.TrimPrefix(ref, "#/components/schemas/")].(map[string]any); ok {
			return target
		}
	}
	return schema
}

// validate returns every way v breaks schema; at names v in messages.
func (s *spec) validate(schema map[string]any, v any, at string) []string {
	if ref, ok := schema["$ref"].(string); ok {
		name, found := strings.CutPrefix(ref, "#/components/schemas/")
		target, _ := s.schemas[name].(map[string]any)
		if !found || target == nil {
			return []string{at + ": unresolved " + ref}
		}
		return s.validate(target, v, at)
	}
	if types := schemaTypes(schema["type"]); len(types) > 0 && !slices.Contains(types, jsonType(v)) &&
		!(jsonType(v) == "integer" && slices.Contains(types, "number")) {
		return []string{fmt.Sprintf("%s: %s, want %v", at, jsonType(v), types)}
	}
	var errs []string
	if enum, ok := schema["enum"].([]any); ok && !slices.ContainsFunc(enum, func(e any) bool { return fmt.Sprint(e) == fmt.Sprint(v) }) {
		errs = append(errs, fmt.Sprintf("%s: %v is not one of %v", at, v, enum))
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range schemaList(schema["required"]) {
			if _, ok := v[k]; !ok {
				errs = append(errs, at+"."+k+": required")
			}
		}
		props, _ := schema["properties"].(map[string]any)
		for k, fv := range v {
			ps, ok := props[k].(map[string]any)
			if !ok {
				if schema["additionalProperties"] == false {
					errs = append(errs, at+"."+k+": not in the schema")
				}
				continue
			}
			errs = append(errs, s.validate(ps, fv, at+"."+k)...)
		}
	case []any:
		if items, ok := schema["items"].(map[string]any); ok {
			for i, e := range v {
				errs = append(errs, s.validate(items, e, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case string:
		if schema["format"] == "date-time" {
			// Every time leaves the server in one format: UTC, three
			// digits of milliseconds.
			if tm, err := time.Parse(wireFormat, v); err != nil || tm.Format(wireFormat) != v {
				errs = append(errs, at+": not a date-time in UTC with three digits of milliseconds: "+v)
			}
		}
		n := utf8.RuneCountInString(v)
		if lo, ok := bound(schema["minLength"]); ok && float64(n) < lo {
			errs = append(errs, fmt.Sprintf("%s: shorter than %v", at, lo))
		}
		if hi, ok := bound(schema["maxLength"]); ok && float64(n) > hi {
			errs = append(errs, fmt.Sprintf("%s: longer than %v", at, hi))
		}
	case json.Number:
		f, _ := v.Float64()
		if lo, ok := bound(schema["minimum"]); ok && f < lo {
			errs = append(errs, fmt.Sprintf("%s: %v < %v", at, v, lo))
		}
		if hi, ok := bound(schema["maximum"]); ok && f > hi {
			errs = append(errs, fmt.Sprintf("%s: %v > %v", at, v, hi))
		}
	}
	return errs
}

// jsonType is the JSON Schema type of a decoded value.
func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return "integer"
		}
		if _, err := strconv.ParseUint(v.String(), 10, 64); err == nil {
			return "integer"
		}
		return "number"
	}
	return fmt.Sprintf("%T", v)
}

// schemaTypes reads "type", a string or a list of strings.
func schemaTypes(v any) []string {
	if s, ok := v.(string); ok {
		return []string{s}
	}
	return schemaList(v)
}

func schemaList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func bound(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// conform checks every response a has given against the spec it serves,
// and records which documented responses the suite has exercised.
func (a *api) conform(t *testing.T) {
	t.Helper()
	s, err := fetchSpec(a.handler)
	if err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	seen := slices.Clone(a.seen)
	a.mu.Unlock()
	for _, r := range seen {
		op, err := s.check(r)
		if err != nil {
			t.Errorf("spec: %v: %v", r, err)
			continue
		}
		if op != "" {
			exercised.Store(op+" "+strconv.Itoa(r.status), true)
		}
	}
}

// TestSpecCheckFails shows that the spec check catches what it is for: an
// undocumented status, a media type other than the documented one, and a
// body off its schema.
func TestSpecCheckFails(t *testing.T) {
	s, err := fetchSpec(httpapi.New(httpapi.Config{}, httpapi.Services{}).Handler())
	if err != nil {
		t.Fatal(err)
	}
	res := func(method, path string, status int, ctype, body string) *response {
		return &response{method: method, path: path, status: status, raw: []byte(body),
			header: http.Header{"Content-Type": {ctype}, "X-Request-Id": {"r"}}}
	}
	const info = `{"name":"x","status":"free","waiters":0}`
	if _, err := s.check(res(http.MethodGet, "/locks/x", 200, "application/json", info)); err != nil {
		t.Fatalf("a good response fails the check: %v", err)
	}
	const snapshot = "id: 7\nevent: snapshot\ndata: {\"seq\":7,\"locks\":[]}\n\n: heartbeat\n\n"
	const acquired = "id: 8\nevent: lock.acquired\ndata: {\"seq\":8,\"type\":\"lock.acquired\",\"name\":\"x\",\"fencing_token\":1,\"holder\":\"acme/alice\",\"at\":\"2026-11-26T10:00:30.123Z\"}\n\n"
	if _, err := s.check(res(http.MethodGet, "/watch", 200, "text/event-stream", snapshot+acquired+"event: reset\ndata: {\"message\":\"m\"}\n\nid: 9\nevent: lock.rel")); err != nil {
		t.Fatalf("a good stream fails the check: %v", err)
	}
	for name, r := range map[string]*response{
		"undocumented status":       res(http.MethodGet, "/locks/x", 409, httpapi.ProblemContentType, `{"title":"Conflict","status":409,"code":"lock_held"}`),
		"wrong media type":          res(http.MethodGet, "/locks/x", 200, "text/plain", info),
		"unknown key":               res(http.MethodGet, "/locks/x", 200, "application/json", `{"name":"x","status":"free","waiters":0,"lease_id":"L1"}`),
		"missing required key":      res(http.MethodGet, "/locks/x", 200, "application/json", `{"name":"x","status":"free"}`),
		"wrong type":                res(http.MethodGet, "/locks/x", 200, "application/json", `{"name":"x","status":"free","waiters":"0"}`),
		"not in the enum":           res(http.MethodGet, "/locks/x", 200, "application/json", `{"name":"x","status":"gone","waiters":0}`),
		"not a date-time":           res(http.MethodGet, "/locks/x", 200, "application/json", `{"name":"x","status":"held","waiters":0,"expires_at":"soon"}`),
		"below the minimum":         res(http.MethodPost, "/locks/x/validate", 200, "application/json", `{"valid":false,"current_token":-1}`),
		"a body for 204":            res(http.MethodDelete, "/sessions/s", 204, "application/json", `{}`),
		"a problem off schema":      res(http.MethodGet, "/locks/x", 422, httpapi.ProblemContentType, `{"title":"x","status":422}`),
		"not a problem on 404":      res(http.MethodGet, "/nope", 404, "application/json", `{}`),
		"no X-Request-Id":           {method: http.MethodGet, path: "/health", status: 200, raw: []byte(`{"status":"ok","version":"v","db":"ok"}`), header: http.Header{"Content-Type": {"application/json"}}},
		"a 200 on a wrong route":    res(http.MethodDelete, "/health", 200, "application/json", `{}`),
		"a stream's unknown event":  res(http.MethodGet, "/watch", 200, "text/event-stream", snapshot+"id: 9\nevent: lock.stolen\ndata: {}\n\n"),
		"a stream frame without id": res(http.MethodGet, "/watch", 200, "text/event-stream", "event: snapshot\ndata: {\"seq\":7,\"locks\":[]}\n\n"),
		"a stream frame off schema": res(http.MethodGet, "/watch", 200, "text/event-stream", "id: 7\nevent: snapshot\ndata: {\"seq\":7,\"locks\":[],\"lease_id\":\"L1\"}\n\n"),
		"a stream of JSON":          res(http.MethodGet, "/watch", 200, "application/json", `{}`),
	} {
		if _, err := s.check(r); err == nil {
			t.Errorf("%s: the check passes %v", name, r)
		}
	}
}
