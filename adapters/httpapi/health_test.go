package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/application"
)

type pinger func(context.Context) error

func (p pinger) Ping(ctx context.Context) error { return p(ctx) }

func (p pinger) Stats() application.Stats { return application.Stats{} }

func (p pinger) Health() application.Health { return application.Health{} }

func (p pinger) Gauges() application.Gauges { return application.Gauges{} }

func (p pinger) Ready() bool { return true }

func TestHealthReportsDatabase(t *testing.T) {
	cases := []struct {
		name   string
		ping   error
		status int
		code   string
	}{
		{"ok", nil, http.StatusOK, ""},
		{"database unreadable", errors.New("disk I/O error: secret path /var/x"), http.StatusServiceUnavailable, "db_unavailable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := httpapi.New(httpapi.Config{Version: "v-test"}, httpapi.Services{Engine: pinger(func(context.Context) error { return c.ping })})
			rec := httptest.NewRecorder()
			s.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
			if rec.Code != c.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, c.status, rec.Body)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatal(err)
			}
			if c.code == "" {
				if body["status"] != "ok" || body["db"] != "ok" || body["version"] != "v-test" {
					t.Fatalf("body %v", body)
				}
				return
			}
			if body["code"] != c.code || rec.Header().Get("Content-Type") != httpapi.ProblemContentType {
				t.Fatalf("body %v, content type %q", body, rec.Header().Get("Content-Type"))
			}
			if got := rec.Body.String(); strings.Contains(got, "secret") {
				t.Fatalf("internal cause leaked: %s", got)
			}
		})
	}
}
