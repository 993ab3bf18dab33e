package httpapi_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The contract of the admin's force release and of the dashboard's JSON
// routes: admin token only, every org visible, and a forced release that
// ends the holder's lease at once and says so in its event.

// forcePath is the force release route of org's lock name.
func forcePath(org, name string) string {
	return "/admin/orgs/" + org + "/locks/" + url.PathEscape(name) + "/release"
}

// decodeInto decodes r's body into v.
func decodeInto(t *testing.T, r *response, v any) {
	t.Helper()
	if err := json.Unmarshal(r.raw, v); err != nil {
		t.Fatalf("%v: %v", r, err)
	}
}

type adminEvent struct {
	Org          string `json:"org"`
	Seq          uint64 `json:"seq"`
	Type         string `json:"type"`
	Name         string `json:"name"`
	FencingToken uint64 `json:"fencing_token"`
	Holder       string `json:"holder"`
	ForcedBy     string `json:"forced_by"`
}

type adminEventPage struct {
	Events    []adminEvent `json:"events"`
	NextAfter uint64       `json:"next_after"`
	Reset     bool         `json:"reset"`
}

// TestForceRelease: the admin frees alice's lock; her lease is dead for
// renew, release and validate, bob's blocking acquire gets the lock at once
// (no lock delay), and every reader sees a lock.released forced by the
// admin.
func TestForceRelease(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "db/primary", map[string]any{"lock_delay_seconds": 60})
	bob := a.goSend(request{method: http.MethodPost, path: lockPath("db/primary", "/acquire"), token: bobTok,
		body: map[string]any{"wait_seconds": 30}})
	a.waitWaiters(t, "db/primary", 1)

	a.post(forcePath("acme", "db/primary"), aliceTok, nil).problem(t, http.StatusForbidden, "admin_only").nowhere(t)
	r := a.post(forcePath("acme", "db/primary"), adminTok, nil).ok(t, http.StatusOK)
	r.keys(t, "org", "name", "holder", "fencing_token", "acquired_at", "expires_at")
	if r.str("org") != "acme" || r.str("name") != "db/primary" || r.str("holder") != "acme/alice" || r.num(t, "fencing_token") != l.token ||
		!r.time(t, "expires_at").Equal(l.expires) {
		t.Errorf("%v: want alice's lease %+v", r, l)
	}
	b := answer(t, "bob's blocking acquire", bob).ok(t, http.StatusOK)
	if b.str("status") != "acquired" || b.num(t, "fencing_token") <= l.token {
		t.Errorf("%v: bob did not get the lock with a newer token", b)
	}
	a.post(lockPath(l.name, "/renew"), aliceTok, map[string]any{"lease_id": l.id}).problem(t, http.StatusConflict, "lease_not_current")
	a.post(lockPath(l.name, "/release"), aliceTok, map[string]any{"lease_id": l.id}).problem(t, http.StatusConflict, "lease_not_current")
	if v := a.post(lockPath(l.name, "/validate"), aliceTok, map[string]any{"fencing_token": l.token}).ok(t, http.StatusOK); v.obj["valid"] != false {
		t.Errorf("%v: alice's token still validates", v)
	}

	// The events page of the org and the admin's tail both show it.
	var page struct {
		Events []adminEvent `json:"events"`
	}
	ev := a.get("/events", aliceTok).ok(t, http.StatusOK)
	if n := strings.Count(string(ev.raw), "forced_by"); n != 1 {
		t.Errorf("%v: forced_by appears %d times, want once (only on the forced release)", ev, n)
	}
	decodeInto(t, ev, &page)
	forced := 0
	for _, e := range page.Events {
		if e.ForcedBy != "" {
			forced++
			if e.Type != "lock.released" || e.ForcedBy != "admin" || e.FencingToken != l.token || e.Holder != "acme/alice" {
				t.Errorf("forced event %+v, want lock.released of token %d by admin", e, l.token)
			}
		}
	}
	if forced != 1 {
		t.Errorf("events %+v: want exactly one forced release", page.Events)
	}
	var tail adminEventPage
	decodeInto(t, a.get("/admin/api/events?org=acme", adminTok).ok(t, http.StatusOK), &tail)
	if n := len(tail.Events); n < 3 || tail.Events[n-2].ForcedBy != "admin" || tail.Events[n-2].Org != "acme" ||
		tail.Events[n-1].Type != "lock.acquired" || tail.Events[n-1].Holder != "acme/bob" {
		t.Errorf("tail %+v: want the forced release, then bob's grant", tail.Events)
	}

	// Not held (never, another org's name, expired): 404.
	a.post(forcePath("acme", "nobody/holds"), adminTok, nil).problem(t, http.StatusNotFound, "lock_not_found").nowhere(t)
	a.post(forcePath("globex", "db/primary"), adminTok, nil).problem(t, http.StatusNotFound, "lock_not_found").nowhere(t)
	short := a.acquire(t, carolTok, "short", map[string]any{"ttl_seconds": 1})
	a.clock.Advance(2 * time.Second)
	a.post(forcePath("globex", short.name), adminTok, nil).problem(t, http.StatusNotFound, "lock_not_found")
	// Bad names.
	a.post(forcePath("acme", "a//b"), adminTok, nil).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
	a.post("/admin/orgs/a%20b/locks/x/release", adminTok, nil).problem(t, http.StatusUnprocessableEntity, "invalid_org").at(t, "path.org")
	// A failed commit frees nothing.
	a.journal.FailNextCommit(errors.New("disk full"))
	a.post(forcePath("acme", "db/primary"), adminTok, nil).problem(t, http.StatusServiceUnavailable, "unavailable").nowhere(t)
	if s := a.status(t, aliceTok, "db/primary"); s.str("holder") != "acme/bob" {
		t.Errorf("%v: a failed force release changed the lock", s)
	}
}

