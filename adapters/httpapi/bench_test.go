package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkAcquire measures the hot path through the whole handler: edge
// middleware, routing, authentication, body decoding and validation, and an
// acquire that re-grants the client its own lock (committed to memory).
func BenchmarkAcquire(b *testing.B) {
	s := newServer(b, nil)
	h := s.Handler()
	const body = `{"ttl_seconds":30,"metadata":"host-a:5432","owner":"bench"}` // the same client each time
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodPost, "/locks/bench%2Fleader/acquire", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+aliceToken)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
