package bootstrap_test

import (
	"bytes"
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file tests sessions and the locks bound to them end to end: opening,
// keepalive, inspection and closing of sessions, the holder of a session
// lock, ephemeral locks, and (in one slow test) what a session's expiry does.

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

// TestSessions drives sessions and session locks on one server; the
// subtests run in order and the last checks every response against the
// OpenAPI document.
func TestSessions(t *testing.T) {
	t.Parallel()
	s := newServer(t)

	t.Run("open", func(t *testing.T) { testSessionOpen(t, s) })
	t.Run("keepalive", func(t *testing.T) { testSessionKeepalive(t, s) })
	t.Run("get", func(t *testing.T) { testSessionGet(t, s) })
	t.Run("delete", func(t *testing.T) { testSessionDelete(t, s) })
	t.Run("unknown", func(t *testing.T) { testSessionUnknown(t, s) })
	t.Run("other principals", func(t *testing.T) { testSessionOthers(t, s) })
	t.Run("session locks", func(t *testing.T) { testSessionLocks(t, s) })
	t.Run("ephemeral", func(t *testing.T) { testEphemeral(t, s) })
	t.Run("delete frees ephemeral locks only", func(t *testing.T) { testSessionDeleteFrees(t, s) })
	t.Run("spec conformance", func(t *testing.T) { checkSpec(t, s) })
}

func testSessionOpen(t *testing.T, s *server) {
	def := s.openSession(t, aliceToken, 0) // no body: 60 s
	if def.ttl != time.Minute {
		t.Errorf("default ttl %s", def.ttl)
	}
	// An empty object is the same as no body.
	r := s.call(t, http.MethodPost, "/sessions", aliceToken, "{}").ok(t, http.StatusCreated)
	if r.num(t, "ttl_seconds") != 60 || r.num(t, "keepalive_interval_seconds") != 20 {
		t.Errorf("open with {} = %s", r.raw)
	}
	if r.str("session_id") == def.id {
		t.Errorf("two sessions share the id %s", def.id)
	}
	// The limits themselves are accepted.
	s.openSession(t, aliceToken, 10)
	s.openSession(t, aliceToken, 300)
	s.openSession(t, bobToken, 30)

	for _, c := range []struct {
		name, body string
	}{
		{"ttl 9", `{"ttl_seconds":9}`},
		{"ttl 301", `{"ttl_seconds":301}`},
		{"ttl negative", `{"ttl_seconds":-10}`},
		{"ttl not a number", `{"ttl_seconds":"30"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.call(t, http.MethodPost, "/sessions", aliceToken, c.body).problem(t, http.StatusUnprocessableEntity, "validation_failed")
			if !slices.Contains(r.locations(), "body.ttl_seconds") {
				t.Errorf("errors[].location = %v, want body.ttl_seconds: %s", r.locations(), r.raw)
			}
			if _, ok := r.obj["session_id"]; ok {
				t.Errorf("a refused open returned a session: %s", r.raw)
			}
		})
	}
	s.call(t, http.MethodPost, "/sessions", aliceToken, `{"ttl_seconds":30,"bogus":1}`).
		problem(t, http.StatusUnprocessableEntity, "validation_failed")
	s.call(t, http.MethodPost, "/sessions", aliceToken, `{"ttl_seconds":`).problem(t, http.StatusBadRequest, "malformed_request")
	s.call(t, http.MethodPost, "/sessions", "", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	s.call(t, http.MethodPost, "/sessions", adminTok, nil).problem(t, http.StatusForbidden, "admin_not_tenant")
}

func testSessionKeepalive(t *testing.T, s *server) {
	sess := s.openSession(t, aliceToken, 30)
	time.Sleep(20 * time.Millisecond) // so that the expiry visibly moves (ms precision)
	exp := s.keepalive(t, aliceToken, sess)
	if !exp.After(sess.expires) {
		t.Errorf("keepalive did not push the expiry: %s -> %s", sess.expires, exp)
	}
	r, _ := s.sessionLocks(t, aliceToken, sess)
	if got := r.time(t, "expires_at"); !got.Equal(exp) {
		t.Errorf("GET after keepalive: expires_at %s, want %s", got, exp)
	}
}

func testSessionGet(t *testing.T, s *server) {
	sess := s.openSession(t, aliceToken, 60)
	r, names := s.sessionLocks(t, aliceToken, sess)
	if len(names) != 0 || !bytes.Contains(r.raw, []byte(`"locks":[]`)) {
		t.Errorf("new session lists locks %s, want an empty array", r.raw)
	}
	if got := r.time(t, "expires_at"); !got.Equal(sess.expires) {
		t.Errorf("GET expires_at %s, want %s", got, sess.expires)
	}

	other := s.openSession(t, aliceToken, 60)
	s.acquire(t, aliceToken, "sget/b", asSession(sess, nil))
	s.acquire(t, aliceToken, "sget/a", asSession(sess, map[string]any{"ephemeral": true}))
	s.acquire(t, aliceToken, "sget/other", asSession(other, nil))
	s.acquire(t, aliceToken, "sget/user", nil) // held by alice herself
	short := s.acquire(t, aliceToken, "sget/short", asSession(sess, map[string]any{"ttl_seconds": 1}))
	released := s.acquire(t, aliceToken, "sget/released", asSession(sess, nil))
	s.call(t, http.MethodPost, lockPath(released.name, "/release"), aliceToken, map[string]string{"lease_id": released.id}).ok(t, http.StatusOK)

	if _, names := s.sessionLocks(t, aliceToken, sess); !slices.Equal(names, []string{"sget/a", "sget/b", "sget/short"}) {
		t.Errorf("session locks = %v, want [sget/a sget/b sget/short]", names)
	}
	if _, names := s.sessionLocks(t, aliceToken, other); !slices.Equal(names, []string{"sget/other"}) {
		t.Errorf("other session locks = %v, want [sget/other]", names)
	}
	// A session lock that expired is no longer listed.
	s.waitNotHeld(t, aliceToken, short.name)
	if _, names := s.sessionLocks(t, aliceToken, sess); !slices.Equal(names, []string{"sget/a", "sget/b"}) {
		t.Errorf("session locks after one expired = %v, want [sget/a sget/b]", names)
	}
}

func testSessionDelete(t *testing.T, s *server) {
	sess := s.openSession(t, aliceToken, 60)
	r := s.call(t, http.MethodDelete, sessionPath(sess.id, ""), aliceToken, nil)
	if r.status != http.StatusNoContent || len(r.raw) != 0 {
		t.Fatalf("DELETE session = %d %q, want 204 without body", r.status, r.raw)
	}
	s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
	s.call(t, http.MethodGet, sessionPath(sess.id, ""), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
	s.call(t, http.MethodDelete, sessionPath(sess.id, ""), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
	s.call(t, http.MethodPost, lockPath("sdel/x", "/acquire"), aliceToken, asSession(sess, nil)).
		problem(t, http.StatusNotFound, "session_not_found")
	s.wantFree(t, aliceToken, "sdel/x")
}

func testSessionUnknown(t *testing.T, s *server) {
	for _, id := range []string{"s_00000000000000000000000000000000", "nope"} {
		s.call(t, http.MethodPost, sessionPath(id, "/keepalive"), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodGet, sessionPath(id, ""), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodDelete, sessionPath(id, ""), aliceToken, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodPost, lockPath("sunk/x", "/acquire"), aliceToken, map[string]any{"session_id": id}).
			problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodPost, lockPath("sunk/x", "/acquire"), aliceToken, map[string]any{"session_id": id, "ephemeral": true}).
			problem(t, http.StatusNotFound, "session_not_found")
	}
	s.wantFree(t, aliceToken, "sunk/x")
	s.call(t, http.MethodGet, sessionPath("x", ""), "", nil).problem(t, http.StatusUnauthorized, "unauthenticated")
}

func testSessionOthers(t *testing.T, s *server) {
	sess := s.openSession(t, aliceToken, 60)
	eph := s.acquire(t, aliceToken, "sothers/eph", asSession(sess, map[string]any{"ephemeral": true}))
	plain := s.acquire(t, aliceToken, "sothers/plain", asSession(sess, map[string]any{"ttl_seconds": 120}))
	holder := "session:" + sess.id

	// bob is of the same org, carol of another: neither can see, keep,
	// close or use alice's session; it is simply not there for them.
	for _, tok := range []string{bobToken, carolToken} {
		s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), tok, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodGet, sessionPath(sess.id, ""), tok, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodDelete, sessionPath(sess.id, ""), tok, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodPost, lockPath("sothers/theirs", "/acquire"), tok, asSession(sess, nil)).
			problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodPost, lockPath(eph.name, "/acquire"), tok, asSession(sess, map[string]any{"ephemeral": true})).
			problem(t, http.StatusNotFound, "session_not_found")
	}
	// The admin token holds no sessions either.
	if r := s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), adminTok, nil); r.status != http.StatusForbidden {
		t.Errorf("admin keepalive of alice's session = %d %s, want 403", r.status, r.raw)
	}
	if r := s.call(t, http.MethodDelete, sessionPath(sess.id, ""), adminTok, nil); r.status != http.StatusForbidden {
		t.Errorf("admin DELETE of alice's session = %d %s, want 403", r.status, r.raw)
	}
	s.wantFree(t, bobToken, "sothers/theirs")
	s.wantFree(t, carolToken, "sothers/theirs")

	// Alice's session and its locks are untouched.
	s.wantHeld(t, bobToken, eph.name, holder, eph)
	s.wantHeld(t, aliceToken, plain.name, holder, plain)
	if _, names := s.sessionLocks(t, aliceToken, sess); !slices.Equal(names, []string{eph.name, plain.name}) {
		t.Errorf("alice's session locks = %v", names)
	}
	s.keepalive(t, aliceToken, sess)
	s.wantFree(t, carolToken, eph.name) // globex sees nothing of acme
}

func testSessionLocks(t *testing.T, s *server) {
	const name = "slock/leader"
	s1 := s.openSession(t, aliceToken, 60)
	s2 := s.openSession(t, aliceToken, 60)
	before := time.Now()
	r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken,
		asSession(s1, map[string]any{"ttl_seconds": 30, "metadata": "proc-1"})).ok(t, http.StatusOK)
	after := time.Now()
	if r.str("status") != "acquired" || r.str("session_id") != s1.id || r.obj["ephemeral"] == true {
		t.Errorf("session acquire body = %s", r.raw)
	}
	l := lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
	within(t, "session lock expires_at", l.expires, before.Add(30*time.Second-slack), after.Add(30*time.Second+slack))
	holder := "session:" + s1.id
	if g := s.wantHeld(t, bobToken, name, holder, l); g.str("metadata") != "proc-1" || g.obj["ephemeral"] == true {
		t.Errorf("GET session lock = %s", g.raw)
	}

	// Two processes with the same token contend, each with its session;
	// the user itself is another holder too.
	c := s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, asSession(s2, nil)).problem(t, http.StatusConflict, "lock_held")
	if !c.time(t, "expires_at").Equal(l.expires) || c.header.Get("Retry-After") == "" {
		t.Errorf("lock_held for the other session = %s (Retry-After %q)", c.raw, c.header.Get("Retry-After"))
	}
	s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, nil).problem(t, http.StatusConflict, "lock_held")
	s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")

	// The same session again: idempotent, same lease and token.
	r = s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, asSession(s1, map[string]any{"ttl_seconds": 5})).ok(t, http.StatusOK)
	if r.str("lease_id") != l.id || r.num(t, "fencing_token") != l.token || r.time(t, "expires_at").Before(l.expires) ||
		r.str("metadata") != "proc-1" {
		t.Errorf("re-acquire by the same session = %s, want lease %s token %d", r.raw, l.id, l.token)
	}
	s.wantHeld(t, aliceToken, name, holder, l)

	// carol (globex) and bob (acme) cannot use alice's session.
	s.call(t, http.MethodPost, lockPath("slock/c", "/acquire"), carolToken, asSession(s1, nil)).problem(t, http.StatusNotFound, "session_not_found")
	s.wantFree(t, carolToken, "slock/c")
	s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, asSession(s1, nil)).problem(t, http.StatusNotFound, "session_not_found")
	s.wantHeld(t, aliceToken, name, holder, l)

	// The lease renews and releases as usual; the next grant goes to s2.
	r = s.call(t, http.MethodPost, lockPath(name, "/renew"), aliceToken, map[string]any{"lease_id": l.id, "ttl_seconds": 40}).ok(t, http.StatusOK)
	if r.str("status") != "renewed" || r.num(t, "fencing_token") != l.token || r.str("session_id") != s1.id {
		t.Errorf("renew of a session lock = %s", r.raw)
	}
	s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": l.id}).ok(t, http.StatusOK)
	l2 := s.acquire(t, aliceToken, name, asSession(s2, nil))
	if l2.token <= l.token || l2.id == l.id {
		t.Errorf("grant to the second session: %+v after %+v", l2, l)
	}
	s.wantHeld(t, aliceToken, name, "session:"+s2.id, l2)

	// Bad session-lock inputs.
	r = s.call(t, http.MethodPost, lockPath("slock/eph", "/acquire"), aliceToken, map[string]any{"ephemeral": true}).
		problem(t, http.StatusUnprocessableEntity, "ephemeral_needs_session")
	if r.location() != "body.session_id" {
		t.Errorf("ephemeral_needs_session location = %q, want body.session_id: %s", r.location(), r.raw)
	}
	s.call(t, http.MethodPost, lockPath("slock/eph", "/acquire"), aliceToken, map[string]any{"ephemeral": true, "session_id": ""}).
		problem(t, http.StatusUnprocessableEntity, "ephemeral_needs_session")
	r = s.call(t, http.MethodPost, lockPath("slock/eph", "/acquire"), aliceToken, map[string]any{"session_id": strings.Repeat("s", 129)}).
		problem(t, http.StatusUnprocessableEntity, "validation_failed")
	if !slices.Contains(r.locations(), "body.session_id") {
		t.Errorf("129-byte session_id: locations %v", r.locations())
	}
	s.wantFree(t, aliceToken, "slock/eph")
}

func testEphemeral(t *testing.T, s *server) {
	const name = "seph/leader"
	sess := s.openSession(t, aliceToken, 30)
	// ttl_seconds is not used for an ephemeral lock: it follows the session.
	r := s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken,
		asSession(sess, map[string]any{"ephemeral": true, "ttl_seconds": 3600, "metadata": "eph"})).ok(t, http.StatusOK)
	if r.obj["ephemeral"] != true || r.str("session_id") != sess.id {
		t.Errorf("ephemeral acquire body = %s", r.raw)
	}
	l := lease{name: name, id: r.str("lease_id"), token: r.num(t, "fencing_token"), expires: r.time(t, "expires_at")}
	if !l.expires.Equal(sess.expires) {
		t.Errorf("ephemeral lock expires_at %s, want the session's %s", l.expires, sess.expires)
	}
	if g := s.wantHeld(t, bobToken, name, "session:"+sess.id, l); g.obj["ephemeral"] != true {
		t.Errorf("GET ephemeral lock = %s", g.raw)
	}

	// A keepalive moves the lock's expiry with the session's.
	time.Sleep(20 * time.Millisecond)
	exp := s.keepalive(t, aliceToken, sess)
	if !exp.After(l.expires) {
		t.Fatalf("keepalive did not move the expiry: %s -> %s", l.expires, exp)
	}
	l.expires = exp
	s.wantHeld(t, aliceToken, name, "session:"+sess.id, l)
	r = s.call(t, http.MethodGet, "/locks?prefix=seph", aliceToken, nil).ok(t, http.StatusOK)
	if locks, _ := r.obj["locks"].([]any); len(locks) != 1 || !listedExpiry(t, locks[0], exp) {
		t.Errorf("listing after keepalive = %s, want expires_at %s", r.raw, exp)
	}

	// Re-acquire by the session: same lease, expiry still the session's.
	r = s.call(t, http.MethodPost, lockPath(name, "/acquire"), aliceToken, asSession(sess, map[string]any{"ephemeral": true})).ok(t, http.StatusOK)
	if r.str("lease_id") != l.id || r.num(t, "fencing_token") != l.token || !r.time(t, "expires_at").Equal(exp) {
		t.Errorf("ephemeral re-acquire = %s, want lease %s token %d expiry %s", r.raw, l.id, l.token, exp)
	}

	// Renew is refused: the session's keepalive renews it.
	s.call(t, http.MethodPost, lockPath(name, "/renew"), aliceToken, map[string]any{"lease_id": l.id, "ttl_seconds": 60}).
		problem(t, http.StatusConflict, "lock_is_ephemeral")
	s.wantHeld(t, aliceToken, name, "session:"+sess.id, l)
	s.call(t, http.MethodPost, lockPath(name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")

	// An explicit release frees it at once; the session lives on.
	s.call(t, http.MethodPost, lockPath(name, "/release"), aliceToken, map[string]string{"lease_id": l.id}).ok(t, http.StatusOK)
	s.wantFree(t, aliceToken, name)
	if _, names := s.sessionLocks(t, aliceToken, sess); len(names) != 0 {
		t.Errorf("session still lists %v after the release", names)
	}
	b := s.acquire(t, bobToken, name, nil)
	if b.token <= l.token {
		t.Errorf("grant after release: token %d, want > %d", b.token, l.token)
	}
}

// listedExpiry reports whether a listing entry's expires_at equals want.
func listedExpiry(t *testing.T, entry any, want time.Time) bool {
	t.Helper()
	m, _ := entry.(map[string]any)
	s, _ := m["expires_at"].(string)
	got, err := time.Parse(time.RFC3339Nano, s)
	return err == nil && got.Equal(want)
}

func testSessionDeleteFrees(t *testing.T, s *server) {
	sess := s.openSession(t, aliceToken, 60)
	keep := s.openSession(t, aliceToken, 60)
	delay := map[string]any{"ephemeral": true, "lock_delay_seconds": 30}
	e1 := s.acquire(t, aliceToken, "sfree/eph1", asSession(sess, delay))
	e2 := s.acquire(t, aliceToken, "sfree/eph2", asSession(sess, map[string]any{"ephemeral": true}))
	plain := s.acquire(t, aliceToken, "sfree/plain", asSession(sess, map[string]any{"ttl_seconds": 120, "lock_delay_seconds": 30}))
	other := s.acquire(t, aliceToken, "sfree/other", asSession(keep, map[string]any{"ephemeral": true}))
	user := s.acquire(t, aliceToken, "sfree/user", map[string]any{"lock_delay_seconds": 30})

	r := s.call(t, http.MethodDelete, sessionPath(sess.id, ""), aliceToken, nil)
	if r.status != http.StatusNoContent {
		t.Fatalf("DELETE session = %d %s", r.status, r.raw)
	}
	// The ephemeral locks are free at once, without their lock delay.
	s.wantFree(t, aliceToken, e1.name)
	s.wantFree(t, aliceToken, e2.name)
	for _, e := range []lease{e1, e2} {
		b := s.acquire(t, bobToken, e.name, nil)
		if b.token <= e.token {
			t.Errorf("%s after DELETE: token %d, want > %d", e.name, b.token, e.token)
		}
		s.wantHeld(t, aliceToken, e.name, "user:bob", b)
	}
	// The session's non-ephemeral lock outlives it, still held as the session.
	s.wantHeld(t, aliceToken, plain.name, "session:"+sess.id, plain)
	s.call(t, http.MethodPost, lockPath(plain.name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
	// Nothing of another session or of the user changed.
	s.wantHeld(t, aliceToken, other.name, "session:"+keep.id, other)
	s.wantHeld(t, aliceToken, user.name, "user:alice", user)
	if _, names := s.sessionLocks(t, aliceToken, keep); !slices.Equal(names, []string{other.name}) {
		t.Errorf("the other session's locks = %v", names)
	}
	// The ended session can no longer take locks.
	s.call(t, http.MethodPost, lockPath("sfree/new", "/acquire"), aliceToken, asSession(sess, nil)).
		problem(t, http.StatusNotFound, "session_not_found")
	// The outliving lock can still be released with its lease.
	s.call(t, http.MethodPost, lockPath(plain.name, "/release"), aliceToken, map[string]string{"lease_id": plain.id}).ok(t, http.StatusOK)
	s.acquire(t, bobToken, plain.name, nil)
}

// TestSessionExpiry is the one slow test (the minimum session TTL is 10 s);
// its two subtests share the wait.
//
// While up: an alice session with ephemeral locks (one with a lock delay), a
// non-ephemeral lock, and a blocking acquire queued behind bob expires.
// Its ephemeral locks are freed (the delayed one only after its delay), the
// non-ephemeral lock stays held, the session answers 410 to its owner and
// 404 to others, and the queued waiter is refused with 410 rather than
// granted a lock for a dead session.
func TestSessionExpiry(t *testing.T) {
	t.Parallel()
	// Both sessions run out during the same ten seconds: the one of the
	// stopped server first, then the one of the running server.
	down := sessionDown(t)
	t.Run("while up", testSessionExpiresWhileUp)
	t.Run("while down", down)
}

func testSessionExpiresWhileUp(t *testing.T) {
	s := newServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()

	sess := s.openSession(t, aliceToken, 10)
	holder := "session:" + sess.id
	eph := s.acquire(t, aliceToken, "sexp/eph", asSession(sess, map[string]any{"ephemeral": true}))
	delayed := s.acquire(t, aliceToken, "sexp/eph-delayed", asSession(sess, map[string]any{"ephemeral": true, "lock_delay_seconds": 2}))
	plain := s.acquire(t, aliceToken, "sexp/plain", asSession(sess, map[string]any{"ttl_seconds": 120}))
	busy := s.acquire(t, bobToken, "sexp/busy", map[string]any{"ttl_seconds": 120})
	waiter := s.goAcquire(ctx, aliceToken, busy.name, asSession(sess, map[string]any{"wait_seconds": 30}))
	s.waitWaiters(t, bobToken, busy.name, 1)
	quiet(t, "waiter before expiry", waiter, 0)
	for _, e := range []lease{eph, delayed} {
		if !e.expires.Equal(sess.expires) {
			t.Errorf("%s expires_at %s, want the session's %s", e.name, e.expires, sess.expires)
		}
	}

	// Wait for the expiry, at most a second past it.
	deadline := sess.expires.Add(time.Second)
	for {
		r := s.get(t, aliceToken, eph.name)
		if r.str("status") == "free" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ephemeral lock still held a second after its session expired: %s", r.raw)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if time.Now().Before(sess.expires) {
		t.Fatalf("ephemeral lock freed before its session expired at %s", sess.expires)
	}

	// The delayed ephemeral lock is in its lock delay, counted from the
	// session's expiry, for everyone.
	wantAvail := sess.expires.Add(2 * time.Second)
	for _, tok := range []string{bobToken, aliceToken} {
		r := s.call(t, http.MethodPost, lockPath(delayed.name, "/acquire"), tok, nil).problem(t, http.StatusLocked, "lock_delayed")
		if got := r.time(t, "available_at"); !got.Equal(wantAvail) {
			t.Errorf("available_at = %s, want session expiry + 2s = %s", got, wantAvail)
		}
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 2 {
			t.Errorf("Retry-After = %q, want 1 or 2", r.header.Get("Retry-After"))
		}
	}
	s.wantDelayedLock(t, aliceToken, delayed.name, wantAvail)

	// The plain ephemeral lock is free now; the non-ephemeral one is held.
	b := s.acquire(t, bobToken, eph.name, nil)
	if b.token <= eph.token {
		t.Errorf("grant after session expiry: token %d, want > %d", b.token, eph.token)
	}
	s.wantHeld(t, aliceToken, plain.name, holder, plain)
	s.call(t, http.MethodPost, lockPath(plain.name, "/acquire"), bobToken, nil).problem(t, http.StatusConflict, "lock_held")
	r := s.call(t, http.MethodGet, "/locks?prefix=sexp", aliceToken, nil).ok(t, http.StatusOK)
	var listed []string
	if locks, ok := r.obj["locks"].([]any); ok {
		for _, l := range locks {
			listed = append(listed, l.(map[string]any)["name"].(string))
		}
	}
	if !slices.Equal(listed, []string{busy.name, eph.name, plain.name}) {
		t.Errorf("listing after session expiry = %v, want [%s %s %s]", listed, busy.name, eph.name, plain.name)
	}

	// The owner is told the session expired, everywhere; others find nothing.
	s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), aliceToken, nil).problem(t, http.StatusGone, "session_expired")
	s.call(t, http.MethodGet, sessionPath(sess.id, ""), aliceToken, nil).problem(t, http.StatusGone, "session_expired")
	s.call(t, http.MethodPost, lockPath("sexp/new", "/acquire"), aliceToken, asSession(sess, nil)).problem(t, http.StatusGone, "session_expired")
	s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), aliceToken, nil).problem(t, http.StatusGone, "session_expired") // never revived
	s.wantFree(t, aliceToken, "sexp/new")
	for _, tok := range []string{bobToken, carolToken} {
		s.call(t, http.MethodPost, sessionPath(sess.id, "/keepalive"), tok, nil).problem(t, http.StatusNotFound, "session_not_found")
		s.call(t, http.MethodGet, sessionPath(sess.id, ""), tok, nil).problem(t, http.StatusNotFound, "session_not_found")
	}

	// The waiter's session died while it waited: when bob releases, the
	// waiter is refused, not granted, and the lock stays free.
	quiet(t, "waiter of an expired session before the release", waiter, 0)
	s.call(t, http.MethodPost, lockPath(busy.name, "/release"), bobToken, map[string]string{"lease_id": busy.id}).ok(t, http.StatusOK)
	answered(t, "waiter of an expired session", waiter, 5*time.Second).problem(t, http.StatusGone, "session_expired")
	s.wantFree(t, aliceToken, busy.name)

	// After the delay the delayed lock can be taken again.
	time.Sleep(time.Until(wantAvail.Add(30 * time.Millisecond)))
	d := s.acquire(t, bobToken, delayed.name, nil)
	if d.token <= delayed.token {
		t.Errorf("grant after the lock delay: token %d, want > %d", d.token, delayed.token)
	}
	s.call(t, http.MethodDelete, sessionPath(sess.id, ""), aliceToken, nil).problem(t, http.StatusGone, "session_expired")
	checkSpec(t, s)
}

// sessionDown opens a session with locks on a server and stops it; the
// returned subtest waits until the session's expiry has passed while the
// server was down and starts the server again. The session gets a fresh
// lease of its own TTL from the moment the server is ready (an outage must
// not cost a client its session), and with it its ephemeral locks; a
// keepalive then keeps both as usual.
func sessionDown(t *testing.T) func(*testing.T) {
	db := filepath.Join(t.TempDir(), "octostore.db")
	s1 := startServer(t, e2eConfig(db), nil, nil)
	sess := s1.openSession(t, aliceToken, 10)
	holder := "session:" + sess.id
	eph := s1.acquire(t, aliceToken, "sdown/eph", asSession(sess, map[string]any{"ephemeral": true, "lock_delay_seconds": 5}))
	plain := s1.acquire(t, aliceToken, "sdown/plain", asSession(sess, map[string]any{"ttl_seconds": 300}))
	checkSpec(t, s1)
	s1.stop()
	return func(t *testing.T) { sessionDownRestart(t, db, sess, holder, eph, plain) }
}

func sessionDownRestart(t *testing.T, db string, sess session, holder string, eph, plain lease) {
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
