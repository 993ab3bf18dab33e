package httpapi_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
)

func flagPath(name, suffix string) string {
	return "/flags/" + strings.ReplaceAll(name, "/", "%2F") + suffix
}

// TestFlagsContract: write, read, list, evaluate (one and many) and delete
// a flag; versions grow; the events page shows the changes without the
// settings; another org sees nothing.
func TestFlagsContract(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	r := a.call(http.MethodPut, flagPath("new-checkout", ""), aliceTok, map[string]any{"enabled": true, "percentage": 27, "description": "the new checkout"}).ok(t, http.StatusOK)
	r.keys(t, "name", "enabled", "percentage", "description", "version", "updated_at", "updated_by")
	if r.num(t, "version") != 1 || r.str("updated_by") != "alice" || !r.time(t, "updated_at").Equal(a.clock.Now()) || r.num(t, "percentage") != 27 {
		t.Errorf("%v: first write", r)
	}
	a.clock.Advance(time.Second)
	// The percentage defaults to 100; a rewrite drops the description.
	r = a.call(http.MethodPut, flagPath("new-checkout", ""), bobTok, map[string]any{"enabled": false}).ok(t, http.StatusOK)
	if r.num(t, "version") != 2 || r.str("updated_by") != "bob" || r.num(t, "percentage") != 100 || r.str("description") != "" {
		t.Errorf("%v: second write", r)
	}
	a.call(http.MethodPut, flagPath("new-checkout", ""), aliceTok, map[string]any{"enabled": true, "percentage": 27}).ok(t, http.StatusOK)
	a.call(http.MethodPut, flagPath("checkout/v2", ""), aliceTok, map[string]any{"enabled": true, "percentage": 0}).ok(t, http.StatusOK)

	r = a.get(flagPath("new-checkout", ""), bobTok).ok(t, http.StatusOK)
	if r.num(t, "version") != 3 || r.str("name") != "new-checkout" {
		t.Errorf("%v: get", r)
	}
	if r = a.get("/flags", aliceTok).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `"name":"checkout/v2"`) ||
		strings.Index(string(r.raw), "checkout/v2") > strings.Index(string(r.raw), "new-checkout") {
		t.Errorf("%v: list", r)
	}
	if r = a.get("/flags?prefix=checkout", aliceTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "new-checkout") {
		t.Errorf("%v: list by prefix", r)
	}
	// user-1 is in bucket 2648 of new-checkout (domain's vectors): in at 27 %.
	r = a.get(flagPath("new-checkout", "/evaluate?subject=user-1"), aliceTok).ok(t, http.StatusOK)
	if string(r.raw) != `{"name":"new-checkout","subject":"user-1","enabled":true}`+"\n" {
		t.Errorf("%v: evaluate", r)
	}
	if r = a.get(flagPath("checkout/v2", "/evaluate?subject=user-1"), aliceTok).ok(t, http.StatusOK); r.obj["enabled"] != false {
		t.Errorf("%v: a 0 %% flag is on", r)
	}
	r = a.post("/flags/evaluate", aliceTok, map[string]any{"subject": "user-1", "flags": []string{"new-checkout", "nope", "checkout/v2"}}).ok(t, http.StatusOK)
	if want := `{"subject":"user-1","results":[{"name":"new-checkout","enabled":true,"found":true},{"name":"nope","enabled":false,"found":false},{"name":"checkout/v2","enabled":false,"found":true}]}` + "\n"; string(r.raw) != want {
		t.Errorf("%v: evaluate many, want %s", r, want)
	}

	// Org isolation: globex has no such flags.
	a.get(flagPath("new-checkout", ""), carolTok).problem(t, http.StatusNotFound, "flag_not_found").nowhere(t)
	a.get(flagPath("new-checkout", "/evaluate?subject=u"), carolTok).problem(t, http.StatusNotFound, "flag_not_found")
	a.call(http.MethodDelete, flagPath("new-checkout", ""), carolTok, nil).problem(t, http.StatusNotFound, "flag_not_found")
	if r = a.get("/flags", carolTok).ok(t, http.StatusOK); string(r.raw) != `{"flags":[]}`+"\n" {
		t.Errorf("%v: carol lists acme's flags", r)
	}
	if r = a.post("/flags/evaluate", carolTok, map[string]any{"subject": "user-1", "flags": []string{"new-checkout"}}).ok(t, http.StatusOK); strings.Contains(string(r.raw), `"found":true`) {
		t.Errorf("%v: carol evaluates acme's flag", r)
	}

	if res := a.call(http.MethodDelete, flagPath("new-checkout", ""), bobTok, nil); res.status != http.StatusNoContent {
		t.Fatalf("%v: delete", res)
	}
	a.get(flagPath("new-checkout", ""), aliceTok).problem(t, http.StatusNotFound, "flag_not_found")

	// The events: name, version and who; never the settings.
	r = a.get("/events?prefix=new-checkout", aliceTok).ok(t, http.StatusOK)
	evs, _ := r.obj["events"].([]any)
	if len(evs) != 4 {
		t.Fatalf("%v: want 4 flag events", r)
	}
	last, _ := evs[3].(map[string]any)
	if last["type"] != "flag.deleted" || last["flag"] != "new-checkout" || last["by"] != "bob" || last["version"] == nil || len(last) != 6 {
		t.Errorf("%v: the deletion event", r)
	}
	if strings.Contains(string(r.raw), "percentage") || strings.Contains(string(r.raw), "fencing_token") {
		t.Errorf("%v: flag events carry settings or lock fields", r)
	}
}

