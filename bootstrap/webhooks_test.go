package bootstrap_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// hookSecret signs the deliveries of the end-to-end webhooks.
const hookSecret = "e2e-webhook-secret"

// delivery is one request a receiver got.
type delivery struct {
	header http.Header
	body   []byte
}

// receiver is a real HTTP webhook receiver. fail decides, per request,
// whether it answers 503 instead of 204.
type receiver struct {
	srv  *httptest.Server
	mu   sync.Mutex
	got  []delivery
	fail bool
	seen chan struct{}
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	r := &receiver{seen: make(chan struct{}, 1000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.got = append(r.got, delivery{header: req.Header.Clone(), body: body})
		fail := r.fail
		r.mu.Unlock()
		r.seen <- struct{}{}
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) setFail(f bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fail = f
}

// await waits for n more requests.
func (r *receiver) await(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-r.seen:
		case <-time.After(30 * time.Second):
			t.Fatalf("the receiver got no request (has %d)", len(r.deliveries()))
		}
	}
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// checkSigned verifies both signatures of d byte for byte.
func checkSigned(t *testing.T, d delivery) {
	t.Helper()
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(d.body)
	if got, want := d.header.Get("X-OctoStore-Signature"), "sha256="+hex.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("X-OctoStore-Signature = %q, want %q", got, want)
	}
	id, ts := d.header.Get("webhook-id"), d.header.Get("webhook-timestamp")
	if id == "" || id != d.header.Get("X-OctoStore-Delivery") {
		t.Errorf("webhook-id %q, X-OctoStore-Delivery %q", id, d.header.Get("X-OctoStore-Delivery"))
	}
	if _, err := strconv.ParseInt(ts, 10, 64); err != nil {
		t.Errorf("webhook-timestamp %q: %v", ts, err)
	}
	mac = hmac.New(sha256.New, []byte(hookSecret))
	mac.Write([]byte(id + "." + ts + "."))
	mac.Write(d.body)
	if got, want := d.header.Get("webhook-signature"), "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)); got != want {
		t.Errorf("webhook-signature = %q, want %q", got, want)
	}
	if ct := d.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
}

type hookEvent struct {
	Seq    uint64 `json:"seq"`
	Type   string `json:"type"`
	Name   string `json:"name"`
	Token  uint64 `json:"fencing_token"`
	Holder string `json:"holder"`
	At     string `json:"at"`
}

func decodeHook(t *testing.T, d delivery) hookEvent {
	t.Helper()
	var e hookEvent
	if err := json.Unmarshal(d.body, &e); err != nil {
		t.Fatalf("delivery body %s: %v", d.body, err)
	}
	if d.header.Get("X-OctoStore-Event") != e.Type {
		t.Errorf("X-OctoStore-Event %q, body type %q", d.header.Get("X-OctoStore-Event"), e.Type)
	}
	return e
}

// createHook subscribes url to events below prefix for token's org.
func (s *server) createHook(t *testing.T, token, url, prefix string, events ...string) string {
	t.Helper()
	r := s.call(t, http.MethodPost, "/webhooks", token, map[string]any{
		"url": url, "events": events, "prefix": prefix, "secret": hookSecret,
	}).ok(t, http.StatusCreated)
	if _, leaked := r.obj["secret"]; leaked {
		t.Fatalf("the secret is echoed: %s", r.raw)
	}
	return r.str("id")
}

// TestWebhookDeliveredSignedInOrder runs the whole path: a real SQLite
// file, the real dispatcher and sender, a real receiver. Deliveries are
// signed both ways, carry only the subscribed org's wanted events, and
// arrive in seq order.
func TestWebhookDeliveredSignedInOrder(t *testing.T) {
	cfg := e2eConfig(filepath.Join(t.TempDir(), "octostore.db"))
	cfg.WebhookAllowPrivate = true // the receiver is on loopback
	s := startServer(t, cfg, nil, nil)
	rcv := newReceiver(t)
	s.createHook(t, aliceToken, rcv.srv.URL+"/hook", "db/", "lock.*")

	a := s.acquire(t, aliceToken, "db/a", map[string]any{"ttl_seconds": 60})
	s.acquire(t, carolToken, "db/a", map[string]any{"ttl_seconds": 60}) // another org
	s.acquire(t, bobToken, "dbx", map[string]any{"ttl_seconds": 60})    // not below db/
	s.call(t, http.MethodPost, lockPath("db/a", "/release"), aliceToken, map[string]any{"lease_id": a.id}).ok(t, http.StatusOK)
	b := s.acquire(t, bobToken, "db/b", map[string]any{"ttl_seconds": 60})
	rcv.await(t, 3)

	ds := rcv.deliveries()
	var got []string
	var last uint64
	for _, d := range ds {
		checkSigned(t, d)
		e := decodeHook(t, d)
		if e.Seq <= last {
			t.Errorf("seq %d after %d: out of order", e.Seq, last)
		}
		last = e.Seq
		got = append(got, fmt.Sprintf("%s %s %d %s", e.Type, e.Name, e.Token, e.Holder))
	}
	want := fmt.Sprint([]string{
		fmt.Sprintf("lock.acquired db/a %d acme/alice", a.token),
		fmt.Sprintf("lock.released db/a %d acme/alice", a.token),
		fmt.Sprintf("lock.acquired db/b %d acme/bob", b.token),
	})
	if fmt.Sprint(got) != want {
		t.Fatalf("delivered %v, want %v", got, want)
	}
	checkSpec(t, s)
}

