package httpapi_test

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/httpapi"
	"github.com/octostore/octostore/domain"
)

// The contract of the config store: versioned JSON values per org, with
// compare-and-set, fenced writes, a kept history, deletions recorded in
// it, events without the value, and the org's config quotas.

func configPath(key, suffix string) string { return "/config/" + url.PathEscape(key) + suffix }

// putConfig writes value to key for token with extra headers and body
// fields, and returns the answer unchecked.
func (a *api) putConfig(token, key string, value any, header http.Header, extra map[string]any) *response {
	body := map[string]any{"value": value}
	for k, v := range extra {
		body[k] = v
	}
	return a.send(request{method: http.MethodPut, path: configPath(key, ""), token: token, body: body, header: header})
}

// wantConfig requires a config answer at version with value (its compact
// JSON text) written by user.
func wantConfig(t *testing.T, r *response, key string, version uint64, value, user string) {
	t.Helper()
	r.ok(t, http.StatusOK).keys(t, "key", "value", "version", "updated_at", "updated_by", "description")
	if r.str("key") != key || r.num(t, "version") != version || r.str("updated_by") != user {
		t.Errorf("%v: want key %s version %d by %s", r, key, version, user)
	}
	if got := compactValue(t, r); got != value {
		t.Errorf("%v: value %s, want %s", r, got, value)
	}
	if r.header.Get("ETag") != `"`+strconv.FormatUint(version, 10)+`"` {
		t.Errorf("%v: ETag %q", r, r.header.Get("ETag"))
	}
	r.time(t, "updated_at")
}

// compactValue returns the value field of r as the raw text the server
// sent (it sends values compact).
func compactValue(t *testing.T, r *response) string {
	t.Helper()
	raw := string(r.raw)
	i := strings.Index(raw, `"value":`)
	if i < 0 {
		t.Fatalf("%v: no value", r)
	}
	rest := raw[i+len(`"value":`):]
	j := strings.Index(rest, `,"version":`)
	if j < 0 {
		t.Fatalf("%v: value not followed by version", r)
	}
	return rest[:j]
}

func ifMatch(v uint64) http.Header {
	return http.Header{"If-Match": {`"` + strconv.FormatUint(v, 10) + `"`}}
}

