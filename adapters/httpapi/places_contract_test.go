package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// validBodies are bodies that pass each route's schema.
var validBodies = map[string]any{
	"/locks/{name}/release":   map[string]any{"lease_id": "L1-0011223344556677"},
	"/locks/{name}/renew":     map[string]any{"lease_id": "L1-0011223344556677"},
	"/locks/{name}/validate":  map[string]any{"fencing_token": 1},
	"/webhooks":               map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}},
	"/admin/orgs":             map[string]any{"org": "initech"},
	"/admin/orgs/{org}/users": map[string]any{"user": "dave"},
	"/auth/exchange":          map[string]any{"code": "x"},
	"/config/{key}":           map[string]any{"value": 1},
	"/flags/{name}":           map[string]any{"enabled": true},
	"/flags/evaluate":         map[string]any{"subject": "u", "flags": []string{"x"}},
	"/limits/{name}/check":    map[string]any{"limit": 1, "window_seconds": 1},
	"/teams/{team}":           map[string]any{"members": []string{"bob"}},
}

// specOperation is an operation of the served OpenAPI document.
type specOperation struct {
	Security *[]map[string][]string `json:"security"`
}

// public reports whether the operation needs no token.
func (o specOperation) public() bool { return o.Security != nil && len(*o.Security) == 0 }

// servedOperations returns the operations of the OpenAPI document a
// serves, by path and lower-case method.
func servedOperations(t *testing.T, a *api) map[string]map[string]specOperation {
	t.Helper()
	rec := httptest.NewRecorder()
	a.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	var doc struct {
		Paths map[string]map[string]specOperation `json:"paths"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc.Paths
}

// TestEveryRouteKeepsItsPlace walks every operation of the served OpenAPI
// document, so that a new route cannot forget the rule: the admin routes
// refuse a tenant token (403 admin_only) and every other route that needs
// a token refuses the admin token as a tenant (403 admin_not_tenant) —
// except token rotation, which anyone with a stored token may do.
func TestEveryRouteKeepsItsPlace(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	fill := strings.NewReplacer("{name}", "x", "{id}", "s_0011223344556677", "{org}", "acme", "{user}", "dave",
		"{token_id}", "tok_0011223344556677", "{team}", "dba", "{prefix}", "x", "{key}", "x")
	checked := 0
	for path, ops := range servedOperations(t, a) {
		for method, op := range ops {
			if op.public() {
				continue
			}
			r := request{method: strings.ToUpper(method), path: fill.Replace(path)}
			if r.method == http.MethodPost || r.method == http.MethodPut {
				r.body = validBodies[path] // passes the schema, so the token decides
				if r.body == nil {
					r.body = map[string]any{}
				}
			}
			switch {
			case strings.HasPrefix(path, "/admin/") || path == "/metrics":
				r.token = aliceTok
				a.send(r).problem(t, http.StatusForbidden, "admin_only")
			case path == "/auth/token/rotate":
				r.token = adminTok
				a.send(r).problem(t, http.StatusConflict, "static_token")
			default:
				r.token = adminTok
				a.send(r).problem(t, http.StatusForbidden, "admin_not_tenant")
			}
			checked++
		}
	}
	if checked < 25 {
		t.Fatalf("checked %d operations; the spec walk is off", checked)
	}
}
