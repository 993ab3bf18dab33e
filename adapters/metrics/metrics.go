// Package metrics exposes the server's metrics in the Prometheus text
// format with its own registry (never the client library's global one):
// HTTP requests per route pattern, method and status; the group-commit
// writer's batch sizes and commit latency; the live state's sizes, read at
// scrape time; the restore's duration; and Go runtime and process figures.
//
// No label carries a lock name, a token, an org or any other value a
// client chooses: routes are the mux's patterns, methods a fixed set and
// statuses three digits.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/octostore/octostore/ports"
)

// State is the live state's sizes, read once per scrape.
type State struct {
	LocksHeld      int // lock records: held, in their lock delay or awaiting the sweep
	SessionsOpen   int
	WatchStreams   int
	WaitersQueued  int
	EventsRetained uint64
	// Deliveries counts the webhook delivery records kept, by state.
	Deliveries  map[string]int
	RestoreTook time.Duration
}

// Config configures the metrics.
type Config struct {
	// Version is the build version, the label of octostore_build_info.
	Version string
}

// Metrics owns the registry and the instruments. Its Observe methods are
// safe for concurrent use and allocate nothing once a route, method and
// status has been seen.
type Metrics struct {
	reg      *prometheus.Registry
	handler  http.Handler
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	batch    prometheus.Histogram
	commit   prometheus.Histogram
	failed   prometheus.Counter
	state    *stateCollector

	// seen maps a route, method and status to its resolved instruments;
	// it is copied on write, so that the request path reads it without a
	// lock (a new combination is rare after the first requests).
	seen atomic.Pointer[map[requestKey]*requestInstruments]
	mu   sync.Mutex // serializes writers of seen
}

type requestKey struct {
	route, method string
	status        int
}

type requestInstruments struct {
	count   prometheus.Counter
	latency prometheus.Observer
}

// Request latency buckets, in seconds: most lock operations take well
// under a millisecond plus the commit's fsync; a blocking acquire waits
// up to a minute.
var latencyBuckets = []float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

// New builds the registry with every collector.
func New(cfg Config) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), state: &stateCollector{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "octostore_http_requests_total",
		Help: "HTTP requests answered, by route pattern, method and status.",
	}, []string{"route", "method", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "octostore_http_request_duration_seconds",
		Help:    "Time from receiving a request to the end of its answer, by route pattern, method and status (a watch stream's is its lifetime).",
		Buckets: latencyBuckets,
	}, []string{"route", "method", "status"})
	m.batch = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "octostore_commit_batch_size",
		Help:    "Requests decided together in one group commit.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 11), // 1 … 1024, the writer's largest batch
	})
	m.commit = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "octostore_commit_duration_seconds",
		Help:    "Time one group commit took to be durable (the SQLite transaction and its fsync).",
		Buckets: []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1},
	})
	m.failed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "octostore_commit_failures_total",
		Help: "Group commits that failed (their requests were answered 503 unavailable).",
	})
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "octostore_build_info",
		Help:        "Always 1; the label is the build's version.",
		ConstLabels: prometheus.Labels{"version": cfg.Version},
	})
	info.Set(1)
	m.reg.MustRegister(m.requests, m.latency, m.batch, m.commit, m.failed, info,
		m.state,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	empty := map[requestKey]*requestInstruments{}
	m.seen.Store(&empty)
	m.handler = promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
	return m
}

// ReadState sets what each scrape reads the live state's sizes from; until
// it is called they are zeros. Call it before serving scrapes.
func (m *Metrics) ReadState(read func() State) { m.state.read = read }

// Handler serves the registry in the Prometheus text format (or what the
// scraper's Accept header asks for).
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the registry, for tests that gather it directly.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// ObserveRequest records one answered request. route must be a route
// pattern and method one of a fixed set, never a value from the request
// line: each distinct combination becomes a series.
func (m *Metrics) ObserveRequest(route, method string, status int, took time.Duration) {
	k := requestKey{route: route, method: method, status: status}
	in := (*m.seen.Load())[k]
	if in == nil {
		in = m.resolve(k)
	}
	in.count.Inc()
	in.latency.Observe(took.Seconds())
}

// resolve creates the instruments of k once and publishes them.
func (m *Metrics) resolve(k requestKey) *requestInstruments {
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.seen.Load()
	if in := old[k]; in != nil {
		return in
	}
	status := strconv.Itoa(k.status)
	in := &requestInstruments{
		count:   m.requests.WithLabelValues(k.route, k.method, status),
		latency: m.latency.WithLabelValues(k.route, k.method, status),
	}
	next := make(map[requestKey]*requestInstruments, len(old)+1)
	for key, v := range old {
		next[key] = v
	}
	next[k] = in
	m.seen.Store(&next)
	return in
}

var _ ports.CommitObserver = (*Metrics)(nil)

// ObserveCommit records one group commit (ports.CommitObserver).
func (m *Metrics) ObserveCommit(requests int, took time.Duration, ok bool) {
	m.batch.Observe(float64(requests))
	m.commit.Observe(took.Seconds())
	if !ok {
		m.failed.Inc()
	}
}

// stateCollector reads the live state at scrape time.
type stateCollector struct {
	read func() State
}

var (
	descLocks      = prometheus.NewDesc("octostore_locks_held", "Lock records in memory: held, in their lock delay, or expired and not yet swept.", nil, nil)
	descSessions   = prometheus.NewDesc("octostore_sessions_open", "Open sessions.", nil, nil)
	descStreams    = prometheus.NewDesc("octostore_watch_streams_open", "Open watch streams.", nil, nil)
	descWaiters    = prometheus.NewDesc("octostore_waiters_queued", "Blocking acquires queued on busy locks.", nil, nil)
	descEvents     = prometheus.NewDesc("octostore_events_retained", "Events kept for resuming watches and for GET /events.", nil, nil)
	descDeliveries = prometheus.NewDesc("octostore_webhook_deliveries", "Webhook delivery records kept (the newest 100 of each webhook), by state.", []string{"state"}, nil)
	descRestore    = prometheus.NewDesc("octostore_restore_duration_seconds", "How long start-up took to restore the state into memory.", nil, nil)
)

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLocks, descSessions, descStreams, descWaiters, descEvents, descDeliveries, descRestore} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	var s State
	if c.read != nil {
		s = c.read()
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descLocks, float64(s.LocksHeld))
	gauge(descSessions, float64(s.SessionsOpen))
	gauge(descStreams, float64(s.WatchStreams))
	gauge(descWaiters, float64(s.WaitersQueued))
	gauge(descEvents, float64(s.EventsRetained))
	gauge(descRestore, s.RestoreTook.Seconds())
	for state, n := range s.Deliveries {
		gauge(descDeliveries, float64(n), state)
	}
}
