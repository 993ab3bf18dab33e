package httpapi

import (
	"testing"
	"time"
)

func TestRequestWindow(t *testing.T) {
	var w requestWindow
	start := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	// 100 requests in the first minute: 98 of 1 ms (the bucket 0.75..1 ms),
	// 2 of 40 ms (30..50 ms).
	for i := range 100 {
		took := time.Millisecond
		if i < 2 {
			took = 40 * time.Millisecond
		}
		w.record(start.Add(time.Duration(i)*100*time.Millisecond), took)
	}
	hist, rps, p99 := w.snapshot(start.Add(30 * time.Second))
	if len(hist) != windowMinutes+1 || !hist[windowMinutes].start.Equal(start) || hist[windowMinutes].requests != 100 {
		t.Fatalf("current minute %+v of %d", hist[len(hist)-1], len(hist))
	}
	if rps != 100.0/60 {
		t.Errorf("rps %v, want 100/60", rps)
	}
	// rank 99 of 100 falls in the 30..50 ms bucket, at its first half.
	if p99 != 40 {
		t.Errorf("p99 %v ms, want 40", p99)
	}
	// Half into the next minute, the previous one counts half.
	_, rps, _ = w.snapshot(start.Add(90 * time.Second))
	if rps != 50.0/60 {
		t.Errorf("rps %v, want 50/60", rps)
	}
	// 61 minutes on, the bucket is reused and starts empty.
	w.record(start.Add(61*time.Minute), 5*time.Millisecond)
	hist, _, p99 = w.snapshot(start.Add(61 * time.Minute))
	if hist[windowMinutes].requests != 1 || p99 != 4.99 { // in the 4..5 ms bucket
		t.Errorf("after the ring turned: %+v, p99 %v", hist[windowMinutes], p99)
	}
	for _, m := range hist[:windowMinutes] {
		if m.requests != 0 {
			t.Errorf("minute %v kept %d requests", m.start, m.requests)
		}
	}
	if n := testing.AllocsPerRun(1000, func() { w.record(start.Add(61*time.Minute), time.Millisecond) }); n != 0 {
		t.Errorf("record allocates %v times per call", n)
	}
}

func TestQuantileEmptyAndOverflow(t *testing.T) {
	var c [len(latencyBoundsMS) + 1]uint64
	if q := quantile(c, 0.99); q != 0 {
		t.Errorf("empty: %v", q)
	}
	c[len(c)-1] = 10 // all beyond the last bound
	if q := quantile(c, 0.99); q != latencyBoundsMS[len(latencyBoundsMS)-1] {
		t.Errorf("overflow: %v", q)
	}
}

func TestRouteLookup(t *testing.T) {
	s := New(Config{}, Services{})
	for pattern, want := range map[string]struct {
		route    string
		windowed bool
	}{
		"POST /locks/{name}/acquire": {"/locks/{name}/acquire", true},
		"GET /locks/{name}/watch":    {"/locks/{name}/watch", false},
		"GET /health":                {"/health", false},
		"GET /metrics":               {"/metrics", false},
		"GET /docs/assets/":          {"/docs/assets/", false},
		"/":                          {unmatchedRoute, false},
		"":                           {unmatchedRoute, false},
	} {
		route, windowed := s.routes.lookup(pattern)
		if route != want.route || windowed != want.windowed {
			t.Errorf("%q: %q %v, want %q %v", pattern, route, windowed, want.route, want.windowed)
		}
	}
	if n := testing.AllocsPerRun(100, func() { s.routes.lookup("GET /docs/assets/") }); n != 0 {
		t.Errorf("lookup allocates %v times", n)
	}
}
