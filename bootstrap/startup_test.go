package bootstrap_test

import (
	"context"
	"database/sql"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/bootstrap"
)

// cliResult is what one command line printed and its exit code.
type cliResult struct {
	code           int
	stdout, stderr string
}

// runCLI runs one command line of the binary in process, with environ as
// the whole environment, and returns what it printed. Commands that fail
// return at once; a serve that starts would run until the test's deadline.
func runCLI(t *testing.T, environ []string, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	code := bootstrap.CLI{Version: "test", Environ: environ, Stdout: &out, Stderr: &errOut}.Run(ctx, args)
	return cliResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// fxTraces are fragments of fx's and Go's own accounts of a failure that
// an operator must not see at the default log level.
var fxTraces = []string{"level=ERROR", "component=fx", "could not build", "received non-nil error", "stack=", "goroutine ", ".go:"}

// wantOneLineFailure requires a non-zero exit and exactly one error line,
// "octostore: …" containing want, with no fx chain or stack anywhere.
func wantOneLineFailure(t *testing.T, r cliResult, want string) string {
	t.Helper()
	if r.code == 0 {
		t.Fatalf("exit code 0, want non-zero; stderr:\n%s", r.stderr)
	}
	var errLines []string
	for line := range strings.Lines(r.stderr) {
		if strings.HasPrefix(line, "octostore: ") {
			errLines = append(errLines, strings.TrimSuffix(line, "\n"))
		}
		for _, f := range fxTraces {
			if strings.Contains(line, f) {
				t.Errorf("stderr shows %q: %s", f, line)
			}
		}
	}
	if len(errLines) != 1 {
		t.Fatalf("%d error lines, want 1; stderr:\n%s", len(errLines), r.stderr)
	}
	if !strings.HasSuffix(r.stderr, errLines[0]+"\n") {
		t.Errorf("the error line is not the last line of stderr:\n%s", r.stderr)
	}
	if !strings.Contains(errLines[0], want) {
		t.Fatalf("error line %q does not contain %q", errLines[0], want)
	}
	return errLines[0]
}

// readFiles returns the content of every file in dir, by name.
func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil && !e.IsDir() {
			t.Fatal(err)
		}
		out[e.Name()] = string(b)
	}
	return out
}

