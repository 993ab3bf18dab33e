package httpapi

import (
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// RequestObserver is told about every answered request, for metrics. route
// is the mux's route pattern without its method ("/locks/{name}/acquire",
// or "unmatched"), method one of a fixed set ("other" for the rest), never
// a raw value from the request line. It is called on the request's
// goroutine after the answer, so it must be fast and safe for concurrent
// use.
type RequestObserver interface {
	ObserveRequest(route, method string, status int, took time.Duration)
}

// unmatchedRoute labels a request no route pattern matched (404 and 405
// from the fallback, and paths refused before routing).
const unmatchedRoute = "unmatched"

// routeInfo is what the edge knows of an operation's route pattern,
// resolved once when the routes are registered.
type routeInfo struct {
	route string // the pattern without its method
	// windowed requests count on the status page: API operations, but not
	// watch streams (their duration is the stream's life) nor the
	// operations routes (health, status, metrics).
	windowed bool
}

// routeTable maps the patterns of the huma operations (as
// http.Request.Pattern reports them) to their routeInfo; it is built once
// and only read afterwards.
type routeTable map[string]routeInfo

// lookup returns the route label of a request's pattern and whether the
// request counts on the status page, without allocating. A plain pattern
// (the docs and the status page) is labelled by its path; the fallback
// and a request refused before routing are "unmatched". Patterns are the
// mux's own strings, so the labels are bounded.
func (t routeTable) lookup(pattern string) (string, bool) {
	if ri, ok := t[pattern]; ok {
		return ri.route, ri.windowed
	}
	if pattern == "" || pattern == "/" {
		return unmatchedRoute, false
	}
	if _, route, ok := strings.Cut(pattern, " "); ok {
		return route, false
	}
	return pattern, false
}

// buildRoutes resolves every huma operation's pattern.
func (s *Server) buildRoutes() routeTable {
	t := routeTable{}
	for path, item := range s.api.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPut: item.Put,
			http.MethodPost: item.Post, http.MethodPatch: item.Patch, http.MethodDelete: item.Delete} {
			if op == nil {
				continue
			}
			stream := false
			if res := op.Responses["200"]; res != nil && res.Content["text/event-stream"] != nil {
				stream = true
			}
			t[method+" "+path] = routeInfo{route: path, windowed: !stream && !slices.Contains(op.Tags, "operations")}
		}
	}
	return t
}

// methodLabel bounds the method to the ones the API knows.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet:
		return http.MethodGet
	case http.MethodHead:
		return http.MethodHead
	case http.MethodPost:
		return http.MethodPost
	case http.MethodPut:
		return http.MethodPut
	case http.MethodPatch:
		return http.MethodPatch
	case http.MethodDelete:
		return http.MethodDelete
	case http.MethodOptions:
		return http.MethodOptions
	}
	return "other"
}

// The status page's record of the last hour: a ring of per-minute
// buckets, each a fixed latency histogram, so that recording a request is
// two atomic adds and a short search, and a p99 is read from the counts.

// windowMinutes is how many whole minutes the status page shows, besides
// the current one.
const windowMinutes = 60

// latencyBoundsMS are the upper bounds of the window's latency buckets,
// in milliseconds; a last bucket takes the rest.
var latencyBoundsMS = [...]float64{0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5, 7.5, 10, 15, 20, 30, 50, 75, 100,
	150, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000}

// latencyBoundsNS are latencyBoundsMS as durations, for the request path.
var latencyBoundsNS = func() (b [len(latencyBoundsMS)]time.Duration) {
	for i, ms := range latencyBoundsMS {
		b[i] = time.Duration(ms * float64(time.Millisecond))
	}
	return b
}()

type minuteBucket struct {
	minute atomic.Int64 // Unix minute + 1; 0 for a bucket never used
	counts [len(latencyBoundsMS) + 1]atomic.Uint64
}

// requestWindow is the ring; its zero value is ready to use.
type requestWindow struct {
	mu   sync.Mutex // serializes the reuse of a bucket for a new minute
	ring [windowMinutes + 1]minuteBucket
}

// record counts one request answered at now that took took.
func (w *requestWindow) record(now time.Time, took time.Duration) {
	m := now.Unix() / 60
	b := w.bucket(m)
	i, _ := slices.BinarySearch(latencyBoundsNS[:], took)
	b.counts[i].Add(1)
}

// bucket returns minute m's bucket, emptying it first if it last held an
// older minute.
func (w *requestWindow) bucket(m int64) *minuteBucket {
	b := &w.ring[m%int64(len(w.ring))]
	if b.minute.Load() == m+1 {
		return b
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if b.minute.Load() != m+1 {
		for i := range b.counts {
			b.counts[i].Store(0)
		}
		b.minute.Store(m + 1)
	}
	return b
}

// counts returns minute m's histogram (zeros when the ring does not hold it).
func (w *requestWindow) counts(m int64) (c [len(latencyBoundsMS) + 1]uint64) {
	b := &w.ring[m%int64(len(w.ring))]
	if b.minute.Load() != m+1 {
		return c
	}
	for i := range b.counts {
		c[i] = b.counts[i].Load()
	}
	return c
}

// minuteStat is one minute of the window.
type minuteStat struct {
	start    time.Time
	requests uint64
	p99MS    float64
}

// snapshot returns the last windowMinutes whole minutes and the current
// one, oldest first, plus the request rate and p99 of the last minute:
// the current minute's requests and the previous minute's, weighted by the
// part of it that lies within the last 60 seconds.
func (w *requestWindow) snapshot(now time.Time) (hist []minuteStat, perSecond, p99MS float64) {
	cur := now.Unix() / 60
	hist = make([]minuteStat, 0, windowMinutes+1)
	for m := cur - windowMinutes; m <= cur; m++ {
		c := w.counts(m)
		hist = append(hist, minuteStat{start: time.Unix(m*60, 0).UTC(), requests: sum(c), p99MS: quantile(c, 0.99)})
	}
	prev, this := w.counts(cur-1), w.counts(cur)
	into := float64(now.Unix()%60) / 60
	perSecond = (float64(sum(prev))*(1-into) + float64(sum(this))) / 60
	var both [len(latencyBoundsMS) + 1]uint64
	for i := range both {
		both[i] = prev[i] + this[i]
	}
	return hist, perSecond, quantile(both, 0.99)
}

func sum(c [len(latencyBoundsMS) + 1]uint64) uint64 {
	var n uint64
	for _, v := range c {
		n += v
	}
	return n
}

// quantile estimates the q-quantile in milliseconds by interpolating
// linearly inside its bucket, as Prometheus's histogram_quantile does; 0
// without observations. The last bucket has no upper bound: its lower
// bound is the estimate.
func quantile(c [len(latencyBoundsMS) + 1]uint64, q float64) float64 {
	total := sum(c)
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for i, n := range c {
		if n == 0 || seen+float64(n) < rank {
			seen += float64(n)
			continue
		}
		lower := 0.0
		if i > 0 {
			lower = latencyBoundsMS[i-1]
		}
		if i == len(latencyBoundsMS) {
			return lower
		}
		est := lower + (latencyBoundsMS[i]-lower)*(rank-seen)/float64(n)
		return math.Round(est*1000) / 1000
	}
	return latencyBoundsMS[len(latencyBoundsMS)-1]
}
