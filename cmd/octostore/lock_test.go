package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	lockToken  = "lock-cli-token-0123456789"
	otherToken = "lock-cli-other-0123456789"
)

// lockServer runs the real server with two users and returns it and the
// environment a lock command needs to reach it as acme/ops.
func lockServer(t *testing.T, dir, addr string) (*server, []string) {
	t.Helper()
	s := startServerIn(t, dir, []string{"OCTOSTORE_STATIC_TOKENS=acme/ops:" + lockToken + ",acme/other:" + otherToken},
		"--addr", addr, "--db", filepath.Join(dir, "octostore.db"), "--locks.sweep-interval", "50ms")
	return s, []string{"OCTOSTORE_URL=" + s.base, "OCTOSTORE_TOKEN=" + lockToken}
}

// lockCmd prepares `octostore lock ARGS` with env added.
func lockCmd(dir string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, append([]string{"lock"}, args...)...)
	cmd.Env = append(environ(), env...)
	cmd.Dir = dir
	return cmd
}

// runLock runs a lock command to completion (within a minute).
func runLock(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := lockCmd(dir, env, args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	_ = cmd.Wait()
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errOut.String()}
}

// waitFile waits (bounded) until path exists and returns its content.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	for range 3000 {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 && b[len(b)-1] == '\n' {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

// TestLockHoldRunsCommandsOneAfterTheOther: two hold processes with the
// same token on one name run their commands in turn, never overlapping,
// each with a greater fencing token, and exit with their command's status.
func TestLockHoldRunsCommandsOneAfterTheOther(t *testing.T) {
	dir := t.TempDir()
	_, env := lockServer(t, dir, "127.0.0.1:0")
	script := `echo "start $OCTOSTORE_LOCK_NAME $OCTOSTORE_FENCING_TOKEN $(date +%s%N)" >> log; sleep 0.3; echo "end $OCTOSTORE_FENCING_TOKEN $(date +%s%N)" >> log; exit 3`
	var cmds []*exec.Cmd
	for range 2 {
		cmd := lockCmd(dir, env, "hold", "jobs/nightly", "--wait", "60s", "--", "sh", "-c", script)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
	}
	for _, cmd := range cmds {
		timer := time.AfterFunc(time.Minute, func() { _ = cmd.Process.Kill() })
		_ = cmd.Wait()
		timer.Stop()
		if code := cmd.ProcessState.ExitCode(); code != 3 {
			t.Fatalf("hold exited %d, want the command's 3", code)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(dir, "log"))
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 4 {
		t.Fatalf("log:\n%s", raw)
	}
	var tokens, starts, ends []uint64
	for i := 0; i < 4; i += 2 {
		var name string
		var start, end, began, ended uint64
		if _, err := fmt.Sscanf(lines[i], "start %s %d %d", &name, &start, &began); err != nil || name != "jobs/nightly" {
			t.Fatalf("line %q: %v (the runs overlapped?)\n%s", lines[i], err, raw)
		}
		if _, err := fmt.Sscanf(lines[i+1], "end %d %d", &end, &ended); err != nil || end != start {
			t.Fatalf("the runs overlapped:\n%s", raw)
		}
		tokens, starts, ends = append(tokens, start), append(starts, began), append(ends, ended)
	}
	if tokens[1] <= tokens[0] {
		t.Fatalf("fencing tokens %v do not grow", tokens)
	}
	if starts[1] < ends[0] {
		t.Fatalf("the second command started (%d ns) before the first ended (%d ns)", starts[1], ends[0])
	}
}

// TestLockHoldStopsTheCommandWhenTheLockIsLost freezes a holder (SIGSTOP)
// past its session TTL: the server frees the lock, a second holder gets it
// with a higher token, and the first, once thawed, stops its command and
// exits 20.
func TestLockHoldStopsTheCommandWhenTheLockIsLost(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a 10 s session")
	}
	dir := t.TempDir()
	_, env := lockServer(t, dir, "127.0.0.1:0")
	first := lockCmd(dir, env, "hold", "leader", "--ttl", "10s", "--", "sh", "-c",
		`trap 'echo stopped >> a.term; exit 0' TERM; echo "$OCTOSTORE_FENCING_TOKEN" > a.token; while :; do sleep 0.05; done`)
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = first.Process.Kill() }()
	tokA, _ := strconv.ParseUint(strings.TrimSpace(waitFile(t, filepath.Join(dir, "a.token"))), 10, 64)
	if err := first.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	second := runLock(t, dir, env, "hold", "leader", "--wait", "60s", "--ttl", "10s", "--", "sh", "-c", `echo "$OCTOSTORE_FENCING_TOKEN" > b.token`)
	if second.code != 0 {
		t.Fatalf("second hold: %+v", second)
	}
	tokB, _ := strconv.ParseUint(strings.TrimSpace(waitFile(t, filepath.Join(dir, "b.token"))), 10, 64)
	if tokB <= tokA {
		t.Fatalf("second token %d is not above the first %d", tokB, tokA)
	}
	if err := first.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = first.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the first holder did not notice it lost the lock")
	}
	if code := first.ProcessState.ExitCode(); code != 20 {
		t.Fatalf("first hold exited %d, want 20", code)
	}
	if got := waitFile(t, filepath.Join(dir, "a.term")); got != "stopped\n" {
		t.Fatalf("the first command was not sent SIGTERM: %q", got)
	}
}

