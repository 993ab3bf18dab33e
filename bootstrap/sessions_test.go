package bootstrap_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// This file has the end-to-end helpers for sessions and the one session
// test that needs the real server: a restart after the session's expiry
// passed while it was down. The HTTP contract of sessions is tested without
// TCP in adapters/httpapi.

// sessionPath returns /sessions/<id><suffix>.
func sessionPath(id, suffix string) string { return "/sessions/" + id + suffix }

// session is what a test keeps of an open session.
type session struct {
	id      string
	ttl     time.Duration
	expires time.Time
}

// openSession opens a session for token with the given TTL in seconds (0:
// no body, the default) and requires 201 with a well-formed body.
func (s *server) openSession(t *testing.T, token string, ttl int) session {
	t.Helper()
	var body any
	if ttl != 0 {
		body = map[string]any{"ttl_seconds": ttl}
	}
	before := time.Now()
	r := s.call(t, http.MethodPost, "/sessions", token, body).ok(t, http.StatusCreated)
	after := time.Now()
	wantKeys(t, r, "expires_at", "keepalive_interval_seconds", "session_id", "ttl_seconds")
	if ttl == 0 {
		ttl = 60
	}
	d := time.Duration(ttl) * time.Second
	sess := session{id: r.str("session_id"), ttl: d, expires: r.time(t, "expires_at")}
	if sess.id == "" || strings.ContainsAny(sess.id, "/?#% ") {
		t.Fatalf("session_id %q is not a plain path segment: %s", sess.id, r.raw)
	}
	if got := r.num(t, "ttl_seconds"); got != uint64(ttl) {
		t.Errorf("ttl_seconds = %d, want %d", got, ttl)
	}
	if got := r.num(t, "keepalive_interval_seconds"); got != uint64(ttl/3) {
		t.Errorf("keepalive_interval_seconds = %d, want %d (a third of the TTL)", got, ttl/3)
	}
	within(t, "session expires_at", sess.expires, before.Add(d-slack), after.Add(d+slack))
	return sess
}

// keepalive keeps sess alive for token and requires 200; it returns the
// new expiry.
func (s *server) keepalive(t *testing.T, token string, sess session) time.Time {
	t.Helper()
	before := time.Now()
	r := s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), token, nil).ok(t, http.StatusOK)
	after := time.Now()
	wantKeys(t, r, "expires_at", "session_id")
	if r.str("session_id") != sess.id {
		t.Errorf("keepalive session_id = %q, want %q", r.str("session_id"), sess.id)
	}
	exp := r.time(t, "expires_at")
	within(t, "keepalive expires_at", exp, before.Add(sess.ttl-slack), after.Add(sess.ttl+slack))
	return exp
}

// sessionLocks GETs sess for token, requires 200 with a well-formed body
// and returns it with the names of the locks it lists.
func (s *server) sessionLocks(t *testing.T, token string, sess session) (*resp, []string) {
	t.Helper()
	r := s.call(t, http.MethodGet, sessionPath(sess.id, ""), token, nil).ok(t, http.StatusOK)
	wantKeys(t, r, "expires_at", "locks", "session_id", "ttl_seconds")
	if r.str("session_id") != sess.id || r.num(t, "ttl_seconds") != uint64(sess.ttl/time.Second) {
		t.Errorf("GET session = %s, want id %s ttl %d", r.raw, sess.id, sess.ttl/time.Second)
	}
	items, ok := r.obj["locks"].([]any)
	if !ok {
		t.Fatalf("GET session: locks is not an array: %s", r.raw)
	}
	names := []string{}
	for _, it := range items {
		n, ok := it.(string)
		if !ok {
			t.Fatalf("GET session: lock entry %v is not a name: %s", it, r.raw)
		}
		names = append(names, n)
	}
	return r, names
}

// wantKeys fails the test unless the body of r has exactly the given keys.
func wantKeys(t *testing.T, r *resp, want ...string) {
	t.Helper()
	keys := make([]string, 0, len(r.obj))
	for k := range r.obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("body keys = %v, want %v: %s", keys, want, r.raw)
	}
}

// asSession is an acquire body for holding a lock as sess, merged with extra.
func asSession(sess session, extra map[string]any) map[string]any {
	b := map[string]any{"session_id": sess.id}
	for k, v := range extra {
		b[k] = v
	}
	return b
}

// outcome is the answer to a request sent in the background.
type outcome struct {
	r   *resp
	err error
	at  time.Time // when the answer arrived
}

