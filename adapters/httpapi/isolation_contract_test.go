package httpapi_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The org-isolation sweep: org A (acme, alice) owns a lock, a session, a
// webhook and events; org B (globex, carol) calls every tenant route of
// the served OpenAPI document at them. What B must get depends on how the
// route addresses its object, one of the kinds below. A tenant route
// without a case fails the sweep, so that a new route (teams, ACLs, …)
// must say how it keeps orgs apart.

// The kinds of isolation a route has.
const (
	// byID: the object has a server-made id (session, webhook, …); B
	// naming A's id gets 404 as if it did not exist, and A's object
	// does not change.
	byID = "object by id -> 404"
	// byName: the name lives in the caller's org; B addressing A's name
	// reaches B's own object of that name (a free lock), never A's, and
	// A's capabilities (lease ids, fencing tokens, session ids) are
	// worth nothing in B's org.
	byName = "name lives in your org"
	// listing: a read of many objects; B's answer shows none of A's.
	listing = "listing shows your org only"
	// creation: makes an object in the caller's org; A does not see it.
	creation = "creation lands in your org"
	// ownToken: acts on the bearer token itself, so on nobody else.
	ownToken = "acts on the caller's own token"
)

// orgA is what org A owns while the sweep runs.
type orgA struct {
	lock    lease   // held by acme/alice, without a session
	session session // of acme/alice
	hook    string  // id of acme's webhook
	team    string  // acme's team (alice in it)
	rule    string  // prefix of acme's ACL rule (naming the team)
	key     string  // acme's config key (version 1, written by alice)
	before  uint64  // the newest event of globex from before A acted
}

// isolationCase is how one tenant route keeps A's objects from B: its
// kind, and a probe that calls the route as B and checks the answer. A
// probe leaves behind nothing of B's that another probe could see (it
// releases the locks it takes and closes its streams).
type isolationCase struct {
	kind  string
	probe func(t *testing.T, a *api, w orgA)
}