// TestLockHoldExitCodes: the wait runs out (11, the command never runs),
// usage errors (64), a signal forwarded to the command (143), and the
// status and list commands.
func TestLockHoldExitCodes(t *testing.T) {
	dir := t.TempDir()
	_, env := lockServer(t, dir, "127.0.0.1:0")
	holding := lockCmd(dir, env, "hold", "busy", "--metadata", "host-a:8080", "--", "sh", "-c",
		`trap 'echo term >> held.term; exit 0' TERM; echo "$OCTOSTORE_FENCING_TOKEN" > held; while :; do sleep 0.05; done`)
	if err := holding.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = holding.Process.Kill() }()
	tok := strings.TrimSpace(waitFile(t, filepath.Join(dir, "held")))

	r := runLock(t, dir, env, "hold", "busy", "--wait", "1s", "--", "touch", "ran")
	if r.code != 11 || !strings.Contains(r.stderr, "lock_held") {
		t.Fatalf("wait exhausted: %+v, want 11", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "ran")); err == nil {
		t.Fatal("the command ran without the lock")
	}

	r = runLock(t, dir, env, "status", "busy", "--json")
	var st map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &st) != nil || st["status"] != "held" ||
		st["metadata"] != "host-a:8080" || fmt.Sprint(st["fencing_token"]) != tok || st["holder"] != "acme/ops" {
		t.Fatalf("status: %+v", r)
	}
	r = runLock(t, dir, env, "status", "busy")
	if r.code != 0 || !strings.Contains(r.stdout, "busy: held by acme/ops, fencing token "+tok) {
		t.Fatalf("status (text): %+v", r)
	}
	r = runLock(t, dir, env, "list", "--json")
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, `"name":"busy"`) {
		t.Fatalf("list: %+v", r)
	}

	if r := runLock(t, dir, env, "--help"); r.code != 0 || !strings.Contains(r.stdout, "Exit status:") ||
		!strings.Contains(r.stdout, "  11   hold: the lock did not come within --wait") || !strings.Contains(r.stdout, "  20   hold: the lock was lost") {
		t.Errorf("lock --help: %+v", r)
	}
	for _, args := range [][]string{
		{"hold", "busy", "touch", "ran"},              // no --
		{"hold", "busy", "--ttl", "5s", "--", "true"}, // below the session minimum
		{"hold", "--", "true"},                        // no name
		{"status"},                                    // no name
		{"release", "busy"},                           // no --lease
		{"frobnicate"},                                // no such command
	} {
		if r := runLock(t, dir, env, args...); r.code != 64 {
			t.Errorf("lock %v: %+v, want 64", args, r)
		}
	}
	noToken := []string{env[0]}
	if r := runLock(t, dir, noToken, "status", "busy"); r.code != 64 || !strings.Contains(r.stderr, "OCTOSTORE_TOKEN") {
		t.Errorf("without a token: %+v", r)
	}
	loose := filepath.Join(dir, "token")
	if err := os.WriteFile(loose, []byte(lockToken+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if r := runLock(t, dir, noToken, "status", "busy", "--token-file", loose); r.code != 64 || !strings.Contains(r.stderr, "chmod 600") {
		t.Errorf("a world-readable token file: %+v", r)
	}
	_ = os.Chmod(loose, 0o600)
	if r := runLock(t, dir, noToken, "status", "busy", "--token-file", loose); r.code != 0 {
		t.Errorf("a private token file: %+v", r)
	}
	remote := []string{"OCTOSTORE_URL=http://octostore.example.com:3000", "OCTOSTORE_TOKEN=" + lockToken}
	if r := runLock(t, dir, remote, "status", "busy"); r.code != 64 || !strings.Contains(r.stderr, "plain http") {
		t.Errorf("a token in clear text to another host: %+v", r)
	}

	// SIGTERM to hold reaches the command; hold releases and exits 143.
	if err := holding.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = holding.Wait()
	if code := holding.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("hold after SIGTERM exited %d, want 143", code)
	}
	if got := waitFile(t, filepath.Join(dir, "held.term")); got != "term\n" {
		t.Fatalf("the command did not get SIGTERM: %q", got)
	}
	r = runLock(t, dir, env, "status", "busy", "--json")
	if !strings.Contains(r.stdout, `"status":"free"`) {
		t.Fatalf("after hold ended the lock is %s", r.stdout)
	}
}

