package bootstrap_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func configURL(key, suffix string) string { return "/config/" + url.PathEscape(key) + suffix }

// TestRestartKeepsConfigAndHistory writes, rewrites and deletes config
// values on a real database file with a history of 3 versions, restarts,
// and finds the current values, the kept history (older versions
// trimmed), the deletion and the version sequence as they were.
func TestRestartKeepsConfigAndHistory(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")
	cfg := e2eConfig(db)
	cfg.ConfigStore.History = 3

	s1 := startServer(t, cfg, nil, nil)
	for i := 1; i <= 5; i++ {
		s1.call(t, http.MethodPut, configURL("app/limits", ""), aliceToken, map[string]any{"value": map[string]any{"n": i}}).ok(t, http.StatusOK)
	}
	s1.call(t, http.MethodPut, configURL("app/gone", ""), bobToken, map[string]any{"value": "bye"}).ok(t, http.StatusOK)
	s1.call(t, http.MethodDelete, configURL("app/gone", ""), bobToken, nil).ok(t, http.StatusOK)
	s1.call(t, http.MethodPut, configURL("app/limits", ""), carolToken, map[string]any{"value": "globex"}).ok(t, http.StatusOK)
	checkSpec(t, s1)
	s1.stop()

	s2 := startServer(t, cfg, nil, nil)
	r := s2.call(t, http.MethodGet, configURL("app/limits", ""), bobToken, nil).ok(t, http.StatusOK)
	if r.num(t, "version") != 5 || string(r.obj["value"].(map[string]any)["n"].(interface{ String() string }).String()) != "5" || r.str("updated_by") != "alice" {
		t.Errorf("after restart: %s", r.raw)
	}
	h := s2.call(t, http.MethodGet, configURL("app/limits", "/history"), bobToken, nil).ok(t, http.StatusOK)
	var versions []string
	for _, v := range h.obj["versions"].([]any) {
		versions = append(versions, v.(map[string]any)["version"].(interface{ String() string }).String())
	}
	if len(versions) != 3 || versions[0] != "5" || versions[2] != "3" {
		t.Errorf("history after restart: %v, want 5 4 3", versions)
	}
	s2.call(t, http.MethodGet, configURL("app/limits", "?version=2"), bobToken, nil).problem(t, http.StatusNotFound, "config_version_not_found")
	s2.call(t, http.MethodGet, configURL("app/limits", "?version=4"), bobToken, nil).ok(t, http.StatusOK)
	s2.call(t, http.MethodGet, configURL("app/gone", ""), bobToken, nil).problem(t, http.StatusNotFound, "config_not_found")
	// The deletion is version 2; the next write goes on from it.
	r = s2.call(t, http.MethodPut, configURL("app/gone", ""), bobToken, map[string]any{"value": 1, "expected_version": 0}).ok(t, http.StatusOK)
	if r.num(t, "version") != 3 {
		t.Errorf("write after the restarted deletion: version %d, want 3", r.num(t, "version"))
	}
	r = s2.call(t, http.MethodGet, configURL("app/limits", ""), carolToken, nil).ok(t, http.StatusOK)
	if r.num(t, "version") != 1 || r.str("updated_by") != "carol" {
		t.Errorf("globex's key after restart: %s", r.raw)
	}
	// Quota usage comes back too.
	q := s2.call(t, http.MethodGet, "/admin/orgs/acme/quotas", adminTok, nil).ok(t, http.StatusOK)
	if used := q.obj["config_keys"].(map[string]any)["used"].(interface{ String() string }).String(); used != strconv.Itoa(2) {
		t.Errorf("config_keys used after restart: %s", used)
	}
	checkSpec(t, s2)
}

