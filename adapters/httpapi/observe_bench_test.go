package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/octostore/octostore/adapters/clock"
	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/adapters/metrics"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// BenchmarkRequestMetrics measures what the request metrics add to a
// request: the same cheap read (GET /locks/{name} of a free lock, which
// also counts in the status page's window) through the whole handler,
// with and without a RequestObserver. Compare allocs/op of the two
// sub-benchmarks (-benchmem): the observer resolves its series once per
// route, method and status and must add none.
func BenchmarkRequestMetrics(b *testing.B) {
	for _, c := range []struct {
		name string
		obs  bool
	}{{"without", false}, {"with", true}} {
		b.Run(c.name, func(b *testing.B) {
			e := application.NewEngine(memstore.New(), clock.System{}, application.EngineConfig{})
			if err := e.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = e.Stop(context.Background()) })
			cfg := httpapi.Config{Version: "bench"}
			if c.obs {
				m := metrics.New(metrics.Config{Version: "bench"})
				cfg.Metrics, cfg.Requests = m.Handler(), m
			}
			creds := []domain.Credential{{Hash: domain.HashToken(aliceToken), Principal: domain.Principal{Org: "acme", User: "alice"}}}
			h := httpapi.New(cfg, httpapi.Services{Locks: application.NewLockService(e, 0), Sessions: application.NewSessionService(e),
				Auth: application.NewAuthService(e, creds), Engine: e}).Handler()
			r := httptest.NewRequest(http.MethodGet, "/locks/bench%2Fx", nil)
			r.Header.Set("Authorization", "Bearer "+aliceToken)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
