package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// The contract of the webhook routes: create (the secret never shown
// again, 25 per org, checked atomically), list, get, delete, and the
// delivery records of a dispatcher that delivers through a fake sender;
// every route scoped to the caller's org.

// receiver is a fake webhook sender: it records every attempt and answers
// by URL: a path ending in /fail gets 503, /down no answer, /slow a 503
// first and then waits for release before answering 200, anything else
// 200.
type receiver struct {
	mu       sync.Mutex
	attempts []ports.WebhookRequest
	release  chan struct{}
	slowOnce sync.Once
}

func newReceiver() *receiver { return &receiver{release: make(chan struct{})} }

func (rc *receiver) send(ctx context.Context, r ports.WebhookRequest) (int, error) {
	rc.mu.Lock()
	rc.attempts = append(rc.attempts, r)
	rc.mu.Unlock()
	switch {
	case strings.HasSuffix(r.URL, "/fail"):
		return http.StatusServiceUnavailable, nil
	case strings.HasSuffix(r.URL, "/down"):
		return 0, errors.New("dial tcp: connection refused")
	case strings.HasSuffix(r.URL, "/slow"):
		first := false
		rc.slowOnce.Do(func() { first = true })
		if first {
			return http.StatusServiceUnavailable, nil
		}
		select {
		case <-rc.release:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return http.StatusOK, nil
}

// to returns the attempts made to url.
func (rc *receiver) to(url string) []ports.WebhookRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []ports.WebhookRequest
	for _, r := range rc.attempts {
		if r.URL == url {
			out = append(out, r)
		}
	}
	return out
}

// createHook creates a webhook for token and requires 201.
func (a *api) createHook(t *testing.T, token string, body map[string]any) *response {
	t.Helper()
	r := a.post("/webhooks", token, body).ok(t, http.StatusCreated).keys(t, "id", "url", "events", "prefix", "signed", "owner", "created_at")
	if !strings.HasPrefix(r.str("id"), "wh_") || r.str("url") != body["url"] {
		t.Fatalf("%v: want a webhook of %v", r, body["url"])
	}
	if secret, _ := body["secret"].(string); secret != "" && strings.Contains(string(r.raw), secret) {
		t.Errorf("%v: the secret is shown", r)
	}
	return r
}

// deliveries returns the delivery records of webhook id once ready says
// they are what the test waits for (at most 10 s): the records' own state
// orders the test, never a sleep.
func (a *api) deliveries(t *testing.T, token, id string, ready func([]map[string]any) bool) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(testDeadline)
	for {
		r := a.get("/webhooks/"+id+"/deliveries", token).ok(t, http.StatusOK).keys(t, "deliveries")
		var ds []map[string]any
		for _, d := range r.obj["deliveries"].([]any) {
			ds = append(ds, d.(map[string]any))
		}
		if ready(ds) {
			return ds
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v: not the deliveries the test waits for", r)
		}
		time.Sleep(time.Millisecond)
	}
}

// field returns a delivery record's field as a string, "" when absent.
func field(d map[string]any, key string) string {
	switch v := d[key].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	}
	return ""
}

