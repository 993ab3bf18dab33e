package main_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// stamped is the version the test binary is built with, as the Makefile
// does with git describe.
const stamped = "v9.8.7-test"

// bin is the octostore binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "octostore-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "octostore")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+stamped, "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// environ is the test's environment without OCTOSTORE_* variables.
func environ() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCTOSTORE_") {
			env = append(env, kv)
		}
	}
	return env
}

// result is the outcome of one run of the binary.
type result struct {
	code           int
	stdout, stderr string
}

// run runs the binary to completion in dir (the test's temp dir if empty).
func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = environ()
	cmd.Dir = dir
	if dir == "" {
		cmd.Dir = t.TempDir()
	}
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run %v: %v", args, err)
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// server is a running `octostore serve` whose JSON log is read line by line.
type server struct {
	cmd   *exec.Cmd
	lines chan map[string]any // log records, closed at exit
	base  string
}

// startServer runs serve on a free loopback port with a JSON log and waits
// until it logs that it started.
func startServer(t *testing.T, args ...string) *server {
	t.Helper()
	return startServerIn(t, t.TempDir(), nil, append([]string{"--addr", "127.0.0.1:0"}, args...)...)
}

// startServerIn runs serve in dir with extra environment variables.
func startServerIn(t *testing.T, dir string, env []string, args ...string) *server {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--log-format", "json"}, args...)...)
	cmd.Env = append(environ(), env...)
	cmd.Dir = dir
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &server{cmd: cmd, lines: make(chan map[string]any, 64)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			rec := map[string]any{}
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				rec = map[string]any{"raw": sc.Text()}
			}
			s.lines <- rec
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() { s.stop(t) })
	s.base = s.await(t, "listening")["addr"].(string) // http://host:port, or https:// with TLS
	return s
}

// await returns the next log record whose msg is msg, failing the test if
// the server exits or 30 s pass first.
func (s *server) await(t *testing.T, msg string) map[string]any {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case rec, ok := <-s.lines:
			if !ok {
				t.Fatalf("server exited before logging %q", msg)
			}
			if rec["msg"] == msg {
				return rec
			}
		case <-timeout:
			t.Fatalf("no %q log line within 30s", msg)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit; stopping twice is harmless.
func (s *server) stop(t *testing.T) {
	t.Helper()
	if s.cmd.ProcessState != nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	for range s.lines {
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("server exit: %v", err)
	}
}

// getJSON fetches path and decodes its JSON body.
func (s *server) getJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	res, err := http.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	return body
}

// TestVersionIsTheSameEverywhere: the version command, --version, /health,
// the OpenAPI info.version (served and printed) and the start-up log line
// all show the version stamped at build time.
func TestVersionIsTheSameEverywhere(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"version"}, {"--version"}, {"serve", "--version"}} {
		if r := run(t, "", args...); r.code != 0 || r.stdout != stamped+"\n" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if r := run(t, "", "openapi"); r.code != 0 || !strings.Contains(r.stdout, "\n  version: "+stamped+"\n") {
		t.Errorf("openapi does not carry info.version %s: exit %d, %s", stamped, r.code, r.stderr)
	}

	s := startServer(t, "--db", filepath.Join(t.TempDir(), "octostore.db"))
	if v := s.await(t, "octostore started")["version"]; v != stamped {
		t.Errorf("start-up log version = %v, want %s", v, stamped)
	}
	if v := s.getJSON(t, "/health")["version"]; v != stamped {
		t.Errorf("/health version = %v, want %s", v, stamped)
	}
	info, _ := s.getJSON(t, "/openapi.json")["info"].(map[string]any)
	if v := info["version"]; v != stamped {
		t.Errorf("/openapi.json info.version = %v, want %s", v, stamped)
	}
}

// wantOneLine requires exit code 1 and a stderr of exactly one line, the
// error, containing want.
func wantOneLine(t *testing.T, r result, want string) {
	t.Helper()
	if r.code != 1 {
		t.Errorf("exit code %d, want 1", r.code)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "octostore: ") || !strings.Contains(r.stderr, want) {
		t.Errorf("stderr = %q, want one line \"octostore: …%s…\"", r.stderr, want)
	}
}

// TestStartupFailuresAreOneLine runs the real binary into start-up
// failures (with --log-level warn, so that nothing else is printed): each
// is one line on stderr and exit code 1. A second server on a file that is
// served is refused with the first one's pid, while backup keeps working.
func TestStartupFailuresAreOneLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing", "octostore.db")
	wantOneLine(t, run(t, "", "serve", "--log-level", "warn", "--db", missing),
		"database "+missing+": directory "+filepath.Dir(missing)+" does not exist")
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, []byte(strings.Repeat("plain text\n", 20)), 0o600); err != nil {
		t.Fatal(err)
	}
	wantOneLine(t, run(t, "", "serve", "--log-level", "warn", "--db", notDB), "the file is not a SQLite database")

	path := filepath.Join(dir, "octostore.db")
	s := startServer(t, "--db", path, "--log-level", "info")
	s.await(t, "octostore started")
	pid := fmt.Sprintf("(pid %d)", s.cmd.Process.Pid)
	wantOneLine(t, run(t, "", "serve", "--log-level", "warn", "--addr", "127.0.0.1:0", "--db", path),
		"database "+path+": another octostore process "+pid+" serves it")
	wantOneLine(t, run(t, "", "token", "create", "--org", "acme", "--user", "ci", "--db", path),
		"another octostore process "+pid+" serves it")
	busy := strings.TrimPrefix(s.base, "http://")
	wantOneLine(t, run(t, "", "serve", "--log-level", "warn", "--addr", busy, "--db", filepath.Join(dir, "other.db")),
		"listen address "+busy+": already in use by another process")
	if r := run(t, "", "backup", filepath.Join(dir, "copy.db"), "--db", path); r.code != 0 {
		t.Errorf("backup while the server runs: exit %d: %s", r.code, r.stderr)
	}
	if v := s.getJSON(t, "/health")["status"]; v != "ok" {
		t.Errorf("/health after the refused starts: %v", v)
	}
}

// TestHelpExitsZeroOnStdout: help on the binary and every command goes to
// stdout with exit code 0, and creates no database in the working
// directory.
func TestHelpExitsZeroOnStdout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"serve", "--help"}, {"migrate", "--help"}, {"migrate", "up", "-h"},
		{"backup", "--help"}, {"restore", "-h"}, {"token", "--help"}, {"token", "create", "--help"},
		{"openapi", "--help"}, {"version", "--help"},
	} {
		r := run(t, dir, args...)
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage") {
			t.Errorf("%v: exit %d, stdout %.40q, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("help created %d files in the working directory, e.g. %s", len(entries), entries[0].Name())
	}
}

// TestTokenCreateThenServe mints a token with the binary, then serves the
// database and authenticates with it.
func TestTokenCreateThenServe(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "octostore.db")
	r := run(t, "", "token", "create", "--org", "acme", "--user", "ci", "--db", path)
	token := strings.TrimSpace(r.stdout)
	if r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.HasPrefix(token, "octo_") {
		t.Fatalf("token create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	s := startServer(t, "--db", path)
	req, _ := http.NewRequest(http.MethodPost, s.base+"/locks/ci%2Fjob/acquire", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), `"fencing_token":1`) {
		t.Fatalf("acquire with the minted token: %d %s", res.StatusCode, body)
	}
}