// TestConfigPurgeAndRecreateOverHTTP runs on a real database file with
// config_keys 2 and config_bytes 100: a third deleted key purges the one
// deleted longest ago (404 on it and its history), a stale If-Match on it
// fails, and written again it starts above its old versions; the history
// of a key keeps at most 100 bytes of older values. After a restart the
// floor and the trimmed history are as they were.
func TestConfigPurgeAndRecreateOverHTTP(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")
	cfg := e2eConfig(db)
	cfg.Quotas.ConfigKeys = 2
	cfg.Quotas.ConfigBytes = 100

	s1 := startServer(t, cfg, nil, nil)
	put := func(s *server, key string, v any, ifMatch string) *resp {
		r := req{method: http.MethodPut, path: configURL(key, ""), token: aliceToken, body: map[string]any{"value": v}}
		if ifMatch != "" {
			r.header = http.Header{"If-Match": {ifMatch}}
		}
		return s.send(t, r)
	}
	for i := 1; i <= 3; i++ {
		put(s1, "app/a", i, "").ok(t, http.StatusOK)
	}
	s1.call(t, http.MethodDelete, configURL("app/a", ""), aliceToken, nil).ok(t, http.StatusOK) // version 4
	for _, k := range []string{"app/b", "app/c"} {
		put(s1, k, "x", "").ok(t, http.StatusOK)
		s1.call(t, http.MethodDelete, configURL(k, ""), aliceToken, nil).ok(t, http.StatusOK)
	}
	s1.call(t, http.MethodGet, configURL("app/a", ""), aliceToken, nil).problem(t, http.StatusNotFound, "config_not_found")
	s1.call(t, http.MethodGet, configURL("app/a", "/history"), aliceToken, nil).problem(t, http.StatusNotFound, "config_not_found")
	s1.call(t, http.MethodGet, configURL("app/b", "/history"), aliceToken, nil).ok(t, http.StatusOK)
	put(s1, "app/a", "stale", `"3"`).problem(t, http.StatusPreconditionFailed, "version_conflict")
	// A new key starts above the floor (app/a's 4): versions 5-8 of 40
	// bytes; the third write makes 80 bytes of history (with b's and c's
	// 6, 86), the fourth would make 126 and trims app/big's oldest, 5.
	big := strings.Repeat("v", 38)
	if r := put(s1, "app/big", big, "").ok(t, http.StatusOK); r.num(t, "version") != 5 {
		t.Errorf("a new key after a purge at version 4: version %d, want 5", r.num(t, "version"))
	}
	for range 3 {
		put(s1, "app/big", big, "").ok(t, http.StatusOK)
	}
	s1.call(t, http.MethodGet, configURL("app/big", "?version=5"), aliceToken, nil).problem(t, http.StatusNotFound, "config_version_not_found")
	s1.call(t, http.MethodGet, configURL("app/big", "?version=6"), aliceToken, nil).ok(t, http.StatusOK)
	checkSpec(t, s1)
	s1.stop()

	s2 := startServer(t, cfg, nil, nil)
	s2.call(t, http.MethodGet, configURL("app/a", ""), aliceToken, nil).problem(t, http.StatusNotFound, "config_not_found")
	put(s2, "app/a", "stale", `"4"`).problem(t, http.StatusPreconditionFailed, "version_conflict")
	if r := put(s2, "app/a", "again", "").ok(t, http.StatusOK); r.num(t, "version") != 5 {
		t.Errorf("app/a written again after its purge and a restart: version %d, want 5", r.num(t, "version"))
	}
	h := s2.call(t, http.MethodGet, configURL("app/big", "/history"), aliceToken, nil).ok(t, http.StatusOK)
	if n := len(h.obj["versions"].([]any)); n != 3 {
		t.Errorf("app/big keeps %d versions after restart, want 3: %s", n, h.raw)
	}
	// The restored budget is as it was: app/a's deletion moves 7 bytes
	// in (93) and purges app/b (90); the next write of app/big would make
	// 130 and trims its oldest, 6, again.
	s2.call(t, http.MethodDelete, configURL("app/a", ""), aliceToken, nil).ok(t, http.StatusOK)
	s2.call(t, http.MethodGet, configURL("app/b", "/history"), aliceToken, nil).problem(t, http.StatusNotFound, "config_not_found")
	put(s2, "app/big", big, "").ok(t, http.StatusOK)
	s2.call(t, http.MethodGet, configURL("app/big", "?version=6"), aliceToken, nil).problem(t, http.StatusNotFound, "config_version_not_found")
	s2.call(t, http.MethodGet, configURL("app/big", "?version=7"), aliceToken, nil).ok(t, http.StatusOK)
	checkSpec(t, s2)
}