func TestWebhooks(t *testing.T) {
	t.Parallel()
	rc := newReceiver()
	a := newAPIWith(t, setup{send: rc.send})
	const secret = "s3cret-value-0123"
	created := a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/a", "events": []string{"lock.*"}, "prefix": "db/", "secret": secret})
	if created.str("prefix") != "db/" || created.obj["signed"] != true || !created.time(t, "created_at").Equal(a.clock.Now()) {
		t.Errorf("%v: want prefix db/, signed, created now", created)
	}
	id := created.str("id")
	a.clock.Advance(time.Millisecond)
	plain := a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/fail", "events": []string{"lock.acquired", "lock.acquired", "*"}, "prefix": "db"})
	if plain.str("prefix") != "db" || plain.obj["signed"] != false || strings.Join(toStrings(plain.obj["events"]), ",") != "lock.acquired,*" {
		t.Errorf("%v: want prefix db, unsigned, events without duplicates", plain)
	}
	a.clock.Advance(time.Millisecond)
	down := a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/down", "events": []string{"lock.released"}})

	// Read back: the same, oldest first, never the secret.
	if r := a.get("/webhooks/"+id, bobTok).ok(t, http.StatusOK); string(r.raw) != string(created.raw) {
		t.Errorf("%v: want %s", r, created.raw)
	}
	list := a.get("/webhooks", bobTok).ok(t, http.StatusOK).keys(t, "webhooks")
	hooks := list.obj["webhooks"].([]any)
	if len(hooks) != 3 || hooks[0].(map[string]any)["id"] != id || hooks[1].(map[string]any)["id"] != plain.str("id") || hooks[2].(map[string]any)["id"] != down.str("id") {
		t.Errorf("%v: want the three webhooks, oldest first", list)
	}
	if strings.Contains(string(list.raw), secret) {
		t.Errorf("%v: the secret is shown", list)
	}

	// Deliveries: one record per event, newest first, with its outcome.
	l := a.cycle(t, aliceTok, "db/x")
	a.acquire(t, aliceTok, "dbx", nil) // below no prefix here
	ds := a.deliveries(t, aliceTok, id, func(ds []map[string]any) bool {
		return len(ds) == 2 && ds[0]["state"] == "delivered" && ds[1]["state"] == "delivered"
	})
	for i, typ := range []string{"lock.released", "lock.acquired"} {
		d := (&response{obj: ds[i]}).keys(t, "id", "seq", "type", "attempts", "state", "last_status", "updated_at")
		seq := d.num(t, "seq")
		if d.str("type") != typ || d.num(t, "attempts") != 1 || d.num(t, "last_status") != 200 ||
			d.str("id") != domain.DeliveryID(domain.WebhookID(id), seq) || !d.time(t, "updated_at").Equal(a.clock.Now()) {
			t.Errorf("%v: want %s delivered at the first attempt", d.obj, typ)
		}
	}
	sent := rc.to("https://hooks.example.com/a")
	if len(sent) != 2 || sent[0].Secret != secret || sent[0].Event.Name != domain.LockName(l.name) || sent[0].Event.Kind != domain.EventLockAcquired {
		t.Errorf("attempts %+v: want the two events of %s, signed", sent, l.name)
	}
	// Events of a webhook are tried in seq order: the second after the
	// first was given up.
	failed := a.deliveries(t, aliceTok, plain.str("id"), func(ds []map[string]any) bool {
		return len(ds) == 2 && ds[0]["state"] == "failed" && ds[1]["state"] == "failed"
	})
	for i, typ := range []string{"lock.released", "lock.acquired"} {
		f := failed[i]
		(&response{obj: f}).keys(t, "id", "seq", "type", "attempts", "state", "last_status", "last_error", "updated_at")
		if field(f, "attempts") != "2" || field(f, "last_status") != "503" || field(f, "last_error") == "" || f["type"] != typ {
			t.Errorf("%v: want %s failed after 2 attempts answered 503", f, typ)
		}
	}
	noAnswer := a.deliveries(t, aliceTok, down.str("id"), func(ds []map[string]any) bool {
		return len(ds) == 1 && ds[0]["state"] == "failed"
	})[0]
	(&response{obj: noAnswer}).keys(t, "id", "seq", "type", "attempts", "state", "last_error", "updated_at")
	if !strings.Contains(field(noAnswer, "last_error"), "connection refused") {
		t.Errorf("%v: want the sender's error", noAnswer)
	}

	// A pending delivery shows when it is tried next.
	slow := a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/slow", "events": []string{"*"}})
	a.acquire(t, aliceTok, "slow/x", nil)
	pending := a.deliveries(t, aliceTok, slow.str("id"), func(ds []map[string]any) bool {
		return len(ds) == 1 && ds[0]["state"] == "pending"
	})[0]
	p := (&response{obj: pending}).keys(t, "id", "seq", "type", "attempts", "state", "last_status", "last_error", "next_attempt_at", "updated_at")
	// The backoff here is about a millisecond, the precision of times on
	// the wire: the next attempt may show as due in the same millisecond.
	if p.num(t, "attempts") != 1 || p.time(t, "next_attempt_at").Before(p.time(t, "updated_at")) {
		t.Errorf("%v: want one attempt and the next one due later", pending)
	}
	close(rc.release)
	a.deliveries(t, aliceTok, slow.str("id"), func(ds []map[string]any) bool {
		return len(ds) == 1 && ds[0]["state"] == "delivered"
	})

	// Delete: gone, with its records.
	a.call(http.MethodDelete, "/webhooks/"+id, bobTok, nil)
	for _, r := range []*response{
		a.get("/webhooks/"+id, aliceTok),
		a.call(http.MethodDelete, "/webhooks/"+id, aliceTok, nil),
		a.get("/webhooks/"+id+"/deliveries", aliceTok),
	} {
		r.problem(t, http.StatusNotFound, "webhook_not_found").nowhere(t)
	}
	if r := a.get("/webhooks", aliceTok).ok(t, http.StatusOK); len(r.obj["webhooks"].([]any)) != 3 {
		t.Errorf("%v: want three webhooks left", r)
	}
}