// foreignDatabase writes a SQLite file of another application at path.
func foreignDatabase(t *testing.T, path string) {
	t.Helper()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)`); err != nil {
		t.Fatal(err)
	}
}

// migratedDatabase creates an up-to-date OctoStore database at path with
// the migrate command and returns a raw connection to it, closed at
// cleanup.
func migratedDatabase(t *testing.T, path string) *sql.DB {
	t.Helper()
	if r := runCLI(t, nil, "migrate", "up", "--db", path); r.code != 0 {
		t.Fatalf("migrate up: %s", r.stderr)
	}
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw
}

// TestServeStartupFailures: every start-up failure of serve prints one line
// naming what failed and why, exits non-zero, and shows no fx chain or
// stack; files it refuses are left byte-identical.
func TestServeStartupFailures(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { busy.Close() })

	for _, tc := range []struct {
		name string
		// setup prepares dir and returns the flags of serve.
		setup     func(t *testing.T, dir string) []string
		want      string
		untouched bool // the directory must be exactly as setup left it
	}{
		{
			name: "database directory missing",
			setup: func(_ *testing.T, dir string) []string {
				return []string{"--db", filepath.Join(dir, "no", "such", "octostore.db")}
			},
			want: "database DIR/no/such/octostore.db: directory DIR/no/such does not exist",
		},
		{
			name: "file is not a SQLite file",
			setup: func(t *testing.T, dir string) []string {
				writeTestFile(t, filepath.Join(dir, "octostore.db"), strings.Repeat("# a config file, not a database\n", 8))
				return []string{"--db", filepath.Join(dir, "octostore.db")}
			},
			want: "database DIR/octostore.db: the file is not a SQLite database", untouched: true,
		},
		{
			name: "SQLite file of another application",
			setup: func(t *testing.T, dir string) []string {
				foreignDatabase(t, filepath.Join(dir, "octostore.db"))
				return []string{"--db", filepath.Join(dir, "octostore.db")}
			},
			want: "database DIR/octostore.db: it is a SQLite database of another application (tables: invoices), not an OctoStore database", untouched: true,
		},
		{
			name: "schema newer than this build",
			setup: func(t *testing.T, dir string) []string {
				raw := migratedDatabase(t, filepath.Join(dir, "octostore.db"))
				if _, err := raw.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99999, 1)`); err != nil {
					t.Fatal(err)
				}
				return []string{"--db", filepath.Join(dir, "octostore.db")}
			},
			want: "database DIR/octostore.db: schema version 99999 is newer than this build's",
		},
		{
			name: "listen address in use",
			setup: func(_ *testing.T, dir string) []string {
				return []string{"--db", filepath.Join(dir, "octostore.db"), "--addr", busy.Addr().String()}
			},
			want: "listen address " + busy.Addr().String() + ": already in use by another process",
		},
		{
			name: "listen address not on this machine",
			setup: func(_ *testing.T, dir string) []string {
				return []string{"--db", filepath.Join(dir, "octostore.db"), "--addr", "192.0.2.1:0"}
			},
			want: "listen address 192.0.2.1:0: no network interface of this machine has that address",
		},
		{
			name: "listen address invalid",
			setup: func(_ *testing.T, dir string) []string {
				return []string{"--db", filepath.Join(dir, "x.db"), "--addr", "localhost"}
			},
			want: `octostore: config: addr: must be host:port such as 127.0.0.1:3000 or :3000, got "localhost"`, untouched: true,
		},
		{
			name: "bad configuration values",
			setup: func(_ *testing.T, dir string) []string {
				return []string{"--db", filepath.Join(dir, "x.db"), "--storage.sync", "fast", "--log-format", "xml"}
			},
			want: `config: storage.sync: must be one of full|normal, got "fast"; config: log_format: must be one of text|json, got "xml"`, untouched: true,
		},
		{
			name: "unknown flag",
			setup: func(_ *testing.T, dir string) []string {
				return []string{"--db", filepath.Join(dir, "x.db"), "--no-such-setting", "1"}
			},
			want: "config: flag provided but not defined: -no-such-setting", untouched: true,
		},
		{
			name: "unknown key in the configuration file",
			setup: func(t *testing.T, dir string) []string {
				writeTestFile(t, filepath.Join(dir, "octostore.yaml"), "db: x.db\nlisten: 1\n")
				return []string{"--config", filepath.Join(dir, "octostore.yaml")}
			},
			want: `unknown setting "listen"`, untouched: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			args := append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.setup(t, dir)...)
			before := readFiles(t, dir)
			r := runCLI(t, nil, args...)
			wantOneLineFailure(t, r, strings.ReplaceAll(tc.want, "DIR", dir))
			if strings.Contains(r.stderr, "=== OctoStore first start") {
				t.Error("a failed start printed first-start tokens")
			}
			after := readFiles(t, dir)
			delete(after, "octostore.db.lock") // the lock is taken before the file is looked at
			if tc.untouched && !equalMaps(before, after) {
				t.Errorf("the refused start changed %s: files %v, then %v", dir, keys(before), keys(after))
			}
		})
	}
}

// TestServeRefusesDatabaseServedByAnotherProcess: a second server on the
// same file is refused at once with a line that says another octostore
// process serves it; the first keeps serving, and backup still works.
func TestServeRefusesDatabaseServedByAnotherProcess(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "octostore.db")
	s := startServer(t, e2eConfig(path), nil, nil)
	s.acquire(t, aliceToken, "busy/db", nil)

	r := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", path)
	wantOneLineFailure(t, r, "database "+path+": another octostore process (pid ")
	wantOneLineFailure(t, r, "serves it (it holds "+path+".lock)")

	for _, args := range [][]string{
		{"token", "create", "--org", "acme", "--user", "eve", "--db", path},
		{"migrate", "up", "--db", path},
		{"restore", filepath.Join(dir, "any.db"), "--db", path},
	} {
		wantOneLineFailure(t, runCLI(t, nil, args...), "another octostore process (pid ")
	}
	if r := runCLI(t, nil, "migrate", "status", "--db", path); r.code != 0 || !strings.Contains(r.stdout, "applied") {
		t.Errorf("migrate status while serving: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	if r := runCLI(t, nil, "backup", filepath.Join(dir, "copy.db"), "--db", path); r.code != 0 || !strings.Contains(r.stdout, "1 locks") {
		t.Errorf("backup while serving: exit %d, %s%s", r.code, r.stdout, r.stderr)
	}
	s.call(t, http.MethodGet, "/health", "", nil).ok(t, http.StatusOK)
	s.acquire(t, bobToken, "busy/still-serving", nil)
}

