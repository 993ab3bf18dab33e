package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeQueue is a minimal OctoStore with blocking acquires: one holder per
// name, waiters served first come first served, or newest first with lifo
// set (which the FIFO check must catch). It counts the acquires it has
// taken in (granted, queued or refused) per bearer token, so that a test
// client can learn when its request has its place in the queue.
type fakeQueue struct {
	lifo    bool
	mu      sync.Mutex
	next    uint64
	held    map[string]string           // name → lease id
	queue   map[string][]chan fakeGrant // name → waiters, oldest first
	arrived map[string]int              // bearer token → acquires taken in
	arrival chan struct{}               // closed (and replaced) at every arrival
}

type fakeGrant struct {
	lease string
	token uint64
}

func newFakeQueue(lifo bool) *fakeQueue {
	return &fakeQueue{lifo: lifo, held: map[string]string{}, queue: map[string][]chan fakeGrant{},
		arrived: map[string]int{}, arrival: make(chan struct{})}
}

// arrivedLocked notes that an acquire with auth (its Authorization header)
// has been granted, queued or refused; f.mu is held.
func (f *fakeQueue) arrivedLocked(auth string) {
	f.arrived[auth]++
	close(f.arrival)
	f.arrival = make(chan struct{})
}

// arrivals is how many acquires with auth f has taken in.
func (f *fakeQueue) arrivals(auth string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.arrived[auth]
}

// awaitArrival returns once f has taken in more than n acquires with auth,
// or after 10 s (the client's request timeout) or when ctx ends.
func (f *fakeQueue) awaitArrival(ctx context.Context, auth string, n int) {
	give := time.NewTimer(10 * time.Second)
	defer give.Stop()
	for {
		f.mu.Lock()
		done, ch := f.arrived[auth] > n, f.arrival
		f.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-give.C:
			return
		}
	}
}

// grantLocked gives name to a new lease; f.mu is held.
func (f *fakeQueue) grantLocked(name string) fakeGrant {
	f.next++
	g := fakeGrant{lease: fmt.Sprintf("L%d-x", f.next), token: f.next}
	f.held[name] = g.lease
	return g
}

// handOffLocked frees name and grants it to the next waiter; f.mu is held.
func (f *fakeQueue) handOffLocked(name string) {
	delete(f.held, name)
	q := f.queue[name]
	if len(q) == 0 {
		return
	}
	var ch chan fakeGrant
	if f.lifo {
		ch, f.queue[name] = q[len(q)-1], q[:len(q)-1]
	} else {
		ch, f.queue[name] = q[0], q[1:]
	}
	ch <- f.grantLocked(name) // buffered
}