// TestWebhookRoutesStatuses: deleting answers 204 without a body; an id
// too long is 422; a failed commit is 503 and changes nothing.
func TestWebhookRoutesStatuses(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	id := a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/a", "events": []string{"*"}}).str("id")
	long := "/webhooks/" + strings.Repeat("w", 65)
	for _, r := range []*response{a.get(long, aliceTok), a.call(http.MethodDelete, long, aliceTok, nil), a.get(long+"/deliveries", aliceTok)} {
		r.problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "path.id")
	}
	for _, r := range []request{
		{method: http.MethodPost, path: "/webhooks", body: map[string]any{"url": "https://hooks.example.com/b", "events": []string{"*"}}},
		{method: http.MethodDelete, path: "/webhooks/" + id},
	} {
		a.journal.FailNextCommit(errors.New("disk full"))
		r.token = aliceTok
		a.send(r).problem(t, http.StatusServiceUnavailable, "unavailable").nowhere(t)
	}
	if r := a.get("/webhooks", aliceTok).ok(t, http.StatusOK); len(r.obj["webhooks"].([]any)) != 1 {
		t.Errorf("%v: a failed commit changed the webhooks", r)
	}
	r := a.call(http.MethodDelete, "/webhooks/"+id, aliceTok, nil)
	if r.status != http.StatusNoContent || len(r.raw) != 0 {
		t.Errorf("%v: want 204 without a body", r)
	}
	a.get("/webhooks/"+id+"/deliveries", aliceTok).problem(t, http.StatusNotFound, "webhook_not_found")
}

// TestWebhookOrgIsolation: another org neither sees nor touches a webhook,
// and its own webhooks get only its own events.
func TestWebhookOrgIsolation(t *testing.T) {
	t.Parallel()
	rc := newReceiver()
	a := newAPIWith(t, setup{send: rc.send})
	acme := a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/acme", "events": []string{"*"}}).str("id")
	globex := a.createHook(t, carolTok, map[string]any{"url": "https://hooks.example.com/globex", "events": []string{"*"}}).str("id")
	for _, r := range []*response{
		a.get("/webhooks/"+acme, carolTok),
		a.get("/webhooks/"+acme+"/deliveries", carolTok),
		a.call(http.MethodDelete, "/webhooks/"+acme, carolTok, nil),
	} {
		r.problem(t, http.StatusNotFound, "webhook_not_found")
	}
	if r := a.get("/webhooks", carolTok).ok(t, http.StatusOK); len(r.obj["webhooks"].([]any)) != 1 || !strings.Contains(string(r.raw), globex) {
		t.Errorf("%v: want only globex's webhook", r)
	}
	a.cycle(t, aliceTok, "db/x")
	a.acquire(t, carolTok, "db/x", nil)
	a.deliveries(t, carolTok, globex, func(ds []map[string]any) bool { return len(ds) == 1 && ds[0]["state"] == "delivered" })
	a.deliveries(t, aliceTok, acme, func(ds []map[string]any) bool { return len(ds) == 2 })
	for _, r := range rc.to("https://hooks.example.com/globex") {
		if r.Event.Org != "globex" {
			t.Errorf("globex's webhook got %+v", r.Event)
		}
	}
	for _, r := range rc.to("https://hooks.example.com/acme") {
		if r.Event.Org != "acme" {
			t.Errorf("acme's webhook got %+v", r.Event)
		}
	}
}

// TestWebhookCap: an org has at most 25 webhooks, however many creates
// race for the last places.
func TestWebhookCap(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	var chans []<-chan *response
	for i := range 30 {
		chans = append(chans, a.goSend(request{method: http.MethodPost, path: "/webhooks", token: aliceTok,
			body: map[string]any{"url": "https://hooks.example.com/" + strconv.Itoa(i), "events": []string{"*"}}}))
	}
	created := 0
	for i, ch := range chans {
		r := answer(t, "create "+strconv.Itoa(i), ch)
		if r.status == http.StatusCreated {
			created++
			continue
		}
		r.problem(t, http.StatusTooManyRequests, "quota_exceeded").nowhere(t)
	}
	if created != 25 {
		t.Errorf("%d created, want 25", created)
	}
	if r := a.get("/webhooks", bobTok).ok(t, http.StatusOK); len(r.obj["webhooks"].([]any)) != 25 {
		t.Errorf("%v: want 25 webhooks", r)
	}
	a.post("/webhooks", bobTok, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}}).problem(t, http.StatusTooManyRequests, "quota_exceeded")
	a.createHook(t, carolTok, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"*"}}) // another org
}