// isolationCases has one case per tenant route, by "METHOD path" as the
// OpenAPI document spells it.
var isolationCases = map[string]isolationCase{
	// Sessions: by id.
	"GET /sessions/{id}": {byID, func(t *testing.T, a *api, w orgA) {
		a.get(sessionPath(w.session.id, ""), carolTok).problem(t, http.StatusNotFound, "session_not_found")
	}},
	"POST /sessions/{id}/keepalive": {byID, func(t *testing.T, a *api, w orgA) {
		a.post(sessionPath(w.session.id, "/keepalive"), carolTok, nil).problem(t, http.StatusNotFound, "session_not_found")
	}},
	"DELETE /sessions/{id}": {byID, func(t *testing.T, a *api, w orgA) {
		a.call(http.MethodDelete, sessionPath(w.session.id, ""), carolTok, nil).problem(t, http.StatusNotFound, "session_not_found")
	}},
	"POST /sessions": {creation, func(t *testing.T, a *api, w orgA) {
		s := a.openSession(t, carolTok, 60)
		a.get(sessionPath(s.id, ""), aliceTok).problem(t, http.StatusNotFound, "session_not_found")
		if r := a.call(http.MethodDelete, sessionPath(s.id, ""), carolTok, nil); r.status != http.StatusNoContent {
			t.Errorf("%v: want 204", r)
		}
	}},

	// Webhooks: by id.
	"GET /webhooks/{id}": {byID, func(t *testing.T, a *api, w orgA) {
		a.get("/webhooks/"+w.hook, carolTok).problem(t, http.StatusNotFound, "webhook_not_found")
	}},
	"DELETE /webhooks/{id}": {byID, func(t *testing.T, a *api, w orgA) {
		a.call(http.MethodDelete, "/webhooks/"+w.hook, carolTok, nil).problem(t, http.StatusNotFound, "webhook_not_found")
	}},
	"GET /webhooks/{id}/deliveries": {byID, func(t *testing.T, a *api, w orgA) {
		a.get("/webhooks/"+w.hook+"/deliveries", carolTok).problem(t, http.StatusNotFound, "webhook_not_found")
	}},
	"GET /webhooks": {listing, func(t *testing.T, a *api, w orgA) {
		if r := a.get("/webhooks", carolTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), w.hook) || strings.Contains(string(r.raw), "acme") {
			t.Errorf("%v: globex lists acme's webhook", r)
		}
	}},
	"POST /webhooks": {creation, func(t *testing.T, a *api, w orgA) {
		id := a.createHook(t, carolTok, map[string]any{"url": "https://hooks.example.com/globex", "events": []string{"*"}}).str("id")
		a.get("/webhooks/"+id, aliceTok).problem(t, http.StatusNotFound, "webhook_not_found")
		if r := a.get("/webhooks", aliceTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), id) {
			t.Errorf("%v: acme lists globex's webhook", r)
		}
		if r := a.call(http.MethodDelete, "/webhooks/"+id, carolTok, nil); r.status != http.StatusNoContent {
			t.Errorf("%v: want 204", r)
		}
	}},

	// Locks: by name.
	"GET /locks/{name}": {byName, func(t *testing.T, a *api, w orgA) {
		a.wantFree(t, carolTok, w.lock.name)
	}},
	"POST /locks/{name}/acquire": {byName, func(t *testing.T, a *api, w orgA) {
		mine := a.acquire(t, carolTok, w.lock.name, map[string]any{"metadata": "globex"})
		if mine.id == w.lock.id {
			t.Errorf("globex got acme's lease %s", mine.id)
		}
		a.wantHeld(t, carolTok, mine, "globex/carol", nil)
		a.release(t, carolTok, mine)
		// A's session is no holder in B's org.
		a.post(lockPath(w.lock.name, "/acquire"), carolTok, withSession(w.session, nil)).problem(t, http.StatusNotFound, "session_not_found")
	}},
	"POST /locks/{name}/release": {byName, func(t *testing.T, a *api, w orgA) {
		a.post(lockPath(w.lock.name, "/release"), carolTok, map[string]any{"lease_id": w.lock.id}).problem(t, http.StatusConflict, "lease_not_current")
	}},
	"POST /locks/{name}/renew": {byName, func(t *testing.T, a *api, w orgA) {
		a.post(lockPath(w.lock.name, "/renew"), carolTok, map[string]any{"lease_id": w.lock.id, "ttl_seconds": 1}).
			problem(t, http.StatusConflict, "lease_not_current")
	}},
	"POST /locks/{name}/validate": {byName, func(t *testing.T, a *api, w orgA) {
		r := a.post(lockPath(w.lock.name, "/validate"), carolTok, map[string]any{"fencing_token": w.lock.token}).ok(t, http.StatusOK)
		if r.obj["valid"] != false || r.obj["current_token"] != nil {
			t.Errorf("%v: acme's fencing token is valid in globex", r)
		}
	}},
	"GET /locks/{name}/watch": {byName, func(t *testing.T, a *api, w orgA) {
		s := a.watch(t, lockPath(w.lock.name, "/watch"), carolTok, nil)
		defer s.close()
		if _, locks := s.snapshot(t); len(locks) != 0 {
			t.Errorf("globex's snapshot of %s shows %v", w.lock.name, locks)
		}
	}},

	// Lists and streams of the org.
	"GET /locks": {listing, func(t *testing.T, a *api, w orgA) {
		for _, q := range []string{"", "?prefix=" + w.lock.name} {
			if r := a.get("/locks"+q, carolTok).ok(t, http.StatusOK); string(r.raw) != "{\"locks\":[]}\n" {
				t.Errorf("%v: globex lists acme's locks", r)
			}
		}
	}},
	"GET /events": {listing, func(t *testing.T, a *api, w orgA) {
		for _, q := range []string{"", "?after=" + strconv.FormatUint(w.before, 10)} {
			events, _ := a.eventPage(t, carolTok, q)
			for _, e := range events {
				if !strings.HasPrefix(e.holder, "globex/") {
					t.Errorf("GET /events%s: globex sees %+v", q, e)
				}
			}
		}
	}},
	"GET /watch": {listing, func(t *testing.T, a *api, w orgA) {
		s := a.watch(t, "/watch", carolTok, nil)
		if _, locks := s.snapshot(t); len(locks) != 0 {
			t.Errorf("globex's snapshot shows %v", locks)
		}
		s.close()
		a.waitOpen(t, 0) // its place is free again (two per principal here)
		// Resumed from before A acted, the stream replays none of A's
		// events: the next one is B's own.
		s = a.watch(t, "/watch", carolTok, http.Header{"Last-Event-ID": {strconv.FormatUint(w.before, 10)}})
		defer s.close()
		l := a.cycle(t, carolTok, "iso/resume")
		s.event(t).want(t, "lock.acquired", l, "globex/carol")
	}},

	// Teams and ACL rules: by name, in the caller's org.
	"GET /teams/{team}": {byName, func(t *testing.T, a *api, w orgA) {
		a.get("/teams/"+w.team, carolTok).problem(t, http.StatusNotFound, "team_not_found")
	}},
	"PUT /teams/{team}": {byName, func(t *testing.T, a *api, w orgA) {
		a.put("/teams/"+w.team, carolTok, map[string]any{"members": []string{"carol"}}).ok(t, http.StatusOK)
		if r := a.get("/teams/"+w.team, aliceTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"members":["alice"]`) {
			t.Errorf("%v: globex changed acme's team", r)
		}
		a.call(http.MethodDelete, "/teams/"+w.team, carolTok, nil).noContent(t)
	}},
	"DELETE /teams/{team}": {byName, func(t *testing.T, a *api, w orgA) {
		a.call(http.MethodDelete, "/teams/"+w.team, carolTok, nil).problem(t, http.StatusNotFound, "team_not_found")
		a.get("/teams/"+w.team, aliceTok).ok(t, http.StatusOK)
	}},
	"GET /teams": {listing, func(t *testing.T, a *api, w orgA) {
		if r := a.get("/teams", carolTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), w.team) {
			t.Errorf("%v: globex lists acme's team", r)
		}
	}},
	"GET /acls/{prefix}": {byName, func(t *testing.T, a *api, w orgA) {
		a.get("/acls/"+w.rule, carolTok).problem(t, http.StatusNotFound, "acl_not_found")
	}},
	"PUT /acls/{prefix}": {byName, func(t *testing.T, a *api, w orgA) {
		// B's rule names B's team; A's team is no principal in B.
		a.put("/acls/"+w.rule, carolTok, map[string]any{"acquire": []string{"team:" + w.team}}).problem(t, http.StatusUnprocessableEntity, "invalid_principal")
		a.put("/acls/"+w.rule, carolTok, map[string]any{"acquire": []string{}}).ok(t, http.StatusOK)
		if r := a.get("/acls/"+w.rule, aliceTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"acquire":["team:iso-team"]`) {
			t.Errorf("%v: globex changed acme's rule", r)
		}
		a.acquire(t, aliceTok, w.rule+"/x", nil) // B's rule does not govern A
		a.call(http.MethodDelete, "/acls/"+w.rule, carolTok, nil).noContent(t)
	}},
	"DELETE /acls/{prefix}": {byName, func(t *testing.T, a *api, w orgA) {
		a.call(http.MethodDelete, "/acls/"+w.rule, carolTok, nil).problem(t, http.StatusNotFound, "acl_not_found")
		a.get("/acls/"+w.rule, aliceTok).ok(t, http.StatusOK)
	}},
	"GET /acls": {listing, func(t *testing.T, a *api, w orgA) {
		if r := a.get("/acls", carolTok).ok(t, http.StatusOK); string(r.raw) != "{\"acls\":[]}\n" {
			t.Errorf("%v: globex lists acme's rules", r)
		}
	}},

	// Config keys: by name, in the caller's org.
	"GET /config/{key}": {byName, func(t *testing.T, a *api, w orgA) {
		a.get(configPath(w.key, ""), carolTok).problem(t, http.StatusNotFound, "config_not_found")
	}},
	"GET /config/{key}/history": {byName, func(t *testing.T, a *api, w orgA) {
		a.get(configPath(w.key, "/history"), carolTok).problem(t, http.StatusNotFound, "config_not_found")
	}},
	"PUT /config/{key}": {byName, func(t *testing.T, a *api, w orgA) {
		// B's CAS sees no key (A's version 1 is not B's).
		a.putConfig(carolTok, w.key, "globex's", http.Header{"If-None-Match": {"*"}}, nil).ok(t, http.StatusOK)
		if r := a.get(configPath(w.key, ""), aliceTok).ok(t, http.StatusOK); r.obj["value"] != "acme's" || r.num(t, "version") != 1 {
			t.Errorf("%v: globex changed acme's key", r)
		}
		// A's lock is no fence in B's org.
		a.putConfig(carolTok, w.key, "x", nil, map[string]any{"fence": map[string]any{"lock": w.lock.name, "fencing_token": w.lock.token}}).
			problem(t, http.StatusConflict, "fence_rejected")
		a.call(http.MethodDelete, configPath(w.key, ""), carolTok, nil).ok(t, http.StatusOK)
	}},
	"DELETE /config/{key}": {byName, func(t *testing.T, a *api, w orgA) {
		a.call(http.MethodDelete, configPath(w.key, ""), carolTok, nil).problem(t, http.StatusNotFound, "config_not_found")
		a.get(configPath(w.key, ""), aliceTok).ok(t, http.StatusOK)
	}},
	"GET /config": {listing, func(t *testing.T, a *api, w orgA) {
		if r := a.get("/config?prefix=iso", carolTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "acme's") {
			t.Errorf("%v: globex lists acme's keys", r)
		}
	}},
	"GET /config/{key}/watch": {byName, func(t *testing.T, a *api, w orgA) {
		s := a.watch(t, configPath(w.key, "/watch"), carolTok, nil)
		defer s.close()
		f := s.next(t)
		if snap := (&response{obj: f.obj(t)}); f.event != "snapshot" || snap.num(t, "version") != 0 {
			t.Errorf("%v: globex's snapshot of %s shows acme's key (want version 0: never written)", f, w.key)
		}
	}},
	// Feature flags and rate limits: names live in the org. Each probe
	// makes A's flag or limit itself (a rewrite is harmless).
	"PUT /flags/{name}": {byName, func(t *testing.T, a *api, w orgA) {
		isoFlag(t, a)
		if r := a.put(flagPath("iso/flag", ""), carolTok, map[string]any{"enabled": false}).ok(t, http.StatusOK); r.num(t, "version") != 1 {
			t.Errorf("%v: globex wrote acme's flag", r)
		}
		if r := a.get(flagPath("iso/flag", ""), aliceTok).ok(t, http.StatusOK); r.obj["enabled"] != true || r.str("updated_by") != "alice" {
			t.Errorf("%v: globex changed acme's flag", r)
		}
		a.call(http.MethodDelete, flagPath("iso/flag", ""), carolTok, nil).noContent(t)
	}},
	"GET /flags/{name}": {byName, func(t *testing.T, a *api, w orgA) {
		isoFlag(t, a)
		a.get(flagPath("iso/flag", ""), carolTok).problem(t, http.StatusNotFound, "flag_not_found")
	}},
	"DELETE /flags/{name}": {byName, func(t *testing.T, a *api, w orgA) {
		isoFlag(t, a)
		a.call(http.MethodDelete, flagPath("iso/flag", ""), carolTok, nil).problem(t, http.StatusNotFound, "flag_not_found")
		a.get(flagPath("iso/flag", ""), aliceTok).ok(t, http.StatusOK)
	}},
	"GET /flags/{name}/evaluate": {byName, func(t *testing.T, a *api, w orgA) {
		isoFlag(t, a)
		a.get(flagPath("iso/flag", "/evaluate?subject=u"), carolTok).problem(t, http.StatusNotFound, "flag_not_found")
	}},
	"POST /flags/evaluate": {byName, func(t *testing.T, a *api, w orgA) {
		isoFlag(t, a)
		r := a.post("/flags/evaluate", carolTok, map[string]any{"subject": "u", "flags": []string{"iso/flag"}}).ok(t, http.StatusOK)
		if !strings.Contains(string(r.raw), `"found":false`) {
			t.Errorf("%v: globex evaluates acme's flag", r)
		}
	}},
	"GET /flags": {listing, func(t *testing.T, a *api, w orgA) {
		isoFlag(t, a)
		if r := a.get("/flags", carolTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "iso/flag") {
			t.Errorf("%v: globex lists acme's flag", r)
		}
	}},
	"POST /limits/{name}/check": {byName, func(t *testing.T, a *api, w orgA) {
		isoLimit(t, a)
		// acme's single unit is spent; globex's counter of the name is its own.
		a.post(limitPath("iso/limit", "/check"), carolTok, map[string]any{"limit": 1, "window_seconds": 60}).ok(t, http.StatusOK)
		a.call(http.MethodDelete, limitPath("iso/limit", ""), carolTok, nil).noContent(t)
	}},
	"GET /limits/{name}": {byName, func(t *testing.T, a *api, w orgA) {
		isoLimit(t, a)
		a.get(limitPath("iso/limit", ""), carolTok).problem(t, http.StatusNotFound, "limit_not_found")
	}},
	"DELETE /limits/{name}": {byName, func(t *testing.T, a *api, w orgA) {
		isoLimit(t, a)
		a.call(http.MethodDelete, limitPath("iso/limit", ""), carolTok, nil).problem(t, http.StatusNotFound, "limit_not_found")
		a.get(limitPath("iso/limit", ""), aliceTok).ok(t, http.StatusOK)
	}},
	"GET /limits": {listing, func(t *testing.T, a *api, w orgA) {
		isoLimit(t, a)
		if r := a.get("/limits", carolTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "iso/limit") {
			t.Errorf("%v: globex lists acme's limit", r)
		}
	}},

	// The bearer token itself.
	"POST /auth/token/rotate": {ownToken, func(t *testing.T, a *api, w orgA) {
		a.post("/auth/token/rotate", carolTok, nil).problem(t, http.StatusConflict, "static_token")
		issued := a.post("/admin/orgs/globex/users/dave/tokens", adminTok, nil).ok(t, http.StatusCreated)
		r := a.post("/auth/token/rotate", issued.str("token"), nil).ok(t, http.StatusCreated)
		if r.str("org") != "globex" || r.str("user") != "dave" {
			t.Errorf("%v: rotation changed the principal", r)
		}
	}},
}