func (f *fakeQueue) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/locks/"), "/")
	name, _ := url.PathUnescape(parts[0])
	if len(parts) != 2 || r.Method != http.MethodPost {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	var in struct {
		LeaseID string `json:"lease_id"`
		Wait    int    `json:"wait_seconds"`
	}
	_ = json.NewDecoder(r.Body).Decode(&in)
	w.Header().Set("Content-Type", "application/json")
	granted := func(g fakeGrant) {
		fmt.Fprintf(w, `{"status":"acquired","lease_id":%q,"fencing_token":%d}`, g.lease, g.token)
	}
	held := func() {
		w.WriteHeader(http.StatusConflict)
		fmt.Fprint(w, `{"status":409,"code":"lock_held"}`)
	}
	switch parts[1] {
	case "acquire":
		f.mu.Lock()
		f.arrivedLocked(r.Header.Get("Authorization"))
		if _, busy := f.held[name]; !busy && len(f.queue[name]) == 0 {
			g := f.grantLocked(name)
			f.mu.Unlock()
			granted(g)
			return
		}
		if in.Wait == 0 {
			f.mu.Unlock()
			held()
			return
		}
		ch := make(chan fakeGrant, 1)
		f.queue[name] = append(f.queue[name], ch)
		f.mu.Unlock()
		select {
		case g := <-ch:
			granted(g)
			return
		case <-time.After(time.Duration(in.Wait) * time.Second):
		case <-r.Context().Done():
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		select {
		case g := <-ch: // granted meanwhile: give it back
			if f.held[name] == g.lease {
				f.handOffLocked(name)
			}
		default:
			for i, c := range f.queue[name] {
				if c == ch {
					f.queue[name] = append(f.queue[name][:i:i], f.queue[name][i+1:]...)
					break
				}
			}
		}
		held()
	case "release":
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.held[name] != in.LeaseID {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"status":409,"code":"lease_not_current"}`)
			return
		}
		f.handOffLocked(name)
		fmt.Fprintf(w, `{"status":"released","name":%q}`, name)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// queuedTarget is OctoStore's target with sessions that take an acquire as
// sent only once q has taken it in: see queuedSession.
type queuedTarget struct {
	*octoTarget
	q *fakeQueue
}

func (t queuedTarget) open(ctx context.Context, i int) (session, error) {
	s, err := t.octoTarget.open(ctx, i)
	if err != nil {
		return nil, err
	}
	return &queuedSession{octoSession: s.(*octoSession), q: t.q}, nil
}

// queuedSession holds back the WroteRequest event of its blocking acquires
// until the fake server has queued (or granted) the request. The load tool
// records that event as the acquire's send time, so an acquire recorded as
// sent before another began was in the server's queue before the other
// was even written: the FIFO check then compares pairs whose order the
// server itself decided, however long requests take from the socket to the
// queue on a busy machine, and needs no slack.
type queuedSession struct {
	*octoSession
	q *fakeQueue
}

func (s *queuedSession) acquireWait(ctx context.Context, name string, wait int) (grant, error) {
	auth := "Bearer " + s.token
	// This session has no other request in flight, so the next acquire
	// the server counts for auth is this one. (An earlier acquire that
	// failed on the client side could be counted late; a failed request
	// fails the test anyway.)
	before := s.q.arrivals(auth)
	// A trace added here runs its hooks before the load tool's own.
	trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { s.q.awaitArrival(ctx, auth, before) }}
	return s.octoSession.acquireWait(httptrace.WithClientTrace(ctx, trace), name, wait)
}

// blockingRun runs the blocking workload against a fake server, FIFO or
// LIFO, with no FIFO slack (see queuedSession).
func blockingRun(t *testing.T, lifo bool) *result {
	t.Helper()
	q := newFakeQueue(lifo)
	srv := httptest.NewServer(q)
	defer srv.Close()
	api, err := newHTTPAPI(srv.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tg := queuedTarget{octoTarget: &octoTarget{api: api, creds: genCreds(8, "acme", "test"), ttl: 60}, q: q}
	r, err := runLoad(context.Background(), tg, runConfig{
		target: "octostore", workload: "blocking", clients: 8, names: 2, wait: 5, fifoSlack: 0,
		duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond, prefix: "t", seed: 1,
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	r.write(&b)
	t.Log("\n" + b.String())
	if r.totalErrors() != 0 {
		t.Errorf("errors: %v", r.firstErr)
	}
	if !r.checked || !r.check.ok() {
		t.Errorf("safety check: %s", r.check.summary())
	}
	if r.fifo == nil || r.winGrants == 0 || r.fifo.grants != int(r.grants) || r.fifo.waited == 0 {
		t.Fatalf("fifo %+v, %d grants in the window, %d in all", r.fifo, r.winGrants, r.grants)
	}
	return r
}

func TestBlockingAgainstFIFOServer(t *testing.T) {
	r := blockingRun(t, false)
	if !r.fifo.ok() || !r.fifoEnforced {
		t.Fatalf("a FIFO server failed the FIFO check: %s", r.fifo.summary())
	}
	if r.failed() {
		t.Fatal("result failed")
	}
}

func TestBlockingAgainstLIFOServer(t *testing.T) {
	// Newest first starves the oldest waiter of each name until the
	// clients stop: it is overtaken by acquires sent long after it.
	r := blockingRun(t, true)
	if r.fifo.ok() || !r.failed() {
		t.Fatalf("a LIFO server passed the FIFO check: %s", r.fifo.summary())
	}
}

func TestRunRejectsBlockingOnNoop(t *testing.T) {
	err := dispatch(context.Background(), []string{"run", "-target", "noop", "-workload", "blocking", "-url", "http://127.0.0.1:1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "does not support") {
		t.Fatalf("err = %v", err)
	}
}

func TestCompareRejectsNoopForBlocking(t *testing.T) {
	err := dispatch(context.Background(), []string{"compare", "-workload", "blocking", "-targets", "octostore,noop"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "does not support workload blocking") {
		t.Fatalf("err = %v", err)
	}
}

func TestWriteBlockingComparison(t *testing.T) {
	mk := func(name string, grants int64, wait time.Duration, fifoBad int64) *result {
		r := &result{target: name, workload: "blocking", window: time.Second, winGrants: grants, checked: true}
		r.ops[opAcquire].lat.add(wait)
		r.fifo = &fifoReport{pairs: 1000, violationCount: fifoBad}
		return r
	}
	rs := map[string]*result{"octostore": mk("octostore", 3000, 4*time.Millisecond, 0), "etcd": mk("etcd", 150, 100*time.Millisecond, 2)}
	rs["octostore"].fifoEnforced = true
	var b strings.Builder
	writeBlockingComparison(&b, []string{"octostore", "etcd"}, rs,
		runConfig{clients: 16, names: 4, wait: 60, duration: 10 * time.Second, warmup: 2 * time.Second, fifoSlack: 5 * time.Millisecond},
		[]string{"machine: test"})
	t.Log("\n" + b.String())
	for _, want := range []string{
		"16 clients queueing on 4 lock names",
		"| octostore | 3000 | 4.00 | 4.00 | 4.00 | 20.00× | 0 (of 1000 pairs) | ok | 0 |",
		"| etcd | 150 | 100.00 | 100.00 | 100.00 | 1.00× | 2 (of 1000 pairs) ref. | ok | 0 |",
		"- machine: test",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q", want)
		}
	}
}