// TestServeRefusesUnwritableDatabase needs a file this user cannot write.
// Root bypasses file permissions, so it skips there; the wording is
// checked as root too by the sqlite adapter's TestNoAccessWording.
func TestServeRefusesUnwritableDatabase(t *testing.T) {
	t.Parallel()
	if os.Geteuid() == 0 {
		t.Skip("running as root, which bypasses file permissions; adapters/sqlite TestNoAccessWording checks the message")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "octostore.db")
	migratedDatabase(t, path)
	if err := os.Chmod(path, 0o400); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", path)
	wantOneLineFailure(t, r, "database "+path+": permission denied: this user cannot read and write the file")
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	r = runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", filepath.Join(dir, "other.db"))
	wantOneLineFailure(t, r, "permission denied")
}

// TestServeRefusesLostDatabaseWithWAL: a database file that is missing or
// empty while its write-ahead log exists was lost; starting afresh would
// restart fencing tokens at 1, so the server refuses and creates nothing.
func TestServeRefusesLostDatabaseWithWAL(t *testing.T) {
	t.Parallel()
	live := filepath.Join(t.TempDir(), "octostore.db")
	s := startServer(t, e2eConfig(live), nil, nil)
	s.acquire(t, aliceToken, "wal/kept", nil)
	wal, err := os.ReadFile(live + "-wal") // the server runs: its WAL holds the grant
	if err != nil {
		t.Fatal(err)
	}
	if len(wal) == 0 {
		t.Fatal("the running server's WAL is empty")
	}

	for _, state := range []string{"missing", "empty"} {
		t.Run(state, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "octostore.db")
			writeTestFile(t, path+"-wal", string(wal))
			if state == "empty" {
				writeTestFile(t, path, "")
			}
			before := readFiles(t, dir)
			r := runCLI(t, nil, "serve", "--addr", "127.0.0.1:0", "--db", path)
			wantOneLineFailure(t, r, "database "+path+": the file is "+state+" but its write-ahead log "+path+"-wal exists")
			wantOneLineFailure(t, r, "restart fencing tokens at 1")
			after := readFiles(t, dir)
			delete(after, "octostore.db.lock")
			if !equalMaps(before, after) {
				t.Errorf("the refused start changed the directory: %v, then %v", keys(before), keys(after))
			}
		})
	}
}

// TestFirstStartPrintsTokensOnlyWhenListening: a first start whose address
// is taken fails before any token is generated or stored, so the next start
// prints them, and they work.
func TestFirstStartPrintsTokensOnlyWhenListening(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	path := filepath.Join(t.TempDir(), "octostore.db")

	r := runCLI(t, nil, "serve", "--db", path, "--addr", busy.Addr().String())
	wantOneLineFailure(t, r, "already in use")
	if strings.Contains(r.stderr, "first start") || strings.Contains(r.stderr, "octo_") {
		t.Fatalf("the failed start printed tokens:\n%s", r.stderr)
	}
	if !strings.Contains(r.stderr, "database ready") || !strings.Contains(r.stderr, "state restored") {
		t.Fatalf("the failed start did not get as far as the listener:\n%s", r.stderr)
	}

	var console syncBuffer
	s := startServer(t, firstStartConfig(path), &console, nil)
	user := bannerToken(t, console.String(), "user token for default/admin:")
	l := s.acquire(t, user, "first/after-a-failed-start", nil)
	s.wantHeld(t, user, l.name, "user:admin", l)
}

