package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// grant is the answer to an acquire.
type grant struct {
	ok    bool   // false: another holder has the lock (a conflict, not an error)
	lease string // what release needs: an OctoStore lease id, an etcd lock key
	token uint64 // fencing token (etcd: the answer's revision, see etcdTarget); 0 when there is none
}

// session is one client's connection-level view of a target. A session is
// used by one goroutine at a time.
type session interface {
	acquire(ctx context.Context, name string) (grant, error)
	release(ctx context.Context, name string, g grant) error
	status(ctx context.Context, name string) error
	close(ctx context.Context) error
}

// blockingSession is a session that can queue for a busy lock: its acquire
// returns only once the lock is granted (or, on OctoStore, once wait
// seconds have passed: then the grant is not ok). Targets that list the
// blocking workload open blockingSessions.
type blockingSession interface {
	session
	acquireWait(ctx context.Context, name string, wait int) (grant, error)
}

// target is a system under load.
type target interface {
	// workloads lists the workloads the target can run.
	workloads() []string
	// fenced reports whether grants carry fencing tokens worth checking.
	fenced() bool
	// open prepares client number i (each client is a distinct principal).
	open(ctx context.Context, i int) (session, error)
}

// statusError is an unexpected HTTP answer.
type statusError struct {
	method, path string
	status       int
	code         string // the problem+json code, when there is one
	body         string
}

func (e *statusError) Error() string {
	if e.code != "" {
		return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.code)
	}
	return fmt.Sprintf("%s %s: %d %s", e.method, e.path, e.status, e.body)
}

func unexpected(method, path string, status int, body []byte) error {
	e := &statusError{method: method, path: path, status: status}
	var p struct {
		Code string `json:"code"`
	}
	if json.Unmarshal(body, &p) == nil && p.Code != "" {
		e.code = p.Code
	} else {
		e.body = strings.TrimSpace(string(body[:min(len(body), 200)]))
	}
	return e
}

// --- OctoStore ---

// octoTarget is an OctoStore server; client i uses credential i.
type octoTarget struct {
	api   httpAPI
	creds []credential
	ttl   int
}

func (t *octoTarget) workloads() []string {
	return []string{"uncontended", "contended", "status", "mixed", "blocking"}
}
func (t *octoTarget) fenced() bool { return true }

func (t *octoTarget) open(_ context.Context, i int) (session, error) {
	if i >= len(t.creds) {
		return nil, fmt.Errorf("octostore: client %d has no token (only %d); clients must be distinct principals", i, len(t.creds))
	}
	body, _ := json.Marshal(map[string]int{"ttl_seconds": t.ttl})
	return &octoSession{conn: t.api.newConn(), token: t.creds[i].token, ttl: t.ttl, acquireBody: body}, nil
}

type octoSession struct {
	conn        *conn
	token       string
	ttl         int
	acquireBody []byte // {"ttl_seconds": ttl}
	waitBody    []byte // {"ttl_seconds": ttl, "wait_seconds": waitFor}
	waitFor     int
}

func lockPath(name, action string) string {
	p := "/locks/" + url.PathEscape(name) // a '/' in a name is sent as %2F
	if action != "" {
		p += "/" + action
	}
	return p
}

func (s *octoSession) acquire(ctx context.Context, name string) (grant, error) {
	return s.acquireWith(ctx, name, s.acquireBody)
}

// acquireWait queues for the lock up to wait seconds: the answer is a grant,
// or lock_held (a grant that is not ok) once the wait has run out.
func (s *octoSession) acquireWait(ctx context.Context, name string, wait int) (grant, error) {
	if s.waitBody == nil || s.waitFor != wait {
		s.waitBody, _ = json.Marshal(map[string]int{"ttl_seconds": s.ttl, "wait_seconds": wait})
		s.waitFor = wait
	}
	return s.acquireWith(ctx, name, s.waitBody)
}

