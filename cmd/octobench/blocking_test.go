package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeQueue is a minimal OctoStore with blocking acquires: one holder per
// name, waiters served first come first served, or newest first with lifo
// set (which the FIFO check must catch).
type fakeQueue struct {
	lifo  bool
	mu    sync.Mutex
	next  uint64
	held  map[string]string           // name → lease id
	queue map[string][]chan fakeGrant // name → waiters, oldest first
}

type fakeGrant struct {
	lease string
	token uint64
}

func newFakeQueue(lifo bool) *fakeQueue {
	return &fakeQueue{lifo: lifo, held: map[string]string{}, queue: map[string][]chan fakeGrant{}}
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

func blockingRun(t *testing.T, lifo bool, slack time.Duration) *result {
	t.Helper()
	srv := httptest.NewServer(newFakeQueue(lifo))
	defer srv.Close()
	api, err := newHTTPAPI(srv.URL, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tg := &octoTarget{api: api, creds: genCreds(8, "acme", "test"), ttl: 60}
	r, err := runLoad(context.Background(), tg, runConfig{
		target: "octostore", workload: "blocking", clients: 8, names: 2, wait: 5, fifoSlack: slack,
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
	// A generous slack: in-process, on a busy machine, under the race
	// detector, requests can take a while from the socket to the queue.
	r := blockingRun(t, false, 50*time.Millisecond)
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
	r := blockingRun(t, true, 50*time.Millisecond)
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
