package bootstrap_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// frame is one Server-Sent Events frame.
type frame struct {
	id, event, data string
}

// stream is an open watch stream of the server under test.
type stream struct {
	res    *http.Response
	sc     *bufio.Scanner
	cancel context.CancelFunc
}

// watch opens path (a watch route) as token, resuming after lastID when it
// is not empty.
func (s *server) watch(t *testing.T, token, path, lastID string) *stream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+path, nil)
	r.Header.Set("Authorization", "Bearer "+token)
	if lastID != "" {
		r.Header.Set("Last-Event-ID", lastID)
	}
	res, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(r)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("GET %s: %s %s", path, res.Status, res.Header.Get("Content-Type"))
	}
	st := &stream{res: res, sc: bufio.NewScanner(res.Body), cancel: cancel}
	t.Cleanup(st.close)
	return st
}

func (st *stream) close() {
	st.cancel()
	st.res.Body.Close()
}

// next returns the next frame (comments skipped), or false at the end of
// the stream. A stuck stream fails the test after a bound.
func (st *stream) next(t *testing.T) (frame, bool) {
	t.Helper()
	timer := time.AfterFunc(30*time.Second, st.cancel)
	defer timer.Stop()
	var f frame
	for st.sc.Scan() {
		line := st.sc.Text()
		switch {
		case line == "":
			if f != (frame{}) {
				return f, true
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			f.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "event: "):
			f.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			f.data = strings.TrimPrefix(line, "data: ")
		}
	}
	return frame{}, false
}

func (st *stream) mustNext(t *testing.T) frame {
	t.Helper()
	f, ok := st.next(t)
	if !ok {
		t.Fatal("the stream ended")
	}
	return f
}

// TestWatchAcrossARestart follows a prefix on the full server: snapshot
// first, live events in order, the stream ends at shutdown (and shutdown
// does not wait for it), and after the restart a reconnect with
// Last-Event-ID replays what happened meanwhile from the database, with no
// gap and no duplicate, then goes on live.
func TestWatchAcrossARestart(t *testing.T) {
	db := filepath.Join(t.TempDir(), "octostore.db")
	s := startServer(t, e2eConfig(db), nil, nil)
	held := s.acquire(t, aliceToken, "db/held", map[string]any{"ttl_seconds": 600})

	st := s.watch(t, bobToken, "/watch?prefix=db/", "")
	snap := st.mustNext(t)
	if snap.event != "snapshot" || !strings.Contains(snap.data, `"name":"db/held"`) || strings.Contains(snap.data, "lease") {
		t.Fatalf("first frame = %+v", snap)
	}
	a := s.acquire(t, aliceToken, "db/a", map[string]any{"ttl_seconds": 60})
	s.acquire(t, carolToken, "db/a", map[string]any{"ttl_seconds": 60}) // another org: never seen
	s.call(t, http.MethodPost, lockPath("db/a", "/release"), aliceToken, map[string]any{"lease_id": a.id}).ok(t, http.StatusOK)
	var last string
	for _, want := range []string{"lock.acquired", "lock.released"} {
		f := st.mustNext(t)
		var ev map[string]any
		if err := json.Unmarshal([]byte(f.data), &ev); err != nil {
			t.Fatal(err)
		}
		if f.event != want || ev["name"] != "db/a" || ev["holder"] != "acme/alice" || f.id != strconv.FormatFloat(ev["seq"].(float64), 'f', -1, 64) {
			t.Fatalf("frame %+v, want %s of db/a", f, want)
		}
		last = f.id
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			if _, ok := st.next(t); !ok {
				return
			}
		}
	}()
	s.stop() // fails the test if the shutdown timed out waiting for the stream
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the stream did not end at shutdown")
	}

	s = startServer(t, e2eConfig(db), nil, nil)
	b := s.acquire(t, bobToken, "db/b", map[string]any{"ttl_seconds": 60})
	s.call(t, http.MethodPost, lockPath("db/held", "/release"), aliceToken, map[string]any{"lease_id": held.id}).ok(t, http.StatusOK)
	st = s.watch(t, bobToken, "/watch?prefix=db/", last)
	f1, f2 := st.mustNext(t), st.mustNext(t)
	if f1.event != "lock.acquired" || !strings.Contains(f1.data, `"name":"db/b"`) || f2.event != "lock.released" || !strings.Contains(f2.data, `"name":"db/held"`) {
		t.Fatalf("replayed after the restart: %+v %+v", f1, f2)
	}
	s.call(t, http.MethodPost, lockPath("db/b", "/release"), bobToken, map[string]any{"lease_id": b.id}).ok(t, http.StatusOK)
	if f := st.mustNext(t); f.event != "lock.released" || !strings.Contains(f.data, `"name":"db/b"`) {
		t.Fatalf("live after the replay: %+v", f)
	}
}

// TestRotatedTokenClosesItsStream: rotating a token ends the watch streams
// opened with it at once; the new token works.
func TestRotatedTokenClosesItsStream(t *testing.T) {
	s := newServer(t)
	issued := s.call(t, http.MethodPost, "/admin/orgs/acme/users/dave/tokens", adminTok, nil).ok(t, http.StatusCreated)
	tok := issued.str("token")
	st := s.watch(t, tok, "/watch", "")
	if f := st.mustNext(t); f.event != "snapshot" {
		t.Fatalf("first frame %+v", f)
	}
	rotated := s.call(t, http.MethodPost, "/auth/token/rotate", tok, nil).ok(t, http.StatusCreated)
	if _, ok := st.next(t); ok {
		t.Fatal("the stream of the rotated token goes on")
	}
	s.call(t, http.MethodGet, "/locks", tok, nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	s.call(t, http.MethodGet, "/locks", rotated.str("token"), nil).ok(t, http.StatusOK)
}