// TestTokenCreate mints a token offline, then serves the database and uses
// it; only the token's hash is stored.
func TestTokenCreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "octostore.db")
	s := startServer(t, e2eConfig(path), nil, nil)
	before := s.acquire(t, aliceToken, "token/before", map[string]any{"ttl_seconds": 3600})
	s.stop()

	r := runCLI(t, nil, "token", "create", "--org", "acme", "--user", "ci-bot", "--db", path)
	if r.code != 0 {
		t.Fatalf("token create: exit %d: %s", r.code, r.stderr)
	}
	token := strings.TrimSuffix(r.stdout, "\n")
	if strings.Contains(token, "\n") || !strings.HasPrefix(token, "octo_") || len(token) < 40 {
		t.Fatalf("token create printed %q, want one token line", r.stdout)
	}
	if strings.Contains(r.stderr, token) || !strings.Contains(r.stderr, "acme/ci-bot") {
		t.Errorf("token create note: %q", r.stderr)
	}
	for name, content := range readFiles(t, dir) {
		if strings.Contains(content, token) {
			t.Errorf("%s holds the token in plaintext", name)
		}
	}

	s2 := startServer(t, e2eConfig(path), nil, nil)
	l := s2.acquire(t, token, "token/minted", nil)
	s2.wantHeld(t, aliceToken, l.name, "user:ci-bot", l)
	s2.wantHeld(t, aliceToken, before.name, "user:alice", before)
	if l.token <= before.token {
		t.Errorf("fencing token after token create %d, want above %d", l.token, before.token)
	}
	s2.call(t, http.MethodGet, "/locks", wrongToken, nil).problem(t, http.StatusUnauthorized, "unauthenticated")
}

// TestTokenCreateRefusals: missing or invalid arguments are one clear line,
// and change nothing.
func TestTokenCreateRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "octostore.db")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--org", "acme", "--db", path}, "token create: give the user: octostore token create --org ORG --user USER"},
		{[]string{"--org", "a/b", "--user", "x", "--db", path}, `token create: org "a/b"`},
		{[]string{"--org", "acme", "--user", "..", "--db", path}, `token create: user ".."`},
		{[]string{"--org", "acme", "--user", "x", "--db", filepath.Join(dir, "gone", "x.db")}, "directory " + filepath.Join(dir, "gone") + " does not exist"},
	} {
		wantOneLineFailure(t, runCLI(t, nil, append([]string{"token", "create"}, tc.args...)...), tc.want)
	}
	wantOneLineFailure(t, runCLI(t, nil, "token"), "token: give a subcommand")
	if files := readFiles(t, dir); len(files) != 0 {
		t.Errorf("refused token commands left files: %v", keys(files))
	}
}