// TestAdminDashboardAPI: the overview counts each org's use, and the admin
// reads any org's locks, sessions and webhooks.
func TestAdminDashboardAPI(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{allowPrivate: true})
	s := a.openSession(t, aliceTok, 60)
	a.acquire(t, aliceTok, "db/primary", withSession(s, nil))
	a.acquire(t, aliceTok, "db/replica", nil)
	a.acquire(t, aliceTok, "cache", nil)
	a.acquire(t, carolTok, "db/primary", nil)
	a.post("/webhooks", aliceTok, map[string]any{"url": "http://127.0.0.1:1/hook", "events": []string{"lock.*"}}).ok(t, http.StatusCreated)

	var ov struct {
		Orgs []struct {
			Org          string `json:"org"`
			LocksHeld    int    `json:"locks_held"`
			SessionsOpen int    `json:"sessions_open"`
			Waiters      int    `json:"waiters"`
			Webhooks     int    `json:"webhooks"`
			WatchStreams int    `json:"watch_streams"`
		} `json:"orgs"`
		Totals struct {
			Orgs      int `json:"orgs"`
			LocksHeld int `json:"locks_held"`
		} `json:"totals"`
	}
	decodeInto(t, a.get("/admin/api/overview", adminTok).ok(t, http.StatusOK), &ov)
	if len(ov.Orgs) != 2 || ov.Orgs[0].Org != "acme" || ov.Orgs[0].LocksHeld != 3 || ov.Orgs[0].SessionsOpen != 1 || ov.Orgs[0].Webhooks != 1 ||
		ov.Orgs[1].Org != "globex" || ov.Orgs[1].LocksHeld != 1 || ov.Totals.Orgs != 2 || ov.Totals.LocksHeld != 4 {
		t.Errorf("overview %+v: want acme with 3 locks, a session and a webhook, globex with 1 lock", ov)
	}

	r := a.get("/admin/api/orgs/acme/locks?prefix=db&limit=1", adminTok).ok(t, http.StatusOK)
	var locks struct {
		Locks []struct {
			Name      string `json:"name"`
			Holder    string `json:"holder"`
			SessionID string `json:"session_id"`
			Waiters   int    `json:"waiters"`
		} `json:"locks"`
		NextCursor string `json:"next_cursor"`
	}
	decodeInto(t, r, &locks)
	if len(locks.Locks) != 1 || locks.Locks[0].Name != "db/primary" || locks.Locks[0].Holder != "acme/alice" || locks.Locks[0].SessionID != s.id || locks.NextCursor == "" {
		t.Fatalf("%v: want db/primary of alice's session and a next page", r)
	}
	r = a.get("/admin/api/orgs/acme/locks?prefix=db&cursor="+locks.NextCursor, adminTok).ok(t, http.StatusOK)
	if strings.Contains(string(r.raw), "lease_id") || !strings.Contains(string(r.raw), `"db/replica"`) || strings.Contains(string(r.raw), "cache") {
		t.Errorf("%v: want db/replica only, no lease id", r)
	}
	a.get("/admin/api/orgs/acme/locks?prefix=db//", adminTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "query.prefix")
	a.get("/admin/api/orgs/acme/locks?cursor=!!", adminTok).problem(t, http.StatusUnprocessableEntity, "invalid_cursor").at(t, "query.cursor")

	var sessions struct {
		Org      string `json:"org"`
		Sessions []struct {
			SessionID string   `json:"session_id"`
			User      string   `json:"user"`
			Locks     []string `json:"locks"`
		} `json:"sessions"`
	}
	decodeInto(t, a.get("/admin/api/orgs/acme/sessions", adminTok).ok(t, http.StatusOK), &sessions)
	if len(sessions.Sessions) != 1 || sessions.Sessions[0].SessionID != s.id || sessions.Sessions[0].User != "alice" ||
		len(sessions.Sessions[0].Locks) != 1 || sessions.Sessions[0].Locks[0] != "db/primary" {
		t.Errorf("sessions %+v: want alice's session holding db/primary", sessions)
	}
	decodeInto(t, a.get("/admin/api/orgs/globex/sessions", adminTok).ok(t, http.StatusOK), &sessions)
	if len(sessions.Sessions) != 0 || sessions.Org != "globex" {
		t.Errorf("globex sessions %+v: want none", sessions)
	}

	r = a.get("/admin/api/orgs/acme/webhooks", adminTok).ok(t, http.StatusOK)
	var hooks struct {
		Webhooks []struct {
			Webhook struct {
				URL string `json:"url"`
			} `json:"webhook"`
			Health struct {
				Behind uint64 `json:"behind"`
			} `json:"health"`
		} `json:"webhooks"`
	}
	decodeInto(t, r, &hooks)
	if len(hooks.Webhooks) != 1 || hooks.Webhooks[0].Webhook.URL != "http://127.0.0.1:1/hook" || strings.Contains(string(r.raw), "secret") {
		t.Errorf("%v: want acme's webhook, no secret", r)
	}
	if r := a.get("/admin/api/orgs/globex/webhooks", adminTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"webhooks":[]`) {
		t.Errorf("%v: want no webhooks", r)
	}

	for _, path := range []string{"/admin/api/orgs/a%20b/locks", "/admin/api/orgs/a%20b/sessions", "/admin/api/orgs/a%20b/webhooks"} {
		a.get(path, adminTok).problem(t, http.StatusUnprocessableEntity, "invalid_org").at(t, "path.org")
	}
	for _, tok := range []string{aliceTok, carolTok} {
		for _, path := range []string{"/admin/api/overview", "/admin/api/orgs/acme/locks", "/admin/api/orgs/acme/sessions",
			"/admin/api/orgs/acme/webhooks", "/admin/api/events"} {
			a.get(path, tok).problem(t, http.StatusForbidden, "admin_only").nowhere(t)
		}
	}
}

// TestAdminEventTail: without after the tail starts with the newest events
// of every org; after pages on; wait_seconds waits for the next event.
func TestAdminEventTail(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.acquire(t, aliceTok, "one", nil)
	a.acquire(t, carolTok, "two", nil)
	var p adminEventPage
	decodeInto(t, a.get("/admin/api/events?limit=1", adminTok).ok(t, http.StatusOK), &p)
	if len(p.Events) != 1 || p.Events[0].Org != "globex" || p.Events[0].Name != "two" {
		t.Fatalf("newest event %+v: want globex's two", p.Events)
	}
	var all adminEventPage
	decodeInto(t, a.get("/admin/api/events?after=0", adminTok).ok(t, http.StatusOK), &all)
	if len(all.Events) != 2 || all.Events[0].Org != "acme" || all.Events[1].Org != "globex" || all.Reset {
		t.Errorf("every event %+v: want acme's, then globex's", all)
	}
	var acme adminEventPage
	decodeInto(t, a.get("/admin/api/events?after=0&org=acme", adminTok).ok(t, http.StatusOK), &acme)
	if len(acme.Events) != 1 || acme.Events[0].Name != "one" {
		t.Errorf("acme's events %+v: want one", acme.Events)
	}
	// A long poll is answered by the next event.
	next := a.goSend(request{method: http.MethodGet, path: "/admin/api/events?wait_seconds=30&after=" + jsonNum(p.NextAfter), token: adminTok})
	a.acquire(t, aliceTok, "three", nil)
	var got adminEventPage
	decodeInto(t, answer(t, "the long poll", next).ok(t, http.StatusOK), &got)
	if len(got.Events) != 1 || got.Events[0].Name != "three" {
		t.Errorf("long poll %+v: want three", got.Events)
	}
	// Far ahead: reset to the oldest retained.
	decodeInto(t, a.get("/admin/api/events?after=99999", adminTok).ok(t, http.StatusOK), &got)
	if !got.Reset || len(got.Events) != 3 {
		t.Errorf("after 99999: %+v, want reset and every event", got)
	}
	a.get("/admin/api/events?org=a%20b", adminTok).problem(t, http.StatusUnprocessableEntity, "invalid_org").at(t, "query.org")
	a.get("/admin/api/events?wait_seconds=31", adminTok).problem(t, http.StatusUnprocessableEntity, "validation_failed")
}

func jsonNum(n uint64) string { b, _ := json.Marshal(n); return string(b) }

// TestForceReleaseOnWatch: a watch stream shows the forced release as a
// lock.released frame with forced_by admin.
func TestForceReleaseOnWatch(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	l := a.acquire(t, aliceTok, "watched/x", nil)
	w := a.watch(t, "/watch?prefix=watched", bobTok, nil)
	w.snapshot(t)
	a.post(forcePath("acme", l.name), adminTok, nil).ok(t, http.StatusOK)
	f := w.next(t)
	m := f.obj(t)
	if f.event != "lock.released" || m["forced_by"] != "admin" || m["name"] != l.name || m["holder"] != "acme/alice" {
		t.Errorf("%v: want lock.released of %s forced by admin", f, l.name)
	}
}

// TestForceReleaseToWebhooks: the org's webhooks get the forced release,
// its event saying who forced it.
func TestForceReleaseToWebhooks(t *testing.T) {
	t.Parallel()
	rc := newReceiver()
	a := newAPIWith(t, setup{send: rc.send})
	const url = "https://hooks.example.com/forced"
	id := a.createHook(t, aliceTok, map[string]any{"url": url, "events": []string{"lock.released"}}).str("id")
	l := a.acquire(t, aliceTok, "hooked/x", nil)
	a.post(forcePath("acme", l.name), adminTok, nil).ok(t, http.StatusOK)
	a.deliveries(t, aliceTok, id, func(ds []map[string]any) bool { return len(ds) == 1 && ds[0]["state"] == "delivered" })
	got := rc.to(url)
	if len(got) != 1 || got[0].Event.ForcedBy != "admin" || string(got[0].Event.Name) != l.name {
		t.Errorf("deliveries %+v: want the forced release of %s", got, l.name)
	}
}