func (s *octoSession) acquireWith(ctx context.Context, name string, reqBody []byte) (grant, error) {
	path := lockPath(name, "acquire")
	status, body, err := s.conn.call(ctx, http.MethodPost, path, s.token, reqBody)
	if err != nil {
		return grant{}, err
	}
	switch status {
	case http.StatusOK:
		var out struct {
			LeaseID      string `json:"lease_id"`
			FencingToken uint64 `json:"fencing_token"`
		}
		if err := json.Unmarshal(body, &out); err != nil || out.LeaseID == "" {
			return grant{}, fmt.Errorf("POST %s: bad grant %q: %v", path, body, err)
		}
		return grant{ok: true, lease: out.LeaseID, token: out.FencingToken}, nil
	case http.StatusConflict:
		err := unexpected(http.MethodPost, path, status, body)
		if se := (*statusError)(nil); errors.As(err, &se) && se.code == "lock_held" {
			return grant{}, nil
		}
		return grant{}, err
	}
	return grant{}, unexpected(http.MethodPost, path, status, body)
}

func (s *octoSession) release(ctx context.Context, name string, g grant) error {
	path := lockPath(name, "release")
	body, _ := json.Marshal(map[string]string{"lease_id": g.lease})
	status, resp, err := s.conn.call(ctx, http.MethodPost, path, s.token, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return unexpected(http.MethodPost, path, status, resp)
	}
	return nil
}

func (s *octoSession) status(ctx context.Context, name string) error {
	path := lockPath(name, "")
	status, resp, err := s.conn.call(ctx, http.MethodGet, path, s.token, nil)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return unexpected(http.MethodGet, path, status, resp)
	}
	return nil
}

func (s *octoSession) close(context.Context) error {
	s.conn.close()
	return nil
}

// --- etcd ---

// etcdTarget is etcd's v3 JSON gateway. Each client grants itself one lease
// and locks with it. etcd's lock waits instead of refusing, so of the
// workloads only uncontended and blocking are meaningful.
//
// etcd has no fencing token, but the revision in the header of a lock
// answer serves the checks of the blocking workload: per name it strictly
// increases from grant to grant (a waiter's answer carries the revision at
// which it saw its predecessor's key deleted), and a grant requested after
// another was acknowledged has a larger one (its own key is written after
// the request). Grants on different names may share a revision, so the
// revisions are not unique tokens; fenced reports false.
type etcdTarget struct {
	api    httpAPI
	prefix string // "/v3", or "/v3beta" / "/v3alpha" on older servers
}

// newEtcdTarget finds the gateway's path prefix: /v3 first, then the older
// spellings.
func newEtcdTarget(ctx context.Context, api httpAPI) (*etcdTarget, error) {
	c := api.newConn()
	defer c.close()
	var errs []error
	for _, prefix := range []string{"/v3", "/v3beta", "/v3alpha"} {
		status, body, err := c.call(ctx, http.MethodPost, prefix+"/maintenance/status", "", []byte("{}"))
		if err != nil {
			return nil, fmt.Errorf("etcd at %s: %w", api.base, err)
		}
		if status == http.StatusOK {
			return &etcdTarget{api: api, prefix: prefix}, nil
		}
		errs = append(errs, unexpected(http.MethodPost, prefix+"/maintenance/status", status, body))
	}
	return nil, fmt.Errorf("etcd at %s: no JSON gateway found: %w", api.base, errors.Join(errs...))
}

func (t *etcdTarget) workloads() []string { return []string{"uncontended", "blocking"} }
func (t *etcdTarget) fenced() bool        { return false }

func (t *etcdTarget) open(ctx context.Context, _ int) (session, error) {
	s := &etcdSession{conn: t.api.newConn(), prefix: t.prefix}
	var out struct {
		ID json.RawMessage `json:"ID"` // an int64, which the gateway writes as a string
	}
	if err := s.post(ctx, "/lease/grant", map[string]any{"TTL": 60}, &out); err != nil {
		s.conn.close()
		return nil, err
	}
	s.lease = strings.Trim(string(out.ID), `"`)
	if _, err := strconv.ParseInt(s.lease, 10, 64); err != nil {
		s.conn.close()
		return nil, fmt.Errorf("etcd lease grant: bad ID %q", out.ID)
	}
	return s, nil
}