// TestHelpPrintsToStdout: --help and -h, on the binary and on every
// command, print the help to stdout and exit 0, and open no database.
func TestHelpPrintsToStdout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"OCTOSTORE_DB=" + filepath.Join(dir, "octostore.db")}
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "migrate"}, {"help", "token", "create"},
		{"serve", "--help"}, {"serve", "--db", filepath.Join(dir, "x.db"), "-h"},
		{"migrate", "--help"}, {"migrate", "up", "--help"}, {"migrate", "-h"},
		{"backup", "--help"}, {"backup", "copy.db", "-h"}, {"restore", "--help"},
		{"token", "--help"}, {"token", "create", "--help"}, {"token", "create", "--org", "acme", "-h"},
		{"openapi", "--help"}, {"version", "--help"},
	} {
		r := runCLI(t, env, args...)
		if r.code != 0 || r.stderr != "" || !strings.HasPrefix(r.stdout, "Usage") {
			t.Errorf("%v: exit %d, stdout %.60q…, stderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	if files := readFiles(t, dir); len(files) != 0 {
		t.Errorf("help created files: %v", keys(files))
	}
	wantOneLineFailure(t, runCLI(t, env, "help", "nonsense"), `unknown command "nonsense"`)
	wantOneLineFailure(t, runCLI(t, env, "migrate"), "migrate: give the action: octostore migrate status|up|down")
	wantOneLineFailure(t, runCLI(t, env, "migrate", "sideways"), `migrate: unknown action "sideways"`)
	if files := readFiles(t, dir); len(files) != 0 {
		t.Errorf("refused migrate commands created files: %v", keys(files))
	}
}

func writeTestFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestTokenListAndRevokeOffline: the stored tokens are listed by id (never
// the token) and one is revoked while no server runs; the next server
// refuses it. While a server runs, both are refused in one line.
func TestTokenListAndRevokeOffline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "octostore.db")
	r := runCLI(t, nil, "token", "create", "--org", "acme", "--user", "ci-bot", "--db", path)
	token := strings.TrimSpace(r.stdout)
	runCLI(t, nil, "token", "create", "--org", "globex", "--user", "ops", "--db", path)
	list := runCLI(t, nil, "token", "list", "--org", "acme", "--db", path)
	lines := strings.Split(strings.TrimSpace(list.stdout), "\n")
	if list.code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[1], "tok_") || !strings.Contains(lines[1], "acme/ci-bot") || strings.Contains(list.stdout, token) {
		t.Fatalf("token list: %+v", list)
	}
	id := strings.Fields(lines[1])[0]
	if r := runCLI(t, nil, "token", "revoke", id, "--db", path); r.code != 0 || !strings.Contains(r.stderr, id+" of acme/ci-bot revoked") {
		t.Fatalf("token revoke: %+v", r)
	}
	if r := runCLI(t, nil, "token", "revoke", id, "--db", path); r.code != 1 || !strings.Contains(r.stderr, "no stored token has this id") {
		t.Fatalf("revoking twice: %+v", r)
	}
	if list := runCLI(t, nil, "token", "list", "--db", path); strings.Contains(list.stdout, id) || !strings.Contains(list.stdout, "globex/ops") {
		t.Fatalf("after revoking: %+v", list)
	}

	s := startServer(t, e2eConfig(path), nil, nil)
	s.call(t, http.MethodGet, "/locks", token, nil).problem(t, http.StatusUnauthorized, "unauthenticated")
	for _, args := range [][]string{{"token", "list", "--db", path}, {"token", "revoke", "tok_0000000000000000", "--db", path}} {
		if r := runCLI(t, nil, args...); r.code != 1 || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.Contains(r.stderr, "another octostore process") {
			t.Errorf("%v while a server runs: %+v", args, r)
		}
	}
}

// TestOrgCreateAndUserAddOffline: an operator without a running server
// registers an org and adds an owner; the printed token works once the
// server runs, and the admin API shows both.
func TestOrgCreateAndUserAddOffline(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "octostore.db")
	if r := runCLI(t, nil, "user", "add", "--org", "initech", "--user", "peter", "--db", path); r.code != 1 || !strings.Contains(r.stderr, "no org with this name is registered") {
		t.Fatalf("user add to an unregistered org: %+v", r)
	}
	if r := runCLI(t, nil, "org", "create", "initech", "--db", path); r.code != 0 || !strings.Contains(r.stderr, "org initech registered") {
		t.Fatalf("org create: %+v", r)
	}
	if r := runCLI(t, nil, "org", "create", "initech", "--db", path); r.code != 1 || !strings.Contains(r.stderr, "registered already") {
		t.Fatalf("org create twice: %+v", r)
	}
	r := runCLI(t, nil, "user", "add", "--org", "initech", "--user", "peter", "--role", "owner", "--db", path)
	token := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(token, "octo_") || !strings.Contains(r.stderr, "initech/peter added as owner") {
		t.Fatalf("user add: %+v", r)
	}
	if r := runCLI(t, nil, "user", "add", "--org", "initech", "--user", "peter", "--db", path); r.code != 1 || !strings.Contains(r.stderr, "in the org already") {
		t.Fatalf("user add twice: %+v", r)
	}
	s := startServer(t, e2eConfig(path), nil, nil)
	l := s.acquire(t, token, "job", nil)
	if r := s.wantHeld(t, token, l.name, "user:peter", l); r.str("holder") != "initech/peter" {
		t.Fatalf("holder %s", r.raw)
	}
	users := s.call(t, http.MethodGet, "/admin/orgs/initech/users", adminTok, nil).ok(t, http.StatusOK)
	if !strings.Contains(string(users.raw), `"user":"peter","role":"owner"`) {
		t.Fatalf("admin users: %s", users.raw)
	}
	if r := runCLI(t, nil, "org", "create", "hooli", "--db", path); r.code != 1 || !strings.Contains(r.stderr, "another octostore process") {
		t.Errorf("org create while a server runs: %+v", r)
	}
}
