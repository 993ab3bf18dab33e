package bootstrap_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
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