// TestFlagsInvalid: bad names, out-of-range percentages, missing subjects
// and bad bodies are refused naming the field; nothing is stored.
func TestFlagsInvalid(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	put := func(body any) *response { return a.call(http.MethodPut, flagPath("f", ""), aliceTok, body) }
	put(map[string]any{"enabled": true, "percentage": 101}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.percentage")
	put(map[string]any{"enabled": true, "percentage": -1}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.percentage")
	put(map[string]any{"percentage": 5}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body")
	put(map[string]any{"enabled": true, "description": strings.Repeat("x", 1025)}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.description")
	for _, bad := range []string{"a%2F%2Fb", "%2E%2E", "a%20b"} {
		a.call(http.MethodPut, "/flags/"+bad, aliceTok, map[string]any{"enabled": true}).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
		a.get("/flags/"+bad, aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
		a.call(http.MethodDelete, "/flags/"+bad, aliceTok, nil).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
		a.get("/flags/"+bad+"/evaluate?subject=u", aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.name")
	}
	a.get("/flags?prefix=a%2F%2F", aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "query.prefix")
	a.call(http.MethodPut, flagPath("f", ""), aliceTok, map[string]any{"enabled": true}).ok(t, http.StatusOK)
	a.get(flagPath("f", "/evaluate"), aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_subject").at(t, "query.subject")
	a.get(flagPath("f", "/evaluate?subject="), aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_subject").at(t, "query.subject")
	a.get(flagPath("f", "/evaluate?subject="+strings.Repeat("s", 257)), aliceTok).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "query.subject")
	a.get(flagPath("nope", "/evaluate?subject=u"), aliceTok).problem(t, http.StatusNotFound, "flag_not_found")
	a.call(http.MethodDelete, flagPath("nope", ""), aliceTok, nil).problem(t, http.StatusNotFound, "flag_not_found")
	a.post("/flags/evaluate", aliceTok, map[string]any{"subject": "u", "flags": []string{"ok", "a//b"}}).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "body.flags[1]")
	a.post("/flags/evaluate", aliceTok, map[string]any{"subject": "", "flags": []string{"ok"}}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.subject")
	a.post("/flags/evaluate", aliceTok, map[string]any{"subject": "u", "flags": []string{}}).problem(t, http.StatusUnprocessableEntity, "validation_failed").at(t, "body.flags")
	a.post("/flags/evaluate", aliceTok, "{\"subject\":\"\xff\",\"flags\":[\"ok\"]}").problem(t, http.StatusUnprocessableEntity, "invalid_utf8")
	// Unreadable bodies.
	huge := `{"description":"` + strings.Repeat("x", 1<<20) + `"}`
	for _, r := range []request{{method: http.MethodPut, path: flagPath("f", "")}, {method: http.MethodPost, path: "/flags/evaluate"}} {
		r.token = aliceTok
		for _, c := range []struct{ body, ctype string }{{`{"enabled":`, ""}, {`[`, ""}, {`{"enabled":true}`, "text/plain"}} {
			r.body, r.ctype = c.body, c.ctype
			status, code := http.StatusBadRequest, "malformed_request"
			if c.ctype != "" {
				status, code = http.StatusUnsupportedMediaType, "unsupported_media_type"
			}
			a.send(r).problem(t, status, code).at(t, "body")
		}
		r.body, r.ctype = huge, ""
		a.send(r).problem(t, http.StatusRequestEntityTooLarge, "body_too_large").nowhere(t)
	}
	if r := a.get(flagPath("f", ""), aliceTok).ok(t, http.StatusOK); r.num(t, "version") != 1 {
		t.Errorf("%v: a refused write changed the flag", r)
	}
}

// TestFlagsQuotaAndFailedCommit: a new flag past the org's flags quota is
// 429 quota_exceeded; a failed commit is 503 and changes nothing.
func TestFlagsQuotaAndFailedCommit(t *testing.T) {
	t.Parallel()
	a := newAPIWith(t, setup{quotas: domain.Limits{domain.QuotaFlags: 1}})
	a.call(http.MethodPut, flagPath("one", ""), aliceTok, map[string]any{"enabled": true}).ok(t, http.StatusOK)
	r := a.call(http.MethodPut, flagPath("two", ""), aliceTok, map[string]any{"enabled": true}).problem(t, http.StatusTooManyRequests, "quota_exceeded").nowhere(t)
	if r.str("quota") != "flags" || r.num(t, "limit") != 1 {
		t.Errorf("%v: the quota is not named", r)
	}
	a.call(http.MethodPut, flagPath("one", ""), aliceTok, map[string]any{"enabled": false}).ok(t, http.StatusOK)
	q := a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK)
	if f, _ := q.obj["flags"].(map[string]any); f == nil || f["used"] == nil || f["used"].(interface{ String() string }).String() != "1" {
		t.Errorf("%v: flags usage", q)
	}
	for _, r := range []request{
		{method: http.MethodPut, path: flagPath("one", ""), body: map[string]any{"enabled": true}},
		{method: http.MethodDelete, path: flagPath("one", "")},
	} {
		a.journal.FailNextCommit(errors.New("disk full"))
		r.token = aliceTok
		a.send(r).problem(t, http.StatusServiceUnavailable, "unavailable").nowhere(t)
	}
	if r := a.get(flagPath("one", ""), aliceTok).ok(t, http.StatusOK); r.num(t, "version") != 2 || r.obj["enabled"] != false {
		t.Errorf("%v: a failed commit changed the flag", r)
	}
}

// TestFlagsAndLimitsFollowACLs: the org's ACL rules govern flag and limit
// names as they govern lock names: observe to read, acquire to write.
// Lists and batch evaluations leave out what the caller may not read, and
// so do the events.
func TestFlagsAndLimitsFollowACLs(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.makeOwner(t)
	a.put("/acls/ff", aliceTok, map[string]any{"acquire": []string{"user:alice"}, "observe": []string{"user:alice"}}).ok(t, http.StatusOK)
	a.put(flagPath("ff/x", ""), bobTok, map[string]any{"enabled": true}).problem(t, http.StatusForbidden, "permission_denied").nowhere(t)
	a.put(flagPath("ff/x", ""), aliceTok, map[string]any{"enabled": true}).ok(t, http.StatusOK)
	a.put(flagPath("open", ""), bobTok, map[string]any{"enabled": true}).ok(t, http.StatusOK)
	a.get(flagPath("ff/x", ""), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	a.get(flagPath("ff/x", "/evaluate?subject=u"), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	a.call(http.MethodDelete, flagPath("ff/x", ""), bobTok, nil).problem(t, http.StatusForbidden, "permission_denied")
	if r := a.post("/flags/evaluate", bobTok, map[string]any{"subject": "u", "flags": []string{"ff/x", "open"}}).ok(t, http.StatusOK); !strings.Contains(string(r.raw), `{"name":"ff/x","enabled":false,"found":false}`) {
		t.Errorf("%v: bob evaluates a flag he may not observe", r)
	}
	if r := a.get("/flags", bobTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "ff/x") || !strings.Contains(string(r.raw), `"open"`) {
		t.Errorf("%v: bob's list", r)
	}
	if r := a.get("/events", bobTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "ff/x") {
		t.Errorf("%v: bob sees events of a flag he may not observe", r)
	}
	a.get(flagPath("ff/x", ""), aliceTok).ok(t, http.StatusOK)

	body := map[string]any{"limit": 5, "window_seconds": 60}
	a.post(limitPath("ff/l", "/check"), bobTok, body).problem(t, http.StatusForbidden, "permission_denied")
	a.post(limitPath("ff/l", "/check"), aliceTok, body).ok(t, http.StatusOK)
	a.get(limitPath("ff/l", ""), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	a.call(http.MethodDelete, limitPath("ff/l", ""), bobTok, nil).problem(t, http.StatusForbidden, "permission_denied")
	if r := a.get("/limits", bobTok).ok(t, http.StatusOK); strings.Contains(string(r.raw), "ff/l") {
		t.Errorf("%v: bob lists a limit he may not observe", r)
	}
	a.get(limitPath("ff/l", ""), aliceTok).ok(t, http.StatusOK)
}