// TestWebhookInvalid: each field out of its rules is refused with 422
// naming it; an address that is not public only where private delivery
// is not allowed.
func TestWebhookInvalid(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	ok := `"url":"https://hooks.example.com/x","events":["*"]`
	for _, c := range []struct{ name, body, code, loc string }{
		{"http", `{"url":"http://hooks.example.com/x","events":["*"]}`, "invalid_webhook_url", "body.url"},
		{"credentials", `{"url":"https://user:pw@hooks.example.com/x","events":["*"]}`, "invalid_webhook_url", "body.url"},
		{"relative", `{"url":"/x","events":["*"]}`, "invalid_webhook_url", "body.url"},
		{"not a URL", `{"url":"not a url","events":["*"]}`, "invalid_webhook_url", "body.url"},
		{"empty URL", `{"url":"","events":["*"]}`, "validation_failed", "body.url"},
		{"URL over 2048", `{"url":"https://h.example.com/` + strings.Repeat("x", 2048) + `","events":["*"]}`, "validation_failed", "body.url"},
		{"loopback", `{"url":"https://127.0.0.1/x","events":["*"]}`, "webhook_address_not_allowed", "body.url"},
		{"private", `{"url":"https://10.0.0.1/x","events":["*"]}`, "webhook_address_not_allowed", "body.url"},
		{"metadata service", `{"url":"https://169.254.169.254/latest/meta-data","events":["*"]}`, "webhook_address_not_allowed", "body.url"},
		{"IPv6 loopback", `{"url":"https://[::1]/x","events":["*"]}`, "webhook_address_not_allowed", "body.url"},
		{"IPv4-mapped loopback", `{"url":"https://[::ffff:127.0.0.1]/x","events":["*"]}`, "webhook_address_not_allowed", "body.url"},
		{"localhost", `{"url":"https://localhost:8443/x","events":["*"]}`, "webhook_address_not_allowed", "body.url"},
		{"unknown event", `{"url":"https://hooks.example.com/x","events":["lock.stolen"]}`, "invalid_event_type", "body.events"},
		{"session event", `{"url":"https://hooks.example.com/x","events":["session.opened"]}`, "invalid_event_type", "body.events"},
		{"no event", `{"url":"https://hooks.example.com/x","events":[]}`, "invalid_event_type", "body.events"},
		{"events null", `{"url":"https://hooks.example.com/x","events":null}`, "validation_failed", "body.events"},
		{"no events", `{"url":"https://hooks.example.com/x"}`, "validation_failed", "body"},
		{"secret with a tab", `{` + ok + `,"secret":"tab\there"}`, "invalid_webhook_secret", "body.secret"},
		{"secret not ASCII", `{` + ok + `,"secret":"café-secret"}`, "invalid_webhook_secret", "body.secret"},
		{"secret over 256", `{` + ok + `,"secret":"` + strings.Repeat("s", 257) + `"}`, "validation_failed", "body.secret"},
		{"prefix with an empty component", `{` + ok + `,"prefix":"a//b"}`, "invalid_name", "body.prefix"},
		{"unknown field", `{` + ok + `,"active":true}`, "validation_failed", "body.active"},
		{"not UTF-8", "{\"url\":\"https://hooks.example.com/\xff\",\"events\":[\"*\"]}", "invalid_utf8", "body.url"},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.post("/webhooks", aliceTok, c.body).problem(t, http.StatusUnprocessableEntity, c.code).at(t, c.loc)
		})
	}
	if r := a.get("/webhooks", aliceTok).ok(t, http.StatusOK); len(r.obj["webhooks"].([]any)) != 0 {
		t.Errorf("%v: a refused webhook was created", r)
	}
	// Where private delivery is allowed, http:// and private addresses are fine.
	p := newAPIWith(t, setup{allowPrivate: true})
	for _, u := range []string{"http://127.0.0.1:9/x", "https://10.0.0.1/x", "http://localhost/x"} {
		p.createHook(t, aliceTok, map[string]any{"url": u, "events": []string{"*"}})
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, e := range list {
		s, _ := e.(string)
		out = append(out, s)
	}
	return out
}