// TestWebhookDeliveryFailedBeforeRestartIsDeliveredAfter: the first
// attempt fails, the server stops, and the restarted server delivers the
// same event under the same delivery id.
func TestWebhookDeliveryFailedBeforeRestartIsDeliveredAfter(t *testing.T) {
	db := filepath.Join(t.TempDir(), "octostore.db")
	cfg := e2eConfig(db)
	cfg.WebhookAllowPrivate = true
	cfg.Webhooks.Backoff = 50 * time.Millisecond
	rcv := newReceiver(t)
	rcv.setFail(true) // every attempt before the restart fails

	s := startServer(t, cfg, nil, nil)
	id := s.createHook(t, aliceToken, rcv.srv.URL+"/hook", "", "lock.acquired")
	s.acquire(t, aliceToken, "job", map[string]any{"ttl_seconds": 60})
	rcv.await(t, 1)
	for range 3000 { // the failed attempt is recorded (bounded poll of stored state)
		r := s.call(t, http.MethodGet, "/webhooks/"+id+"/deliveries", aliceToken, nil).ok(t, http.StatusOK)
		if ds, _ := r.obj["deliveries"].([]any); len(ds) == 1 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	s.stop()
	before := rcv.deliveries()
	rcv.setFail(false)

	s = startServer(t, cfg, nil, nil)
	deadline := time.Now().Add(30 * time.Second)
	var d map[string]any
	for time.Now().Before(deadline) {
		r := s.call(t, http.MethodGet, "/webhooks/"+id+"/deliveries", aliceToken, nil).ok(t, http.StatusOK)
		ds, _ := r.obj["deliveries"].([]any)
		if len(ds) == 1 {
			if d, _ = ds[0].(map[string]any); d["state"] == "delivered" {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	if d["state"] != "delivered" {
		t.Fatalf("after the restart the delivery is %v", d)
	}
	// An attempt made just before the stop may not have been recorded;
	// the one recorded and the one after the restart are counted.
	if n, _ := strconv.Atoi(fmt.Sprint(d["attempts"])); n < 2 || len(before) < 1 {
		t.Fatalf("attempts = %v (%d requests before the restart), want the recorded failure and the delivery", d["attempts"], len(before))
	}
	all := rcv.deliveries()
	first, lastTry := all[0], all[len(all)-1]
	if lastTry.header.Get("X-OctoStore-Delivery") != first.header.Get("X-OctoStore-Delivery") || string(lastTry.body) != string(first.body) {
		t.Fatalf("the delivery after the restart differs: %s %s vs %s %s",
			lastTry.header.Get("X-OctoStore-Delivery"), lastTry.body, first.header.Get("X-OctoStore-Delivery"), first.body)
	}
	checkSigned(t, lastTry)
}

// TestWebhookRefusesNonPublicAddresses: without webhook_allow_private a
// webhook cannot point at loopback, private, link-local or metadata
// addresses, or use http://.
func TestWebhookRefusesNonPublicAddresses(t *testing.T) {
	s := newServer(t)
	for _, u := range []string{"https://127.0.0.1/hook", "https://10.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
		"https://[::1]/hook", "https://localhost/hook"} {
		s.call(t, http.MethodPost, "/webhooks", aliceToken, map[string]any{"url": u, "events": []string{"*"}}).
			problem(t, http.StatusUnprocessableEntity, "webhook_address_not_allowed")
	}
	s.call(t, http.MethodPost, "/webhooks", aliceToken, map[string]any{"url": "http://hooks.example.com/", "events": []string{"*"}}).
		problem(t, http.StatusUnprocessableEntity, "invalid_webhook_url")
	if r := s.call(t, http.MethodGet, "/webhooks", aliceToken, nil).ok(t, http.StatusOK); len(r.obj["webhooks"].([]any)) != 0 {
		t.Fatalf("a refused webhook was stored: %s", r.raw)
	}
}