// TestEveryRouteKeepsOrgsApart walks every tenant route of the served
// OpenAPI document and runs its isolation case; afterwards A's lock,
// session and webhook are as they were. Admin routes (which act on every
// org by design, and refuse tenants: TestEveryRouteKeepsItsPlace) and
// public routes (no principal) have no case.
func TestEveryRouteKeepsOrgsApart(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.serveTCP(t) // for the stream probes, until the whole sweep ends
	a.cycle(t, carolTok, "iso/warm")
	w := orgA{before: a.lastSeq(t, carolTok)}
	w.lock = a.acquire(t, aliceTok, "iso/db", map[string]any{"metadata": "orig"})
	w.session = a.openSession(t, aliceTok, 60)
	w.hook = a.createHook(t, aliceTok, map[string]any{"url": "https://hooks.example.com/acme", "events": []string{"*"}}).str("id")
	a.cycle(t, aliceTok, "iso/events")
	// Both orgs registered, with alice and carol as owners, so that B's
	// probes of the team and rule routes act as an owner of B.
	for _, o := range []struct{ org, user string }{{"acme", "alice"}, {"globex", "carol"}} {
		a.post("/admin/orgs", adminTok, map[string]any{"org": o.org}).ok(t, http.StatusCreated)
		a.post("/admin/orgs/"+o.org+"/users", adminTok, map[string]any{"user": o.user, "role": "owner"}).ok(t, http.StatusCreated)
	}
	w.team, w.rule, w.key = "iso-team", "iso-rule", "iso/conf"
	a.putConfig(aliceTok, w.key, "acme's", nil, nil).ok(t, http.StatusOK)
	a.put("/teams/"+w.team, aliceTok, map[string]any{"members": []string{"alice"}}).ok(t, http.StatusOK)
	a.put("/acls/"+w.rule, aliceTok, map[string]any{"acquire": []string{"team:" + w.team}}).ok(t, http.StatusOK)

	routes := tenantRoutes(t, a)
	for _, route := range routes {
		c, ok := isolationCases[route]
		if !ok {
			t.Errorf("%s has no org-isolation case: add one to isolationCases (kind %q, %q, %q, %q or %q)",
				route, byID, byName, listing, creation, ownToken)
			continue
		}
		t.Run(route+" ("+c.kind+")", func(t *testing.T) {
			c.probe(t, a, w)
			a.waitOpen(t, 0) // the server has seen the probe's streams close
		})
	}
	for route := range isolationCases {
		if !slices.Contains(routes, route) {
			t.Errorf("isolationCases has %s, which is no tenant route of the spec", route)
		}
	}

	unchanged(t, a, w.lock, w.session)
	if r := a.get("/webhooks/"+w.hook, aliceTok).ok(t, http.StatusOK); r.str("url") != "https://hooks.example.com/acme" {
		t.Errorf("%v: acme's webhook changed", r)
	}
	if len(routes) < 18 {
		t.Fatalf("found %d tenant routes; the spec walk is off", len(routes))
	}
}

// tenantRoutes returns "METHOD path" of every operation of the served
// spec that needs a token and is not an admin route, sorted.
func tenantRoutes(t *testing.T, a *api) []string {
	t.Helper()
	var out []string
	for path, ops := range servedOperations(t, a) {
		if strings.HasPrefix(path, "/admin/") || path == "/metrics" { // admin-only, like /admin/
			continue
		}
		for method, op := range ops {
			if !op.public() {
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	slices.Sort(out)
	return out
}

// isoFlag makes sure acme has the flag iso/flag (enabled, by alice).
func isoFlag(t *testing.T, a *api) {
	t.Helper()
	a.put(flagPath("iso/flag", ""), aliceTok, map[string]any{"enabled": true}).ok(t, http.StatusOK)
}

// isoLimit makes sure acme has a counter for iso/limit (1 a minute).
func isoLimit(t *testing.T, a *api) {
	t.Helper()
	if r := a.post(limitPath("iso/limit", "/check"), aliceTok, map[string]any{"limit": 1, "window_seconds": 60}); r.status != http.StatusOK && r.status != http.StatusTooManyRequests {
		t.Fatalf("%v: acme's limit check", r)
	}
}
