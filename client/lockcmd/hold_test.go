package lockcmd_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/octostore/octostore/client/lockcmd"
)

// fakeServer answers hold's requests: the lock is busy for the first busy
// acquires (each answered at once with lock_held), then granted. It
// records each acquire's wait_seconds.
type fakeServer struct {
	mu    sync.Mutex
	busy  int
	waits []float64
}

func (f *fakeServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /sessions", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"session_id":"s_1","ttl_seconds":30,"expires_at":"2026-12-05T10:00:30.000Z","keepalive_interval_seconds":10}`))
	})
	mux.HandleFunc("POST /sessions/s_1/keepalive", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"session_id":"s_1","expires_at":"2026-12-05T10:00:30.000Z"}`))
	})
	mux.HandleFunc("DELETE /sessions/s_1", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("GET /locks/job", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"name":"job","status":"held","fencing_token":7,"expires_at":"2026-12-05T10:00:30.000Z","holder":"acme/bob","waiters":2}`))
	})
	mux.HandleFunc("POST /locks/job/acquire", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.mu.Lock()
		wait, _ := body["wait_seconds"].(float64)
		f.waits = append(f.waits, wait)
		busy := len(f.waits) <= f.busy
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/problem+json")
		if busy {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"status":409,"code":"lock_held","detail":"lock job is held by another holder"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"status":"acquired","name":"job","lease_id":"L8-1","fencing_token":8,"expires_at":"2026-12-05T10:00:30.000Z","holder":"acme/ops","session_id":"s_1","ephemeral":true}`))
	})
	mux.HandleFunc("POST /locks/job/release", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte(`{"status":"released","name":"job"}`))
	})
	return mux
}

func runHold(t *testing.T, f *fakeServer, terminal bool, args ...string) (int, string) {
	t.Helper()
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	var out, errOut strings.Builder
	code := lockcmd.Run(context.Background(), append([]string{"hold", "job"}, args...), lockcmd.Env{
		Environ: []string{"OCTOSTORE_URL=" + srv.URL, "OCTOSTORE_TOKEN=t0123456789abcdef", "PATH=/usr/bin:/bin"},
		Stdout:  &out, Stderr: &errOut, Terminal: terminal,
	})
	return code, errOut.String()
}

// TestHoldQueuesAgainPastTheServerCap: a --wait longer than the server's
// 60 s cap is spread over several acquires, none asking for more than 60 s.
func TestHoldQueuesAgainPastTheServerCap(t *testing.T) {
	f := &fakeServer{busy: 2}
	code, stderr := runHold(t, f, false, "--wait", "150s", "--", "true")
	if code != 0 {
		t.Fatalf("hold: %d %s", code, stderr)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.waits) != 3 || f.waits[0] != 60 || f.waits[1] > 60 || f.waits[2] > 60 {
		t.Fatalf("acquires asked to wait %v s, want three of at most 60", f.waits)
	}
	if stderr != "" {
		t.Fatalf("hold printed %q; off a terminal it prints nothing until it has the lock", stderr)
	}
}

// TestHoldShowsTheHolderOnATerminal: while it waits, hold shows on a
// terminal who holds the lock, until when, and how many are queued, and
// clears the line when done.
func TestHoldShowsTheHolderOnATerminal(t *testing.T) {
	f := &fakeServer{busy: 1}
	code, stderr := runHold(t, f, true, "--wait", "5s", "--", "true")
	if code != 0 {
		t.Fatalf("hold: %d %s", code, stderr)
	}
	want := "waiting for job: held by acme/bob, fencing token 7, until 2026-12-05T10:00:30.000Z, 2 queued"
	if !strings.Contains(stderr, want) || !strings.HasSuffix(stderr, "\r\033[K") {
		t.Fatalf("stderr = %q, want it to show %q and clear the line", stderr, want)
	}
}

// TestHoldWaitExhausted: without --wait a busy lock ends hold at once with
// 11, and the command does not run.
func TestHoldWaitExhausted(t *testing.T) {
	f := &fakeServer{busy: 1}
	code, stderr := runHold(t, f, false, "--", "false")
	if code != lockcmd.ExitWaitExhausted || !strings.Contains(stderr, "lock_held") {
		t.Fatalf("hold: %d %q, want 11", code, stderr)
	}
}

// TestHoldJSON: with --json, hold's milestones and errors are JSON lines
// on stderr.
func TestHoldJSON(t *testing.T) {
	code, stderr := runHold(t, &fakeServer{}, false, "--json", "--", "true")
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 0 || len(lines) != 2 {
		t.Fatalf("hold --json: %d %q", code, stderr)
	}
	var acquired, released map[string]any
	if json.Unmarshal([]byte(lines[0]), &acquired) != nil || acquired["event"] != "acquired" || acquired["fencing_token"] != float64(8) ||
		json.Unmarshal([]byte(lines[1]), &released) != nil || released["event"] != "released" || released["exit_status"] != float64(0) {
		t.Fatalf("hold --json printed %q", stderr)
	}
	code, stderr = runHold(t, &fakeServer{busy: 1}, false, "--json", "--", "true")
	var failed map[string]any
	if code != lockcmd.ExitWaitExhausted || json.Unmarshal([]byte(stderr), &failed) != nil ||
		failed["code"] != "lock_held" || failed["exit_status"] != float64(11) {
		t.Fatalf("hold --json, busy: %d %q", code, stderr)
	}
}
