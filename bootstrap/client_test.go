package bootstrap_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/octostore/octostore/clienttest"
)

// newClient returns a client generated from openapi.yaml that talks to s
// with token (none when empty).
func newClient(t *testing.T, s *server, token string) *clienttest.ClientWithResponses {
	t.Helper()
	opts := []clienttest.ClientOption{clienttest.WithHTTPClient(s.client)}
	if token != "" {
		opts = append(opts, clienttest.WithRequestEditorFn(func(_ context.Context, r *http.Request) error {
			r.Header.Set("Authorization", "Bearer "+token)
			return nil
		}))
	}
	c, err := clienttest.NewClientWithResponses(s.base, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// must takes a generated client call's results and returns a check that
// fails the test on a transport error and unless the response has status
// want, and otherwise returns the response:
// must(c.HealthWithResponse(ctx))(t, 200).
func must[R interface {
	StatusCode() int
	comparable
}](r R, err error) func(t *testing.T, want int) R {
	return func(t *testing.T, want int) R {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var zero R
		if r == zero || r.StatusCode() != want {
			t.Fatalf("%T: status %d, want %d", r, r.StatusCode(), want)
		}
		return r
	}
}

// TestGeneratedClientWalkThrough runs the README's walk-through with the
// client that oapi-codegen generated from openapi.yaml: if the description
// and the server disagree (a path, a parameter's encoding, a status, a
// field's type or name), the generated client fails here.
func TestGeneratedClientWalkThrough(t *testing.T) {
	s := newServer(t)
	ctx := context.Background()
	alice, bob := newClient(t, s, aliceToken), newClient(t, s, bobToken)
	const name = "db/primary" // sent as db%2Fprimary by the client

	// Alice takes the lock as client host-a.
	acq := must(alice.AcquireLockWithResponse(ctx, name, clienttest.AcquireRequest{
		TtlSeconds: new(int64(30)), Metadata: new("host-a:5432"), Owner: new("host-a"),
	}))(t, http.StatusOK).JSON200
	if acq == nil || acq.Status != clienttest.Acquired || acq.Name != name || acq.FencingToken != 1 ||
		acq.Holder != "acme/alice" || acq.Owner == nil || *acq.Owner != "host-a" || acq.Metadata != "host-a:5432" {
		t.Fatalf("acquire: %+v", acq)
	}

	// Bob, and Alice without her owner, are refused: lock_held with the
	// holder's expiry.
	for who, c := range map[string]*clienttest.ClientWithResponses{"bob": bob, "alice without owner": alice} {
		r := must(c.AcquireLockWithResponse(ctx, name, clienttest.AcquireRequest{}))(t, http.StatusConflict)
		p := r.ApplicationproblemJSON409
		if p == nil || p.Code != "lock_held" || p.ExpiresAt == nil || !p.ExpiresAt.Equal(acq.ExpiresAt) ||
			r.HTTPResponse.Header.Get("Retry-After") == "" {
			t.Errorf("%s: conflict %+v %v", who, p, r.HTTPResponse.Header)
		}
	}

	// Bob sees who holds it, and lists it.
	info := must(bob.GetLockWithResponse(ctx, name))(t, http.StatusOK).JSON200
	if info.Status != clienttest.Held || *info.FencingToken != 1 || *info.Holder != "acme/alice" || *info.Owner != "host-a" ||
		info.Waiters != 0 || !info.ExpiresAt.Equal(acq.ExpiresAt) {
		t.Errorf("get: %+v", info)
	}
	list := must(bob.ListLocksWithResponse(ctx, &clienttest.ListLocksParams{Prefix: new("db")}))(t, http.StatusOK).JSON200
	if len(list.Locks) != 1 || list.Locks[0].Name != name || list.NextCursor != nil {
		t.Errorf("list: %+v", list)
	}

	// The same owner re-acquires: the same lease and token.
	again := must(alice.AcquireLockWithResponse(ctx, name, clienttest.AcquireRequest{Owner: new("host-a")}))(t, http.StatusOK).JSON200
	if again.LeaseId != acq.LeaseId || again.FencingToken != acq.FencingToken {
		t.Errorf("re-acquire: %+v, want lease %s token %d", again, acq.LeaseId, acq.FencingToken)
	}

	// Renew, release; then Bob gets it with token 2.
	renewed := must(alice.RenewLockWithResponse(ctx, name, clienttest.RenewRequest{
		LeaseId: acq.LeaseId, TtlSeconds: new(int64(60)),
	}))(t, http.StatusOK).JSON200
	if renewed.Status != clienttest.Renewed || renewed.LeaseId != acq.LeaseId || !renewed.ExpiresAt.After(acq.ExpiresAt) {
		t.Errorf("renew: %+v", renewed)
	}
	released := must(alice.ReleaseLockWithResponse(ctx, name, clienttest.ReleaseRequest{LeaseId: acq.LeaseId}))(t, http.StatusOK).JSON200
	if released.Status != clienttest.ReleasedStatusReleased || released.Name != name {
		t.Errorf("release: %+v", released)
	}
	if b := must(bob.AcquireLockWithResponse(ctx, name, clienttest.AcquireRequest{}))(t, http.StatusOK).JSON200; b.FencingToken != 2 || b.Holder != "acme/bob" {
		t.Errorf("bob's acquire: %+v", b)
	}

	// A session, kept alive, holding an ephemeral lock.
	sess := must(alice.OpenSessionWithResponse(ctx, clienttest.OpenSessionRequest{TtlSeconds: new(int64(30))}))(t, http.StatusCreated).JSON201
	if sess.SessionId == "" || sess.TtlSeconds != 30 || sess.KeepaliveIntervalSeconds != 10 {
		t.Fatalf("open session: %+v", sess)
	}
	kept := must(alice.KeepaliveSessionWithResponse(ctx, sess.SessionId))(t, http.StatusOK).JSON200
	if kept.SessionId != sess.SessionId || kept.ExpiresAt.Before(sess.ExpiresAt) {
		t.Errorf("keepalive: %+v", kept)
	}
	leader := must(alice.AcquireLockWithResponse(ctx, "leader", clienttest.AcquireRequest{
		SessionId: &sess.SessionId, Ephemeral: new(true), LockDelaySeconds: new(int64(5)),
	}))(t, http.StatusOK).JSON200
	if leader.FencingToken != 3 || leader.Ephemeral == nil || !*leader.Ephemeral || *leader.SessionId != sess.SessionId {
		t.Errorf("ephemeral acquire: %+v", leader)
	}
	got := must(alice.GetSessionWithResponse(ctx, sess.SessionId))(t, http.StatusOK).JSON200
	if len(got.Locks) != 1 || got.Locks[0] != "leader" {
		t.Errorf("get session: %+v", got)
	}

	// Validate: the holder's token, and a lock nobody holds (null).
	v := must(bob.ValidateLockWithResponse(ctx, "leader", clienttest.ValidateRequest{FencingToken: leader.FencingToken}))(t, http.StatusOK).JSON200
	if !v.Valid || v.CurrentToken == nil || *v.CurrentToken != leader.FencingToken {
		t.Errorf("validate: %+v", v)
	}
	v = must(bob.ValidateLockWithResponse(ctx, "nobody-holds-this", clienttest.ValidateRequest{FencingToken: 1}))(t, http.StatusOK).JSON200
	if v.Valid || v.CurrentToken != nil {
		t.Errorf("validate a free lock: %+v", v)
	}

	// Closing the session frees its ephemeral lock at once.
	must(alice.CloseSessionWithResponse(ctx, sess.SessionId))(t, http.StatusNoContent)
	if info := must(bob.GetLockWithResponse(ctx, "leader"))(t, http.StatusOK).JSON200; info.Status != clienttest.Free {
		t.Errorf("leader after the session closed: %+v", info)
	}
	if p := must(alice.KeepaliveSessionWithResponse(ctx, sess.SessionId))(t, http.StatusNotFound).ApplicationproblemJSON404; p == nil || p.Code != "session_not_found" {
		t.Errorf("keepalive of a closed session: %+v", p)
	}

	// The public and the admin route.
	if h := must(newClient(t, s, "").HealthWithResponse(ctx))(t, http.StatusOK).JSON200; h.Status != clienttest.HealthReportStatusOk {
		t.Errorf("health: %+v", h)
	}
	if st := must(newClient(t, s, adminTok).AdminStatsWithResponse(ctx))(t, http.StatusOK).JSON200; st.Batches == 0 {
		t.Errorf("admin stats: %+v", st)
	}
}
