package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestRunNoopEndToEnd drives the run command for a second against an
// in-test no-op server, as a user would.
func TestRunNoopEndToEnd(t *testing.T) {
	srv := httptest.NewServer(noopHandler()) // listens on 127.0.0.1
	defer srv.Close()
	var out, errOut bytes.Buffer
	args := []string{"run", "-target", "noop", "-url", srv.URL, "-clients", "4", "-duration", "1s", "-warmup", "100ms"}
	if err := dispatch(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	t.Log("\n" + out.String())
	m := regexp.MustCompile(`cycles/s: (\d+) \((\d+) cycles\)`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no cycles line in\n%s", out.String())
	}
	if n, _ := strconv.Atoi(m[2]); n < 10 {
		t.Errorf("only %d cycles in a second", n)
	}
	for _, row := range []string{"| acquire |", "| release |"} {
		if !strings.Contains(out.String(), row) {
			t.Errorf("no %s row in\n%s", row, out.String())
		}
	}
	if strings.Contains(out.String(), "first error") {
		t.Errorf("errors against the no-op server:\n%s", out.String())
	}
}

func TestRunRejectsUnsupportedWorkload(t *testing.T) {
	err := dispatch(context.Background(), []string{"run", "-target", "noop", "-workload", "contended", "-url", "http://127.0.0.1:1"}, &bytes.Buffer{}, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "does not support") {
		t.Fatalf("err = %v", err)
	}
}

// fakeLocks is a minimal OctoStore: one global token counter, one holder
// per name. With broken set it grants every acquire with token 1, which
// the checker must catch.
type fakeLocks struct {
	broken bool
	mu     sync.Mutex
	next   uint64
	held   map[string]string // name → lease id
	users  map[string]bool   // tokens seen
}

func (f *fakeLocks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/locks/"), "/")
	name, _ := url.PathUnescape(parts[0])
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[r.Header.Get("Authorization")] = true
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet:
		fmt.Fprintf(w, `{"name":%q,"status":"free"}`, name)
	case len(parts) == 2 && parts[1] == "acquire":
		if _, busy := f.held[name]; busy && !f.broken {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"status":409,"code":"lock_held"}`)
			return
		}
		f.next++
		tok := f.next
		if f.broken {
			tok = 1
		}
		lease := fmt.Sprintf("L%d-%d", tok, f.next)
		f.held[name] = lease
		fmt.Fprintf(w, `{"status":"acquired","lease_id":%q,"fencing_token":%d}`, lease, tok)
	case len(parts) == 2 && parts[1] == "release":
		var in struct {
			LeaseID string `json:"lease_id"`
		}
		_ = json.NewDecoder(r.Body).Decode(&in)
		if f.held[name] != in.LeaseID && !f.broken {
			w.WriteHeader(http.StatusConflict)
			fmt.Fprint(w, `{"status":409,"code":"lease_not_current"}`)
			return
		}
		delete(f.held, name)
		fmt.Fprintf(w, `{"status":"released","name":%q}`, name)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func contendedRun(t *testing.T, broken bool) *result {
	t.Helper()
	fake := &fakeLocks{broken: broken, held: map[string]string{}, users: map[string]bool{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	api, err := newHTTPAPI(srv.URL, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	tg := &octoTarget{api: api, creds: genCreds(6, "acme", "test"), ttl: 60}
	r, err := runLoad(context.Background(), tg, runConfig{
		target: "octostore", workload: "contended", clients: 6, names: 2,
		duration: 300 * time.Millisecond, warmup: 50 * time.Millisecond, prefix: "t", seed: 7,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.users) != 6 {
		t.Errorf("%d distinct bearer tokens, want one per client (6)", len(fake.users))
	}
	return r
}

func TestContendedAgainstCorrectServer(t *testing.T) {
	r := contendedRun(t, false)
	var b strings.Builder
	r.write(&b)
	t.Log("\n" + b.String())
	if !r.checked || !r.check.ok() {
		t.Fatalf("check failed on a correct server: %s", r.check.summary())
	}
	if r.grants == 0 || r.check.grants != int(r.grants) || r.check.names != 2 {
		t.Errorf("grants %d, checked %d on %d names", r.grants, r.check.grants, r.check.names)
	}
	if r.totalErrors() != 0 {
		t.Errorf("errors: %v", r.firstErr)
	}
}

func TestContendedAgainstBrokenServer(t *testing.T) {
	r := contendedRun(t, true)
	if r.check.ok() {
		t.Fatal("a server that grants every acquire with token 1 passed the check")
	}
	t.Log(r.check.summary())
}

func TestTokensRoundTrip(t *testing.T) {
	var out bytes.Buffer
	if err := dispatch(context.Background(), []string{"tokens", "-n", "3", "-token-seed", "s"}, &out, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	got, err := parseCreds(out.String())
	if err != nil {
		t.Fatal(err)
	}
	want := genCreds(5, "acme", "s")[:3] // a prefix of a longer list is the same
	if len(got) != 3 {
		t.Fatalf("got %d entries", len(got))
	}
	for i := range got {
		if got[i] != want[i] || len(got[i].token) < 16 || got[i].principal != fmt.Sprintf("acme/c%d", i) {
			t.Errorf("entry %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestWriteComparison(t *testing.T) {
	mk := func(name string, cycles int64, acqP99 time.Duration) *result {
		r := &result{target: name, window: time.Second, cycles: cycles}
		r.ops[opAcquire].lat.add(acqP99)
		r.ops[opRelease].lat.add(acqP99 / 2)
		return r
	}
	rs := map[string]*result{"octostore": mk("octostore", 3000, 4*time.Millisecond), "etcd": mk("etcd", 1000, 8*time.Millisecond), "noop": mk("noop", 20000, time.Millisecond)}
	var b strings.Builder
	writeComparison(&b, compareTargets, rs, loadFlags{clients: 64, duration: time.Second}, []string{"machine: test"})
	t.Log("\n" + b.String())
	for _, want := range []string{"| octostore | 3000 | 4.00 | 4.00 | 2.00 | 2.00 | 3.00× | 4.00× | 0 |", "| etcd | 1000 |", "| noop | 20000 | 1.00 | 1.00 | 0.500 | 0.500 | 20.00× | 1.00× | 0 |", "- machine: test"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("missing %q", want)
		}
	}
}