// goAcquire sends an acquire of name for token in the background; the
// answer arrives on the returned channel.
func (s *server) goAcquire(ctx context.Context, token, name string, body any) <-chan outcome {
	ch := make(chan outcome, 1)
	go func() {
		r, err := s.doCtx(ctx, req{method: http.MethodPost, path: lockPath(name, "/acquire"), token: token, body: body})
		ch <- outcome{r: r, err: err, at: time.Now()}
	}()
	return ch
}

// recv waits at most d for the answer on ch.
func recv(t *testing.T, what string, ch <-chan outcome, d time.Duration) outcome {
	t.Helper()
	select {
	case o := <-ch:
		return o
	case <-time.After(d):
		t.Fatalf("%s: no answer within %s", what, d)
		return outcome{}
	}
}

// answered fails the test unless ch yields a response (not a transport
// error) within d, and returns it.
func answered(t *testing.T, what string, ch <-chan outcome, d time.Duration) *resp {
	t.Helper()
	o := recv(t, what, ch, d)
	if o.err != nil {
		t.Fatalf("%s: %v", what, o.err)
	}
	return o.r
}

// quiet fails the test if ch yields an answer within d (at once, for d <= 0).
func quiet(t *testing.T, what string, ch <-chan outcome, d time.Duration) {
	t.Helper()
	var o outcome
	if d <= 0 {
		select {
		case o = <-ch:
		default:
			return
		}
	} else {
		select {
		case o = <-ch:
		case <-time.After(d):
			return
		}
	}
	if o.err != nil {
		t.Fatalf("%s: answered early: %v", what, o.err)
	}
	t.Fatalf("%s: answered early: %d %s", what, o.r.status, o.r.raw)
}

// TestSessionExpiresWhileDown is the one slow test (the minimum session TTL
// is 10 s). A session whose expiry passes while the server is stopped gets
// a fresh lease of its own TTL from the moment the server is ready (an
// outage must not cost a client its session), and with it its ephemeral
// locks; a keepalive then keeps both as usual. What a session's expiry does
// while the server is up is tested with a fake clock in adapters/httpapi.
func TestSessionExpiresWhileDown(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")
	s1 := startServer(t, e2eConfig(db), nil, nil)
	sess := s1.openSession(t, aliceToken, 10)
	holder := "session:" + sess.id
	eph := s1.acquire(t, aliceToken, "sdown/eph", asSession(sess, map[string]any{"ephemeral": true, "lock_delay_seconds": 5}))
	plain := s1.acquire(t, aliceToken, "sdown/plain", asSession(sess, map[string]any{"ttl_seconds": 300}))
	checkSpec(t, s1)
	s1.stop()

	sleepUntil(sess.expires.Add(100 * time.Millisecond))
	ready := time.Now()
	s2 := startServer(t, e2eConfig(db), nil, nil)
	started := time.Now()
	r, names := s2.sessionLocks(t, aliceToken, sess)
	graced := r.time(t, "expires_at")
	within(t, "graced session expires_at", graced, ready.Add(sess.ttl-slack), started.Add(sess.ttl+slack))
	if !slices.Equal(names, []string{eph.name, plain.name}) {
		t.Errorf("graced session locks = %v, want [%s %s]", names, eph.name, plain.name)
	}
	eph.expires = graced
	if g := s2.wantHeld(t, bobToken, eph.name, holder, eph); g.obj["ephemeral"] != true {
		t.Errorf("ephemeral lock after the restart = %s", g.raw)
	}
	s2.wantHeld(t, bobToken, plain.name, holder, plain)
	s2.call(t, http.MethodPost, lockPath(eph.name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
	time.Sleep(20 * time.Millisecond)
	eph.expires = s2.keepalive(t, aliceToken, sess)
	if !eph.expires.After(graced) {
		t.Errorf("keepalive after the restart did not move the expiry: %s -> %s", graced, eph.expires)
	}
	s2.wantHeld(t, aliceToken, eph.name, holder, eph)
	r = s2.call(t, http.MethodPost, lockPath(eph.name, "/acquire"), aliceToken, asSession(sess, map[string]any{"ephemeral": true})).ok(t, http.StatusOK)
	if r.str("lease_id") != eph.id || r.num(t, "fencing_token") != eph.token {
		t.Errorf("re-acquire after the restart = %s, want lease %s token %d", r.raw, eph.id, eph.token)
	}
	checkSpec(t, s2)
}
