package bootstrap_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/octostore/octostore/bootstrap"
)

// quotaOf returns limit and used of one quota in a quotas response.
func quotaOf(t *testing.T, r *resp, name string) (limit, used float64) {
	t.Helper()
	q, ok := r.obj[name].(map[string]any)
	if !ok {
		t.Fatalf("no %s in %s", name, r.raw)
	}
	// Numbers decode as json.Number or float64; both print as digits.
	l, _ := strconv.ParseFloat(fmt.Sprint(q["limit"]), 64)
	u, _ := strconv.ParseFloat(fmt.Sprint(q["used"]), 64)
	return l, u
}

// TestQuotaOverrideSurvivesRestart: an override set through the admin API
// is stored in SQLite and enforced again after a restart.
func TestQuotaOverrideSurvivesRestart(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "octostore.db")
	s1 := startServer(t, e2eConfig(db), nil, nil)
	s1.call(t, http.MethodPut, "/admin/orgs/acme/quotas", adminTok, map[string]any{"locks": 1, "sessions": 2}).ok(t, http.StatusOK)
	s1.acquire(t, aliceToken, "q/one", map[string]any{"ttl_seconds": 600})
	s1.stop()

	s2 := startServer(t, e2eConfig(db), nil, nil)
	r := s2.call(t, http.MethodGet, "/admin/orgs/acme/quotas", adminTok, nil).ok(t, http.StatusOK)
	if l, u := quotaOf(t, r, "locks"); l != 1 || u != 1 {
		t.Errorf("locks after restart: limit %v used %v, want 1 and 1; %s", l, u, r.raw)
	}
	if l, _ := quotaOf(t, r, "sessions"); l != 2 {
		t.Errorf("sessions after restart: limit %v, want 2", l)
	}
	r = s2.call(t, http.MethodPost, lockPath("q/two", "/acquire"), bobToken, nil).problem(t, http.StatusTooManyRequests, "quota_exceeded")
	if r.str("quota") != "locks" {
		t.Errorf("refusal after restart names %q: %s", r.str("quota"), r.raw)
	}
	s2.acquire(t, carolToken, "q/two", nil) // globex has the default
	checkSpec(t, s2)
}

// TestQuotaConcurrentCreators: 64 principals of one org opening sessions
// at once against a quota of 10 get exactly 10, through the real server.
func TestQuotaConcurrentCreators(t *testing.T) {
	t.Parallel()
	cfg := e2eConfig(filepath.Join(t.TempDir(), "octostore.db"))
	cfg.Quotas.Sessions = 10
	s := startServer(t, cfg, nil, nil)
	var wg sync.WaitGroup
	statuses := make(chan int, racers)
	for i := range racers {
		wg.Go(func() {
			r, err := s.do(req{method: http.MethodPost, path: "/sessions", token: racerToken(i), body: map[string]any{"ttl_seconds": 60}})
			if err != nil {
				t.Error(err)
				return
			}
			statuses <- r.status
		})
	}
	wg.Wait()
	close(statuses)
	count := map[int]int{}
	for st := range statuses {
		count[st]++
	}
	if count[http.StatusCreated] != 10 || count[http.StatusTooManyRequests] != racers-10 {
		t.Errorf("statuses %v, want 10 × 201 and %d × 429", count, racers-10)
	}
	r := s.call(t, http.MethodGet, "/admin/orgs/acme/quotas", adminTok, nil).ok(t, http.StatusOK)
	if l, u := quotaOf(t, r, "sessions"); l != 10 || u != 10 {
		t.Errorf("sessions: limit %v used %v, want 10 and 10", l, u)
	}
}

func TestQuotaSettings(t *testing.T) {
	cfg, err := bootstrap.LoadConfig(nil, []string{"OCTOSTORE_QUOTAS__LOCKS=7", "OCTOSTORE_QUOTAS__WATCH_STREAMS=3"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Quotas.Locks != 7 || cfg.Quotas.WatchStreams != 3 || cfg.Quotas.Webhooks != 25 || cfg.Quotas.Sessions != 10_000 {
		t.Errorf("quotas = %+v", cfg.Quotas)
	}
	for _, bad := range []string{"-1", fmt.Sprint(1_000_000_001)} {
		_, err := bootstrap.LoadConfig([]string{"--quotas.sessions=" + bad}, nil)
		if err == nil || !strings.Contains(err.Error(), "quotas.sessions") {
			t.Errorf("quotas.sessions=%s: %v, want an error naming it", bad, err)
		}
	}
}
