package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The contract of GET /health and of a write whose commit fails: the
// request is refused with 503 unavailable and changes nothing, /health
// says degraded until a commit succeeds again.

func TestHealth(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.get("/health", "").ok(t, http.StatusOK).keys(t, "status", "version", "db")
	if r.str("status") != "ok" || r.str("db") != "ok" || r.str("version") != "v-contract" {
		t.Errorf("%v: want ok", r)
	}
	a.get("/health", badTok).ok(t, http.StatusOK) // a token is neither needed nor checked
}

// TestFailedCommit: every write whose commit fails answers 503 unavailable
// without the cause, and changes nothing; /health is 503 degraded, naming
// when, until the next commit succeeds.
func TestFailedCommit(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "fail/x", map[string]any{"metadata": "orig"})
	s := a.openSession(t, aliceTok, 60)
	a.clock.Advance(time.Second)
	for _, r := range []request{
		{method: http.MethodPost, path: lockPath("fail/new", "/acquire")},
		{method: http.MethodPost, path: lockPath(l.name, "/renew"), body: map[string]any{"lease_id": l.id}},
		{method: http.MethodPost, path: lockPath(l.name, "/release"), body: map[string]any{"lease_id": l.id}},
		{method: http.MethodPost, path: "/sessions"},
		{method: http.MethodPost, path: sessionPath(s.id, "/keepalive")},
		{method: http.MethodDelete, path: sessionPath(s.id, "")},
	} {
		a.journal.FailNextCommit(errors.New("disk full at /var/lib/secret"))
		r.token = aliceTok
		res := a.send(r).problem(t, http.StatusServiceUnavailable, "unavailable").nowhere(t)
		if strings.Contains(string(res.raw), "secret") || strings.Contains(string(res.raw), "disk") {
			t.Errorf("%v: the cause leaked", res)
		}
		h := a.get("/health", "").problem(t, http.StatusServiceUnavailable, "degraded").nowhere(t)
		if !strings.Contains(h.str("detail"), a.clock.Now().Format(wireFormat)) {
			t.Errorf("%v: the detail does not say when the commit failed (%s)", h, a.clock.Now().Format(wireFormat))
		}
	}
	a.wantFree(t, aliceTok, "fail/new")
	if r := a.wantHeld(t, aliceTok, l, "acme/alice", nil); r.str("metadata") != "orig" {
		t.Errorf("%v: the lock changed", r)
	}
	r := a.get(sessionPath(s.id, ""), aliceTok).ok(t, http.StatusOK)
	if !r.time(t, "expires_at").Equal(s.expires) {
		t.Errorf("%v: the session changed", r)
	}
	// Reads still work; the first good commit makes the server healthy.
	a.post(lockPath(l.name, "/validate"), bobTok, map[string]any{"fencing_token": l.token}).ok(t, http.StatusOK)
	a.acquire(t, aliceTok, "fail/new", nil)
	a.get("/health", "").ok(t, http.StatusOK)
}