// TestConfigLifecycle: versions count from 1 over writes and deletions,
// CAS with If-Match, If-None-Match and expected_version, old versions by
// ?version=, the history newest first with deletions, the listing.
func TestConfigLifecycle(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const key = "app/feature-x"
	a.get(configPath(key, ""), aliceTok).problem(t, http.StatusNotFound, "config_not_found")
	a.get(configPath(key, "/history"), aliceTok).problem(t, http.StatusNotFound, "config_not_found")

	// Create only: If-None-Match: *.
	create := http.Header{"If-None-Match": {"*"}}
	wantConfig(t, a.putConfig(aliceTok, key, map[string]any{"on": true}, create, map[string]any{"description": "first"}), key, 1, `{"on":true}`, "alice")
	a.putConfig(aliceTok, key, 2, create, nil).problem(t, http.StatusPreconditionFailed, "version_conflict")
	// Whitespace is not stored.
	r := a.send(request{method: http.MethodPut, path: configPath(key, ""), token: bobTok, header: ifMatch(1),
		body: `{"value": [1, 2,  {"a" : "b c"}]}`})
	wantConfig(t, r, key, 2, `[1,2,{"a":"b c"}]`, "bob")
	a.putConfig(aliceTok, key, 3, ifMatch(1), nil).problem(t, http.StatusPreconditionFailed, "version_conflict")
	a.putConfig(aliceTok, key, 3, nil, map[string]any{"expected_version": 1}).problem(t, http.StatusPreconditionFailed, "version_conflict")
	a.putConfig(aliceTok, key, 3, ifMatch(2), map[string]any{"expected_version": 1}).problem(t, http.StatusUnprocessableEntity, "invalid_precondition").at(t, "header.If-Match")
	a.putConfig(aliceTok, key, 3, http.Header{"If-Match": {"W/\"2\""}}, nil).problem(t, http.StatusUnprocessableEntity, "invalid_precondition")
	a.putConfig(aliceTok, key, 3, http.Header{"If-None-Match": {`"2"`}}, nil).problem(t, http.StatusUnprocessableEntity, "invalid_precondition")
	wantConfig(t, a.putConfig(aliceTok, key, "three", nil, map[string]any{"expected_version": 2}), key, 3, `"three"`, "alice")
	wantConfig(t, a.get(configPath(key, ""), bobTok), key, 3, `"three"`, "alice")
	wantConfig(t, a.get(configPath(key, "?version=1"), bobTok), key, 1, `{"on":true}`, "alice")
	a.get(configPath(key, "?version=9"), bobTok).problem(t, http.StatusNotFound, "config_version_not_found")

	// Delete with a stale If-Match is refused; then it is recorded as
	// version 4 and the next write is version 5.
	a.send(request{method: http.MethodDelete, path: configPath(key, ""), token: aliceTok, header: ifMatch(2)}).problem(t, http.StatusPreconditionFailed, "version_conflict")
	d := a.send(request{method: http.MethodDelete, path: configPath(key, ""), token: aliceTok, header: ifMatch(3)}).ok(t, http.StatusOK)
	d.keys(t, "key", "version", "deleted", "updated_at", "updated_by")
	if d.num(t, "version") != 4 || d.obj["deleted"] != true {
		t.Errorf("%v: want version 4, deleted", d)
	}
	a.get(configPath(key, ""), aliceTok).problem(t, http.StatusNotFound, "config_not_found")
	a.get(configPath(key, "?version=4"), aliceTok).problem(t, http.StatusNotFound, "config_version_not_found")
	a.send(request{method: http.MethodDelete, path: configPath(key, ""), token: aliceTok}).problem(t, http.StatusNotFound, "config_not_found")
	// After a deletion the key is absent: expected_version 0 creates it.
	wantConfig(t, a.putConfig(aliceTok, key, nil, nil, map[string]any{"expected_version": 0}), key, 5, `null`, "alice")

	h := a.get(configPath(key, "/history"), bobTok).ok(t, http.StatusOK)
	vs := h.obj["versions"].([]any)
	var got []string
	for _, v := range vs {
		m := v.(map[string]any)
		got = append(got, m["version"].(interface{ String() string }).String()+":"+strconv.FormatBool(m["deleted"] == true)+":"+m["updated_by"].(string))
	}
	if strings.Join(got, " ") != "5:false:alice 4:true:alice 3:false:alice 2:false:bob 1:false:alice" {
		t.Errorf("history %v", got)
	}
	if _, ok := vs[1].(map[string]any)["value"]; ok {
		t.Errorf("the deletion has a value: %v", vs[1])
	}
	if vs[4].(map[string]any)["description"] != "first" {
		t.Errorf("version 1: %v", vs[4])
	}
	// Pages, newest first.
	p1 := a.get(configPath(key, "/history?limit=2"), bobTok).ok(t, http.StatusOK)
	if len(p1.obj["versions"].([]any)) != 2 || p1.str("next_cursor") != "4" {
		t.Fatalf("%v: want 2 versions and next_cursor 4", p1)
	}
	p2 := a.get(configPath(key, "/history?limit=2&cursor=4"), bobTok).ok(t, http.StatusOK)
	if v := p2.obj["versions"].([]any)[0].(map[string]any)["version"].(interface{ String() string }).String(); v != "3" {
		t.Errorf("%v: second page starts at %s, want 3", p2, v)
	}
	a.get(configPath(key, "/history?cursor=x"), bobTok).problem(t, http.StatusUnprocessableEntity, "invalid_cursor").at(t, "query.cursor")
	a.get(configPath("a//b", "/history"), bobTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.key")
	a.get(configPath("a//b", ""), bobTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.key")
	a.putConfig(aliceTok, "a//b", 1, nil, nil).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "path.key")
	a.send(request{method: http.MethodDelete, path: configPath("a//b", ""), token: aliceTok}).problem(t, http.StatusUnprocessableEntity, "invalid_name")
	a.putConfig(aliceTok, key, 1, nil, map[string]any{"fence": map[string]any{"lock": "a//b", "fencing_token": 1}}).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "body.fence.lock")
	a.send(request{method: http.MethodPut, path: configPath(key, ""), token: aliceTok, body: `{}`}).problem(t, http.StatusUnprocessableEntity, "validation_failed")

	// The listing: keys with a value, in key order, with values.
	wantConfig(t, a.putConfig(aliceTok, "app", 1, nil, nil), "app", 1, `1`, "alice")
	wantConfig(t, a.putConfig(aliceTok, "appx", 2, nil, nil), "appx", 1, `2`, "alice")
	wantConfig(t, a.putConfig(aliceTok, "app/a", 3, nil, nil), "app/a", 1, `3`, "alice")
	l := a.get("/config?prefix=app/&limit=1", aliceTok).ok(t, http.StatusOK)
	cs := l.obj["configs"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["key"] != "app/a" || l.str("next_cursor") == "" {
		t.Fatalf("%v: want app/a and a cursor", l)
	}
	l = a.get("/config?prefix=app/&limit=1&cursor="+l.str("next_cursor"), aliceTok).ok(t, http.StatusOK)
	cs = l.obj["configs"].([]any)
	if len(cs) != 1 || cs[0].(map[string]any)["key"] != "app/feature-x" || l.str("next_cursor") != "" {
		t.Fatalf("%v: want app/feature-x and no cursor", l)
	}
	all := a.get("/config", aliceTok).ok(t, http.StatusOK)
	if n := len(all.obj["configs"].([]any)); n != 4 {
		t.Errorf("%v: %d keys, want 4", all, n)
	}
	a.get("/config?prefix=a//", aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_name").at(t, "query.prefix")
	a.get("/config?cursor=!!", aliceTok).problem(t, http.StatusUnprocessableEntity, "invalid_cursor")
}

// TestConfigOrgIsolation: another org sees nothing of acme's keys and
// has its own.
func TestConfigOrgIsolation(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	wantConfig(t, a.putConfig(aliceTok, "shared", 1, nil, nil), "shared", 1, "1", "alice")
	a.get(configPath("shared", ""), carolTok).problem(t, http.StatusNotFound, "config_not_found")
	a.get(configPath("shared", "?version=1"), carolTok).problem(t, http.StatusNotFound, "config_not_found")
	a.get(configPath("shared", "/history"), carolTok).problem(t, http.StatusNotFound, "config_not_found")
	a.send(request{method: http.MethodDelete, path: configPath("shared", ""), token: carolTok}).problem(t, http.StatusNotFound, "config_not_found")
	a.putConfig(carolTok, "shared", 1, ifMatch(1), nil).problem(t, http.StatusPreconditionFailed, "version_conflict")
	if n := len(a.get("/config", carolTok).ok(t, http.StatusOK).obj["configs"].([]any)); n != 0 {
		t.Errorf("globex lists %d keys", n)
	}
	wantConfig(t, a.putConfig(carolTok, "shared", 2, nil, nil), "shared", 1, "2", "carol")
	wantConfig(t, a.get(configPath("shared", ""), aliceTok), "shared", 1, "1", "alice")
	for _, e := range a.get("/events", carolTok).ok(t, http.StatusOK).obj["events"].([]any) {
		if e.(map[string]any)["by"] == "alice" {
			t.Errorf("globex sees acme's event %v", e)
		}
	}
}

// TestConfigValueSize: 256 KiB of compact JSON is accepted, one byte more
// is 413 value_too_large and nothing is stored; a body over 1 MiB is 413
// body_too_large.
func TestConfigValueSize(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	// A JSON string of n bytes: the quotes and n-2 letters.
	str := func(n int) string { return strings.Repeat("x", n-2) }
	r := a.putConfig(aliceTok, "big", str(domain.MaxConfigValueBytes), nil, nil).ok(t, http.StatusOK)
	if got := len(compactValue(t, r)); got != domain.MaxConfigValueBytes {
		t.Fatalf("stored %d bytes", got)
	}
	a.putConfig(aliceTok, "big", str(domain.MaxConfigValueBytes+1), nil, nil).problem(t, http.StatusRequestEntityTooLarge, "value_too_large")
	a.putConfig(aliceTok, "bigger", str(domain.MaxConfigValueBytes+1), nil, nil).problem(t, http.StatusRequestEntityTooLarge, "value_too_large")
	a.get(configPath("bigger", ""), aliceTok).problem(t, http.StatusNotFound, "config_not_found")
	if v := a.get(configPath("big", ""), aliceTok).ok(t, http.StatusOK).num(t, "version"); v != 1 {
		t.Errorf("big is at version %d after a refused write, want 1", v)
	}
	// Insignificant whitespace does not count.
	padded := `{"value":   "` + strings.Repeat("y", domain.MaxConfigValueBytes-2) + `"   }`
	a.send(request{method: http.MethodPut, path: configPath("padded", ""), token: aliceTok, body: padded}).ok(t, http.StatusOK)
	huge := `{"value":"` + strings.Repeat("z", 1<<20) + `"}`
	a.send(request{method: http.MethodPut, path: configPath("huge", ""), token: aliceTok, body: huge}).problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
	a.send(request{method: http.MethodDelete, path: configPath("big", ""), token: aliceTok, body: huge}).problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
	a.send(request{method: http.MethodPut, path: configPath("big", ""), token: aliceTok, body: "x", ctype: "text/plain"}).problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	a.send(request{method: http.MethodDelete, path: configPath("big", ""), token: aliceTok, body: "x", ctype: "text/plain"}).problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	a.send(request{method: http.MethodDelete, path: configPath("big", ""), token: aliceTok, body: `{"expected_version": "x"}`}).problem(t, http.StatusUnprocessableEntity, "validation_failed")
}

// TestConfigFence: a fenced write succeeds only while its token is the
// current holder's of the lock: refused once the lock is released, once
// its lease expired, and for an older token after a new grant.
func TestConfigFence(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	fence := func(token uint64) map[string]any {
		return map[string]any{"fence": map[string]any{"lock": "leader", "fencing_token": token}}
	}
	// No lock at all.
	a.putConfig(aliceTok, "cfg", 1, nil, fence(1)).problem(t, http.StatusConflict, "fence_rejected")
	l := a.acquire(t, aliceTok, "leader", map[string]any{"ttl_seconds": 10})
	wantConfig(t, a.putConfig(aliceTok, "cfg", 1, nil, fence(l.token)), "cfg", 1, "1", "alice")
	// Anyone of the org may write with the token: the fence is the token.
	wantConfig(t, a.putConfig(bobTok, "cfg", 2, nil, fence(l.token)), "cfg", 2, "2", "bob")
	a.putConfig(aliceTok, "cfg", 3, nil, fence(l.token+1)).problem(t, http.StatusConflict, "fence_rejected")
	// Another org's lock of the same name does not count.
	a.putConfig(carolTok, "cfg", 1, nil, fence(l.token)).problem(t, http.StatusConflict, "fence_rejected")

	// Expired (not yet swept).
	a.clock.Advance(11 * time.Second)
	a.putConfig(aliceTok, "cfg", 3, nil, fence(l.token)).problem(t, http.StatusConflict, "fence_rejected")
	a.send(request{method: http.MethodDelete, path: configPath("cfg", ""), token: aliceTok, body: fence(l.token)}).problem(t, http.StatusConflict, "fence_rejected")

	// A newer grant: the old token is refused, the new one accepted.
	l2 := a.acquire(t, bobTok, "leader", map[string]any{"ttl_seconds": 10})
	a.putConfig(aliceTok, "cfg", 3, nil, fence(l.token)).problem(t, http.StatusConflict, "fence_rejected")
	wantConfig(t, a.putConfig(bobTok, "cfg", 3, nil, fence(l2.token)), "cfg", 3, "3", "bob")

	// Released.
	a.release(t, bobTok, l2)
	a.putConfig(bobTok, "cfg", 4, nil, fence(l2.token)).problem(t, http.StatusConflict, "fence_rejected")
	if v := a.get(configPath("cfg", ""), aliceTok).ok(t, http.StatusOK).num(t, "version"); v != 3 {
		t.Errorf("version %d after refused writes, want 3", v)
	}
	l3 := a.acquire(t, bobTok, "leader", nil)
	d := a.send(request{method: http.MethodDelete, path: configPath("cfg", ""), token: bobTok, body: fence(l3.token)}).ok(t, http.StatusOK)
	if d.num(t, "version") != 4 {
		t.Errorf("%v: want version 4", d)
	}
}

// TestConfigConcurrentCAS: 16 writers race with the same If-Match for
// each version; exactly one wins per version, the rest get 412.
func TestConfigConcurrentCAS(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	wantConfig(t, a.putConfig(aliceTok, "race", 0, nil, nil), "race", 1, "0", "alice")
	for v := uint64(1); v <= 5; v++ {
		var wg sync.WaitGroup
		results := make([]*response, 16)
		for i := range results {
			wg.Go(func() {
				results[i] = a.send(request{method: http.MethodPut, path: configPath("race", ""), token: aliceTok,
					header: ifMatch(v), body: map[string]any{"value": i}})
			})
		}
		wg.Wait()
		won := 0
		for _, r := range results {
			switch r.status {
			case http.StatusOK:
				won++
				if r.num(t, "version") != v+1 {
					t.Errorf("%v: want version %d", r, v+1)
				}
			case http.StatusPreconditionFailed:
				r.problem(t, http.StatusPreconditionFailed, "version_conflict")
			default:
				t.Errorf("%v: want 200 or 412", r)
			}
		}
		if won != 1 {
			t.Fatalf("version %d: %d writers won, want exactly 1", v, won)
		}
	}
	if v := a.get(configPath("race", ""), aliceTok).ok(t, http.StatusOK).num(t, "version"); v != 6 {
		t.Errorf("version %d, want 6", v)
	}
}

// TestConfigQuotas: config_keys bounds the keys with a value (a rewrite or
// a deleted key's slot does not count twice) and config_bytes their
// current values' bytes; nothing is stored past either.
func TestConfigQuotas(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	setQuotas(t, a, "acme", map[string]any{"config_keys": 2, "config_bytes": 10})
	a.putConfig(aliceTok, "a", "12345", nil, nil).ok(t, http.StatusOK) // 7 bytes
	a.putConfig(aliceTok, "a", "123", nil, nil).ok(t, http.StatusOK)   // 5 bytes: a rewrite replaces
	exceeded(t, a.putConfig(aliceTok, "b", "123456", nil, nil), "config_bytes", 10)
	a.putConfig(aliceTok, "b", "12", nil, nil).ok(t, http.StatusOK) // 5 + 4 bytes
	exceeded(t, a.putConfig(aliceTok, "c", 1, nil, nil), "config_keys", 2)
	// A request's own errors come first.
	a.putConfig(aliceTok, "c", 1, ifMatch(3), nil).problem(t, http.StatusPreconditionFailed, "version_conflict")
	a.send(request{method: http.MethodDelete, path: configPath("a", ""), token: aliceTok}).ok(t, http.StatusOK)
	a.putConfig(aliceTok, "c", 1, nil, nil).ok(t, http.StatusOK)
	q := a.get("/admin/orgs/acme/quotas", adminTok).ok(t, http.StatusOK)
	wantQuota(t, q, "config_keys", 2, 2, false)
	wantQuota(t, q, "config_bytes", 10, 5, false)
	a.get(configPath("c", ""), carolTok).problem(t, http.StatusNotFound, "config_not_found")
	a.putConfig(carolTok, "c", 1, nil, nil).ok(t, http.StatusOK) // other orgs have their own
}

// TestConfigUnavailable: a failed commit is a failed write; nothing
// changes.
func TestConfigUnavailable(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.putConfig(aliceTok, "k", 1, nil, nil).ok(t, http.StatusOK)
	a.journal.FailNextCommit(errors.New("disk full"))
	a.putConfig(aliceTok, "k", 2, nil, nil).problem(t, http.StatusServiceUnavailable, "unavailable")
	a.journal.FailNextCommit(errors.New("disk full"))
	a.send(request{method: http.MethodDelete, path: configPath("k", ""), token: aliceTok}).problem(t, http.StatusServiceUnavailable, "unavailable")
	wantConfig(t, a.get(configPath("k", ""), aliceTok), "k", 1, "1", "alice")
	h := a.get(configPath("k", "/history"), aliceTok).ok(t, http.StatusOK)
	if n := len(h.obj["versions"].([]any)); n != 1 {
		t.Errorf("%v: %d versions, want 1", h, n)
	}
}

// TestConfigEvents: a write and a deletion are events on the events page,
// on a prefix watch and on the key's watch, with the key, version and
// user and never the value; a key watch starts with the key's snapshot,
// sees no lock events of the same name and resumes by Last-Event-ID.
func TestConfigEvents(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.putConfig(aliceTok, "svc/db", map[string]any{"secret": "value"}, nil, nil).ok(t, http.StatusOK)

	kw := a.watch(t, configPath("svc/db", "/watch"), aliceTok, nil)
	f := kw.next(t)
	if f.event != "snapshot" {
		t.Fatalf("%v: want a snapshot", f)
	}
	snap := &response{obj: f.obj(t)}
	snap.keys(t, "seq", "key", "version", "deleted", "updated_at", "updated_by")
	if snap.num(t, "version") != 1 || snap.str("key") != "svc/db" || snap.str("updated_by") != "alice" {
		t.Errorf("%v: snapshot", f)
	}
	pw := a.watch(t, "/watch?prefix=svc", bobTok, nil)
	pw.snapshot(t)

	// A lock of the same name is not the key.
	l := a.acquire(t, aliceTok, "svc/db", nil)
	a.putConfig(bobTok, "svc/db", 2, ifMatch(1), nil).ok(t, http.StatusOK)
	a.send(request{method: http.MethodDelete, path: configPath("svc/db", ""), token: aliceTok}).ok(t, http.StatusOK)

	configEvent := func(fr frame, typ string, version uint64, by string) uint64 {
		t.Helper()
		if fr.event != typ {
			t.Fatalf("%v: want %s", fr, typ)
		}
		m := &response{obj: fr.obj(t)}
		m.keys(t, "seq", "type", "key", "version", "by", "at")
		if m.str("type") != typ || m.str("key") != "svc/db" || m.num(t, "version") != version || m.str("by") != by || m.num(t, "seq") != fr.seq(t) {
			t.Errorf("%v: want %s version %d by %s", fr, typ, version, by)
		}
		if strings.Contains(fr.data, "secret") {
			t.Errorf("%v: the event carries the value", fr)
		}
		return fr.seq(t)
	}
	first := configEvent(kw.next(t), "config.updated", 2, "bob")
	configEvent(kw.next(t), "config.deleted", 3, "alice")

	if ev := pw.event(t); ev.typ != "lock.acquired" || ev.token != l.token {
		t.Errorf("prefix watch: %v, want the lock's acquire", ev)
	}
	configEvent(pw.next(t), "config.updated", 2, "bob")
	configEvent(pw.next(t), "config.deleted", 3, "alice")
	kw.close()
	pw.close()

	// Resume after the update: the deletion only.
	rw := a.watch(t, configPath("svc/db", "/watch"), aliceTok, http.Header{"Last-Event-ID": {strconv.FormatUint(first, 10)}})
	configEvent(rw.next(t), "config.deleted", 3, "alice")
	rw.close()

	// The events page shows them in the same shape.
	var types []string
	for _, e := range a.get("/events", bobTok).ok(t, http.StatusOK).obj["events"].([]any) {
		m := e.(map[string]any)
		if strings.HasPrefix(m["type"].(string), "config.") {
			(&response{obj: m}).keys(t, "seq", "type", "key", "version", "by", "at")
			types = append(types, m["type"].(string))
		}
	}
	if strings.Join(types, " ") != "config.updated config.updated config.deleted" {
		t.Errorf("events page config events: %v", types)
	}
}

// TestConfigWatchRefusals: a bad Last-Event-ID or key is 422, and the
// stream limits apply as to lock watches.
func TestConfigWatchRefusals(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	_, r := a.openStream(t, configPath("k", "/watch"), aliceTok, http.Header{"Last-Event-ID": {"x"}})
	r.problem(t, http.StatusUnprocessableEntity, "invalid_last_event_id")
	_, r = a.openStream(t, configPath("a//b", "/watch"), aliceTok, nil)
	r.problem(t, http.StatusUnprocessableEntity, "invalid_name")
	// The fixture allows two streams per principal.
	a.watch(t, configPath("k", "/watch"), aliceTok, nil).next(t)
	a.watch(t, configPath("k", "/watch"), aliceTok, nil).next(t)
	_, r = a.openStream(t, configPath("k", "/watch"), aliceTok, nil)
	r.problem(t, http.StatusTooManyRequests, "too_many_watches")
}

// TestConfigACL: config keys follow the org's ACL rules as lock names do:
// observe to read (get, history, watch, listing, events), acquire to
// write and delete; a fence needs observe on its lock.
func TestConfigACL(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	a.makeOwner(t)
	only := map[string]any{"acquire": []string{"user:alice"}, "observe": []string{"user:alice"}}
	a.put("/acls/app%2Fsecret", aliceTok, only).ok(t, http.StatusOK)
	a.put("/acls/locks%2Fhidden", aliceTok, only).ok(t, http.StatusOK)
	a.putConfig(aliceTok, "app/secret/x", 1, nil, nil).ok(t, http.StatusOK)
	a.putConfig(bobTok, "app/open", 1, nil, nil).ok(t, http.StatusOK)

	a.get(configPath("app/secret/x", ""), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	a.get(configPath("app/secret/x", "/history"), bobTok).problem(t, http.StatusForbidden, "permission_denied")
	a.putConfig(bobTok, "app/secret/x", 2, nil, nil).problem(t, http.StatusForbidden, "permission_denied")
	a.putConfig(bobTok, "app/secret/new", 2, nil, nil).problem(t, http.StatusForbidden, "permission_denied")
	a.send(request{method: http.MethodDelete, path: configPath("app/secret/x", ""), token: bobTok}).problem(t, http.StatusForbidden, "permission_denied")
	_, r := a.openStream(t, configPath("app/secret/x", "/watch"), bobTok, nil)
	r.problem(t, http.StatusForbidden, "permission_denied")
	fence := map[string]any{"fence": map[string]any{"lock": "locks/hidden", "fencing_token": 1}}
	a.putConfig(bobTok, "app/open", 2, nil, fence).problem(t, http.StatusForbidden, "permission_denied")

	list := a.get("/config?prefix=app", bobTok).ok(t, http.StatusOK)
	if cs := list.obj["configs"].([]any); len(cs) != 1 || cs[0].(map[string]any)["key"] != "app/open" {
		t.Errorf("bob lists %v, want app/open only", cs)
	}
	if n := len(a.get("/config?prefix=app", aliceTok).ok(t, http.StatusOK).obj["configs"].([]any)); n != 2 {
		t.Errorf("alice lists %d keys, want 2", n)
	}
	for _, e := range a.get("/events", bobTok).ok(t, http.StatusOK).obj["events"].([]any) {
		if e.(map[string]any)["key"] == "app/secret/x" {
			t.Errorf("bob sees %v", e)
		}
	}
	wantConfig(t, a.get(configPath("app/secret/x", ""), aliceTok), "app/secret/x", 1, "1", "alice")
}

// TestConfigWriteBodyDecoding: a config write's body is decoded by the
// server itself, not by huma (one pass over a large value); it answers
// what huma answers for every other body: 400 for a body that is not
// JSON, 422 validation_failed naming each member at fault, 415 for
// another content type. Nothing is stored when it refuses. A value sent
// with whitespace is stored compact, and the last of repeated members
// counts, as encoding/json has it.
func TestConfigWriteBodyDecoding(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	const key = "decoded"
	long := `"` + strings.Repeat("x", domain.MaxConfigDescription+1) + `"`
	for _, c := range []struct {
		body   string
		ctype  string
		status int
		code   string
		locs   []string
	}{
		{body: `{`, status: 400, code: "malformed_request", locs: []string{"body"}},
		{body: `{"value":1} x`, status: 400, code: "malformed_request", locs: []string{"body"}},
		{body: `{"value":1}{"value":2}`, status: 400, code: "malformed_request", locs: []string{"body"}},
		{body: `{"value":{"a":}}`, status: 400, code: "malformed_request", locs: []string{"body"}},
		{body: `[1]`, status: 422, code: "validation_failed", locs: []string{"body"}},
		{body: `null`, status: 422, code: "validation_failed", locs: []string{"body"}},
		{body: `"text"`, status: 422, code: "validation_failed", locs: []string{"body"}},
		{body: `{}`, status: 422, code: "validation_failed", locs: []string{"body"}},
		{body: `{"description":"no value"}`, status: 422, code: "validation_failed", locs: []string{"body"}},
		{body: `{"value":1,"description":5}`, status: 422, code: "validation_failed", locs: []string{"body.description"}},
		{body: `{"value":1,"description":` + long + `}`, status: 422, code: "validation_failed", locs: []string{"body.description"}},
		{body: `{"value":1,"Description":"x"}`, status: 422, code: "validation_failed", locs: []string{"body.Description"}},
		{body: `{"value":1,"VALUE":2}`, status: 422, code: "validation_failed", locs: []string{"body.VALUE"}},
		{body: `{"value":1,"other":1}`, status: 422, code: "validation_failed", locs: []string{"body.other"}},
		{body: `{"value":1,"expected_version":-1}`, status: 422, code: "validation_failed", locs: []string{"body.expected_version"}},
		{body: `{"value":1,"expected_version":1.5}`, status: 422, code: "validation_failed", locs: []string{"body.expected_version"}},
		{body: `{"value":1,"fence":{"lock":"","fencing_token":0}}`, status: 422, code: "validation_failed",
			locs: []string{"body.fence.fencing_token", "body.fence.lock"}},
		{body: `{"value":1,"fence":{"lock":"a","fencing_token":1,"x":2}}`, status: 422, code: "validation_failed", locs: []string{"body.fence.x"}},
		{body: `{"value":1}`, ctype: "text/plain", status: 415, code: "unsupported_media_type", locs: []string{"body"}},
	} {
		r := a.send(request{method: http.MethodPut, path: configPath(key, ""), token: aliceTok, body: c.body, ctype: c.ctype})
		r.problem(t, c.status, c.code)
		if got := r.locations(); !slices.Equal(got, c.locs) {
			t.Errorf("%s: errors[].location %q, want %q", c.body, got, c.locs)
		}
	}
	a.get(configPath(key, ""), aliceTok).problem(t, http.StatusNotFound, "config_not_found")

	r := a.send(request{method: http.MethodPut, path: configPath(key, ""), token: aliceTok,
		body: "{ \"value\" : { \"a\" : [1, 2 ,\n 3], \"s\": \"two  words\" } , \"description\":\"d\" }"})
	wantConfig(t, r, key, 1, `{"a":[1,2,3],"s":"two  words"}`, "alice")
	if r.str("description") != "d" {
		t.Errorf("%v: description", r)
	}
	wantConfig(t, a.send(request{method: http.MethodPut, path: configPath(key, ""), token: aliceTok, body: `{"value":1,"value":2}`}), key, 2, `2`, "alice")
	wantConfig(t, a.send(request{method: http.MethodPut, path: configPath(key, ""), token: aliceTok,
		body: `{"value":null,"expected_version":null,"fence":null}`}), key, 3, `null`, "alice")
}

// TestLargeConfigWritesTakeTurns: config writes of 64 KiB or more wait
// for a turn (at most half the CPUs serve them at once); small writes and
// lock requests do not wait for them, a waiting write is answered once a
// turn frees up, and one whose client gives up while waiting is not
// stored.
func TestLargeConfigWritesTakeTurns(t *testing.T) {
	t.Parallel()
	a := newAPI(t)
	large := map[string]any{"value": strings.Repeat("x", 64<<10)}
	release := httpapi.TakeAllLargeWriteTurns(a.server)
	waiting := a.goSend(request{method: http.MethodPut, path: configPath("big", ""), token: aliceTok, body: large})

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	a.send(request{method: http.MethodPut, path: configPath("gave-up", ""), token: aliceTok, body: large, ctx: ctx}).
		problem(t, http.StatusServiceUnavailable, "request_cancelled")

	wantConfig(t, a.putConfig(aliceTok, "small", 1, nil, nil), "small", 1, "1", "alice")
	a.acquire(t, aliceTok, "beside/large", nil)
	select {
	case r := <-waiting:
		t.Fatalf("%v: answered while every turn was taken", r)
	default:
	}
	release()
	r := <-waiting
	r.ok(t, http.StatusOK)
	if r.num(t, "version") != 1 {
		t.Errorf("%v: want version 1", r)
	}
	a.get(configPath("gave-up", ""), aliceTok).problem(t, http.StatusNotFound, "config_not_found")
}

// TestConfigWriteRatePerOrg: an org's config writes share a budget of
// body bytes (config.write_rate per second, a second's worth and at least
// 1 MiB at once): beyond it every user of the org gets 429 rate_limited
// with a Retry-After after which the write passes, nothing is stored by a
// refused write, and another org is not held back.
func TestConfigWriteRatePerOrg(t *testing.T) {
	t.Parallel()
	const rate = 512 << 10
	a := newAPIWith(t, setup{configWriteRate: rate})
	body := `{"value":"` + strings.Repeat("x", 200<<10) + `"}`
	put := func(token, key string) *response {
		return a.send(request{method: http.MethodPut, path: configPath(key, ""), token: token, body: body})
	}
	fit := (1 << 20) / len(body) // the burst is 1 MiB
	for range fit {
		put(aliceTok, "big").ok(t, http.StatusOK)
	}
	r := put(aliceTok, "big").problem(t, http.StatusTooManyRequests, "rate_limited")
	left := 1<<20 - fit*len(body)
	wantWait := int(math.Ceil(float64(len(body)-left) / rate))
	if got := r.header.Get("Retry-After"); got != strconv.Itoa(wantWait) {
		t.Errorf("Retry-After %q, want %d", got, wantWait)
	}
	put(bobTok, "bob-big").problem(t, http.StatusTooManyRequests, "rate_limited")
	put(carolTok, "big").ok(t, http.StatusOK)
	a.get(configPath("bob-big", ""), bobTok).problem(t, http.StatusNotFound, "config_not_found")
	if v := a.get(configPath("big", ""), aliceTok).ok(t, http.StatusOK).num(t, "version"); v != uint64(fit) {
		t.Errorf("version %d after %d writes passed", v, fit)
	}

	a.clock.Advance(time.Duration(wantWait) * time.Second)
	put(aliceTok, "big").ok(t, http.StatusOK)
}