type etcdSession struct {
	conn   *conn
	prefix string
	lease  string
}

func (s *etcdSession) post(ctx context.Context, path string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	path = s.prefix + path
	status, resp, err := s.conn.call(ctx, http.MethodPost, path, "", body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return unexpected(http.MethodPost, path, status, resp)
	}
	if out != nil {
		if err := json.Unmarshal(resp, out); err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
	}
	return nil
}

func (s *etcdSession) acquire(ctx context.Context, name string) (grant, error) {
	var out struct {
		Header struct {
			Revision json.RawMessage `json:"revision"` // an int64, written as a string
		} `json:"header"`
		Key string `json:"key"`
	}
	in := map[string]string{"name": base64.StdEncoding.EncodeToString([]byte(name)), "lease": s.lease}
	if err := s.post(ctx, "/lock/lock", in, &out); err != nil {
		return grant{}, err
	}
	if out.Key == "" {
		return grant{}, errors.New("etcd lock: no key in the answer")
	}
	// The revision is 0 when absent; the blocking workload then skips its
	// checks.
	rev, _ := strconv.ParseUint(strings.Trim(string(out.Header.Revision), `"`), 10, 64)
	return grant{ok: true, lease: out.Key, token: rev}, nil
}

// acquireWait is acquire: etcd's lock waits until it is granted (or the
// request's timeout ends it); there is no wait limit to pass.
func (s *etcdSession) acquireWait(ctx context.Context, name string, _ int) (grant, error) {
	return s.acquire(ctx, name)
}

func (s *etcdSession) release(ctx context.Context, _ string, g grant) error {
	return s.post(ctx, "/lock/unlock", map[string]string{"key": g.lease}, nil)
}

func (s *etcdSession) status(context.Context, string) error {
	return errors.New("etcd: status is not supported")
}

func (s *etcdSession) close(ctx context.Context) error {
	defer s.conn.close()
	return s.post(ctx, "/lease/revoke", map[string]string{"ID": s.lease}, nil)
}

// --- no-op ---

// noopTarget is the trivial server of noop.go: it measures what the HTTP
// round trip and JSON handling cost by themselves. It is sent the same
// paths, headers and bodies as OctoStore.
type noopTarget struct {
	api httpAPI
}

func (t *noopTarget) workloads() []string { return []string{"uncontended", "status", "mixed"} }
func (t *noopTarget) fenced() bool        { return false }

func (t *noopTarget) open(context.Context, int) (session, error) {
	return &noopSession{conn: t.api.newConn()}, nil
}

type noopSession struct{ conn *conn }

// noopAuth is a bearer token as long as the generated OctoStore ones.
const noopAuth = "octobench-noop-0000000000000000"

func (s *noopSession) expectOK(ctx context.Context, method, path string, body []byte) error {
	status, resp, err := s.conn.call(ctx, method, path, noopAuth, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return unexpected(method, path, status, resp)
	}
	var out struct {
		OK bool `json:"ok"`
	}
	if err := json.Unmarshal(resp, &out); err != nil || !out.OK {
		return fmt.Errorf("%s %s: unexpected answer %q", method, path, resp)
	}
	return nil
}

func (s *noopSession) acquire(ctx context.Context, name string) (grant, error) {
	if err := s.expectOK(ctx, http.MethodPost, lockPath(name, "acquire"), []byte(`{"ttl_seconds":60}`)); err != nil {
		return grant{}, err
	}
	return grant{ok: true, lease: "L0-noop"}, nil
}

func (s *noopSession) release(ctx context.Context, name string, g grant) error {
	return s.expectOK(ctx, http.MethodPost, lockPath(name, "release"), []byte(`{"lease_id":"`+g.lease+`"}`))
}

func (s *noopSession) status(ctx context.Context, name string) error {
	return s.expectOK(ctx, http.MethodGet, lockPath(name, ""), nil)
}

func (s *noopSession) close(context.Context) error {
	s.conn.close()
	return nil
}