// freeAddr returns a loopback address that was free a moment ago, so a
// restarted server can come back on the same one.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestLockWatchResumesAcrossARestart: `lock watch` prints the snapshot and
// then every event as a JSON line; the server restarts under it, and it
// resumes without a gap or a repeat.
func TestLockWatchResumesAcrossARestart(t *testing.T) {
	dir := t.TempDir()
	addr := freeAddr(t)
	s, env := lockServer(t, dir, addr)
	w := lockCmd(dir, env, "watch", "svc", "--prefix")
	out, err := w.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Process.Kill(); _ = w.Wait() }()
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := map[string]any{}
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		close(lines)
	}()
	next := func() map[string]any {
		select {
		case m, ok := <-lines:
			if !ok {
				t.Fatal("lock watch exited")
			}
			return m
		case <-time.After(30 * time.Second):
			t.Fatal("lock watch printed nothing")
		}
		return nil
	}
	if m := next(); m["type"] != "snapshot" {
		t.Fatalf("first line %v", m)
	}
	cycle := func(name string) {
		r := runLock(t, dir, env, "hold", name, "--", "true")
		if r.code != 0 {
			t.Fatalf("hold %s: %+v", name, r)
		}
	}
	cycle("svc/a")
	var seqs []float64
	for _, want := range []string{"lock.acquired", "lock.released"} {
		m := next()
		if m["type"] != want || m["name"] != "svc/a" {
			t.Fatalf("got %v, want %s of svc/a", m, want)
		}
		seqs = append(seqs, m["seq"].(float64))
	}
	s.stop(t)
	s, _ = lockServer(t, dir, addr)
	cycle("svc/b")
	cycle("other") // not below svc
	cycle("svc/c")
	for _, want := range []string{"svc/b", "svc/b", "svc/c", "svc/c"} {
		m := next()
		if m["name"] != want {
			t.Fatalf("after the restart got %v, want an event of %s", m, want)
		}
		seqs = append(seqs, m["seq"].(float64))
	}
	// Exactly the events the server has for svc/, in order: no gap, no repeat.
	res, err := http.NewRequestWithContext(context.Background(), http.MethodGet, s.base+"/events?prefix=svc", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Header.Set("Authorization", "Bearer "+lockToken)
	resp, err := http.DefaultClient.Do(res)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var page struct {
		Events []struct {
			Seq float64 `json:"seq"`
		} `json:"events"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&page)
	var want []float64
	for _, e := range page.Events {
		want = append(want, e.Seq)
	}
	if fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Fatalf("watched seqs %v, the server has %v", seqs, want)
	}
}
