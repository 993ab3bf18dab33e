package octostore_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The README's walk-through is run as written, against the real binary, and
// each shown output is compared with what the server answers: the README
// cannot drift from the server without this test failing.

// readmeSections are the README sections whose shell blocks are run, in
// order, by TestREADMEWalkThrough (## headings, matched by prefix).
var readmeSections = []string{"Walk-through with curl", "Sessions, ephemeral locks", "Events: watch, resume", "One line of shell", "Admin dashboard", "Config store", "Feature flags and rate limits"}

// readmeAddr is the address the README's commands talk to.
const readmeAddr = "127.0.0.1:3000"

// fence is one fenced block of the README.
type fence struct {
	lang   string
	text   string
	line   int  // line of the opening fence, 1-based
	follow bool // the block follows the previous one with only blank lines between
}

// readmeFences returns the fenced blocks of the README sections whose
// headings start with one of prefixes, in order.
func readmeFences(t *testing.T, prefixes ...string) []fence {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var (
		out     []fence
		in      bool // inside a wanted section
		cur     *fence
		body    strings.Builder
		between = "x" // text since the last block closed
		found   = map[string]bool{}
	)
	for i, line := range strings.Split(string(raw), "\n") {
		if cur != nil {
			if strings.HasPrefix(line, "```") {
				cur.text = body.String()
				out = append(out, *cur)
				cur, between = nil, ""
				continue
			}
			body.WriteString(line + "\n")
			continue
		}
		if h, ok := strings.CutPrefix(line, "## "); ok {
			in = false
			for _, p := range prefixes {
				if strings.HasPrefix(h, p) {
					in, found[p] = true, true
				}
			}
			between = "x"
			continue
		}
		if !in {
			continue
		}
		if lang, ok := strings.CutPrefix(line, "```"); ok {
			cur = &fence{lang: strings.TrimSpace(lang), line: i + 1, follow: strings.TrimSpace(between) == ""}
			body.Reset()
			continue
		}
		between += line
	}
	for _, p := range prefixes {
		if !found[p] {
			t.Fatalf("README has no section %q", p)
		}
	}
	return out
}

// step is one shell block of the walk-through and the output shown for it.
type step struct {
	cmd, want fence
}

// TestREADMEWalkThrough starts the built binary the way the README's
// `make run` line does (its environment, on a free port and a fresh
// database), runs the shell blocks of the walk-through sections in one bash
// process, in order, and compares each block's output with the block the
// README shows right after it.
func TestREADMEWalkThrough(t *testing.T) { runWalkThrough(t, 10, readmeSections...) }

// TestREADMEAccessWalkThrough runs the teams and ACLs section the same way,
// on a server of its own (the section starts one with an admin token).
func TestREADMEAccessWalkThrough(t *testing.T) { runWalkThrough(t, 4, "Teams and ACLs") }

// runWalkThrough runs the shell blocks of the sections as
// TestREADMEWalkThrough says; the sections hold at least minSteps blocks.
func runWalkThrough(t *testing.T, minSteps int, sections ...string) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("the README's walk-through needs curl: %v", err)
	}
	var (
		env   []string
		steps []step
	)
	fences := readmeFences(t, sections...)
	for i := 0; i < len(fences); i++ {
		f := fences[i]
		if f.lang != "sh" {
			t.Fatalf("README line %d: a %q block without a shell block before it", f.line, f.lang)
		}
		if strings.Contains(f.text, "make run") {
			env = append(env, makeRunEnv(t, f)...)
			continue
		}
		if i+1 == len(fences) || !fences[i+1].follow || fences[i+1].lang == "sh" {
			t.Fatalf("README line %d: the shell block is not followed by the output it gives", f.line)
		}
		steps = append(steps, step{cmd: f, want: fences[i+1]})
		i++
	}
	if env == nil {
		t.Fatal("the walk-through does not say how to start the server (a `… make run` line)")
	}
	if len(steps) < minSteps {
		t.Fatalf("found %d command blocks; the README parser is off", len(steps))
	}

	dir := t.TempDir()
	addr := startBinary(t, dir, env)

	// One bash process runs every block, so variables carry over; each
	// block's output (stdout and stderr) goes to a file of its own.
	var script strings.Builder
	script.WriteString("cd " + shellQuote(dir) + "\n")
	for i, s := range steps {
		fmt.Fprintf(&script, "{\n%s\n} >%s 2>&1\n", strings.ReplaceAll(s.cmd.text, readmeAddr, addr),
			shellQuote(filepath.Join(dir, fmt.Sprintf("out.%d", i))))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("bash: %v\n%s", err, out)
	}
	for i, s := range steps {
		got, err := os.ReadFile(filepath.Join(dir, fmt.Sprintf("out.%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		for _, diff := range compareOutput(s.want.text, string(got)) {
			t.Errorf("README line %d: %s\ncommands:\n%s\nshown (line %d):\n%s\ngot:\n%s",
				s.cmd.line, diff, s.cmd.text, s.want.line, s.want.text, got)
		}
	}
}

var envAssign = regexp.MustCompile(`^([A-Z][A-Z0-9_]*)=("[^"]*"|'[^']*'|\S+)$`)

// makeRunEnv returns the environment assignments that the README's
// `VAR=value … make run` line puts before make run.
func makeRunEnv(t *testing.T, f fence) []string {
	t.Helper()
	for _, line := range strings.Split(f.text, "\n") {
		before, ok := strings.CutSuffix(strings.TrimSpace(line), "make run")
		if !ok {
			continue
		}
		var env []string
		for _, word := range strings.Fields(before) {
			m := envAssign.FindStringSubmatch(word)
			if m == nil {
				t.Fatalf("README line %d: cannot read %q before make run", f.line, word)
			}
			env = append(env, m[1]+"="+strings.Trim(m[2], `"'`))
		}
		return env
	}
	t.Fatalf("README line %d: no make run line", f.line)
	return nil
}

// startBinary builds cmd/octostore into dir and starts `octostore serve` there
// (as make run does) with env added, on a free loopback port and a fresh
// database in dir, and returns the address it listens on. It stops the
// server at cleanup.
func startBinary(t *testing.T, dir string, env []string) string {
	t.Helper()
	// Where make build puts it, so that the README's bin/octostore lines
	// run as written.
	bin := filepath.Join(dir, "bin", "octostore")
	build := exec.Command("go", "build", "-o", bin, "./cmd/octostore")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "serve")
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCTOSTORE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, "OCTOSTORE_ADDR=127.0.0.1:0", "OCTOSTORE_DB="+filepath.Join(dir, "octostore.db"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	exited := make(chan struct{})
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	addrs := make(chan string, 1)
	listening := regexp.MustCompile(`msg=listening addr=http://(127\.0\.0\.1:\d+)`)
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1]
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	select {
	case addr := <-addrs:
		return addr
	case <-exited:
		t.Fatalf("the server exited before it listened:\n%s", log.String())
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not log its listen address within 30 s")
	}
	return ""
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// Values that differ from run to run, each replaced by a placeholder before
// outputs are compared. Times must keep the wire format (milliseconds, Z).
var volatile = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\bL\d+-[0-9a-f]{16}\b`), "<lease_id>"},
	{regexp.MustCompile(`\bs_[0-9a-f]{32}\b`), "<session_id>"},
	{regexp.MustCompile(`\bwh_[0-9a-f]{16}\b`), "<webhook_id>"},
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z`), "<time>"},
}

func normalize(s string) string {
	for _, v := range volatile {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// compareOutput compares a block's output with the output the README shows
// and describes every difference. JSON documents are compared as values
// (request ids, lease and session ids and times ignored); for `curl -i`
// output the shown status line and headers must be there with those values,
// other headers are ignored; anything else is compared line by line.
func compareOutput(shown, got string) []string {
	got = strings.ReplaceAll(got, "\r\n", "\n")
	if strings.HasPrefix(shown, "HTTP/") {
		shownHead, shownBody, _ := strings.Cut(shown, "\n\n")
		gotHead, gotBody, _ := strings.Cut(got, "\n\n")
		var diffs []string
		shownLines, gotLines := strings.Split(shownHead, "\n"), strings.Split(gotHead, "\n")
		if shownLines[0] != gotLines[0] {
			diffs = append(diffs, fmt.Sprintf("status line %q, shown %q", gotLines[0], shownLines[0]))
		}
		for _, h := range shownLines[1:] {
			name, value, _ := strings.Cut(h, ":")
			ok := false
			for _, g := range gotLines[1:] {
				gn, gv, _ := strings.Cut(g, ":")
				ok = ok || strings.EqualFold(gn, name) && normalize(strings.TrimSpace(gv)) == normalize(strings.TrimSpace(value))
			}
			if !ok {
				diffs = append(diffs, fmt.Sprintf("header %q is not in the response", h))
			}
		}
		return append(diffs, compareOutput(shownBody, gotBody)...)
	}
	if want, ok := jsonValues(shown); ok {
		have, ok := jsonValues(got)
		if !ok {
			return []string{"the output is not the JSON shown"}
		}
		if len(have) != len(want) {
			return []string{fmt.Sprintf("%d JSON documents, shown %d", len(have), len(want))}
		}
		var diffs []string
		for i := range want {
			if !reflect.DeepEqual(have[i], want[i]) {
				diffs = append(diffs, fmt.Sprintf("JSON document %d differs: got %v, shown %v", i+1, have[i], want[i]))
			}
		}
		return diffs
	}
	if w, g := normalize(strings.TrimSpace(shown)), normalize(strings.TrimSpace(got)); w != g {
		return []string{fmt.Sprintf("output %q, shown %q", g, w)}
	}
	return nil
}

// jsonValues decodes s as a sequence of JSON documents, normalized: request
// ids and volatile strings replaced.
func jsonValues(s string) ([]any, bool) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out []any
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return out, len(out) > 0
		}
		if err != nil {
			return nil, false
		}
		out = append(out, normalizeJSON(v, ""))
	}
}

func normalizeJSON(v any, key string) any {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			v[k] = normalizeJSON(e, k)
		}
	case []any:
		for i, e := range v {
			v[i] = normalizeJSON(e, key)
		}
	case string:
		if key == "request_id" {
			return "<request_id>"
		}
		return normalize(v)
	}
	return v
}

// unsentCodes are error codes in the code that no HTTP response carries,
// each with the reason; TestREADMEErrorCodes requires every other code in
// the README's Errors table.
var unsentCodes = map[string]string{
	"invalid_token_entry": "configuration: a malformed static token entry, refused at start-up",
	"token_too_short":     "configuration: a static token under 16 characters, refused at start-up",
	"invalid_limit":       "application guard: the HTTP schema already refuses limit < 1 (validation_failed)",
	"invalid_quota":       "application guard: the HTTP schema already refuses a quota limit out of range (validation_failed)",
	"not_acceptable":      "huma answers JSON whatever the Accept header asks for, so it never sends 406",
	"invalid_percentage":  "application guard: the HTTP schema already refuses a flag percentage outside 0-100 (validation_failed)",
	"invalid_window":      "application guard: the HTTP schema already refuses window_seconds outside 1-86400 (validation_failed)",
}

// TestREADMEErrorCodes checks that the README's Errors table lists every
// error code the server can send, and no other: the codes are collected
// from the source (domain errors, domain.Invalid, the HTTP adapter's
// problems and its names for huma's errors).
func TestREADMEErrorCodes(t *testing.T) {
	inCode := errorCodesInSource(t)
	if len(inCode) < 20 {
		t.Fatalf("found only %d codes in the source; the collector is off: %v", len(inCode), inCode)
	}
	listed := readmeErrorCodes(t)
	t.Logf("codes in the source: %d, in the README: %d", len(inCode), len(listed))
	for code, where := range inCode {
		if _, unsent := unsentCodes[code]; !unsent && !listed[code] {
			t.Errorf("code %q (%s) is missing from the README's Errors table", code, where)
		}
	}
	for code := range listed {
		if _, ok := inCode[code]; !ok {
			t.Errorf("the README's Errors table lists %q, which no code sends", code)
		}
		if reason, unsent := unsentCodes[code]; unsent {
			t.Errorf("the README's Errors table lists %q, which is never sent (%s)", code, reason)
		}
	}
	for code := range unsentCodes {
		if _, ok := inCode[code]; !ok {
			t.Errorf("unsentCodes names %q, which is not in the code any more", code)
		}
	}
}

// readmeErrorCodes returns the codes of the table under the README's
// "### Errors" heading: the backquoted words of its codes column, leaving
// out remarks (in parentheses, or after a dash) that name fields.
func readmeErrorCodes(t *testing.T) map[string]bool {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "\n### Errors\n")
	if !ok {
		t.Fatal("README has no ### Errors section")
	}
	codes := map[string]bool{}
	backquoted := regexp.MustCompile("`([a-z][a-z0-9_]*)`")
	remark := regexp.MustCompile(`\([^)]*\)`)
	for _, line := range strings.Split(rest, "\n") {
		if strings.HasPrefix(line, "#") {
			break
		}
		cells := strings.Split(line, "|")
		if len(cells) < 4 || !strings.HasPrefix(line, "|") {
			continue
		}
		codesCell, _, _ := strings.Cut(cells[2], " — ")
		codesCell = remark.ReplaceAllString(codesCell, "")
		for _, m := range backquoted.FindAllStringSubmatch(codesCell, -1) {
			codes[m[1]] = true
		}
	}
	if len(codes) == 0 {
		t.Fatal("the README's Errors table lists no codes")
	}
	return codes
}

// errorCodesInSource returns every error code literal in the module's
// non-test Go files, with where it is: the Code of a domain.Error literal,
// the first argument of domain.Invalid, the code argument of the HTTP
// adapter's newProblem, and the values of its statusCodes table.
func errorCodesInSource(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	fset := token.NewFileSet()
	add := func(e ast.Expr) {
		lit, ok := e.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return
		}
		if s, err := strconv.Unquote(lit.Value); err == nil && regexp.MustCompile(`^[a-z][a-z0-9_]*$`).MatchString(s) {
			codes[s] = fset.Position(lit.Pos()).String()
		}
	}
	name := func(e ast.Expr) string {
		switch e := e.(type) {
		case *ast.Ident:
			return e.Name
		case *ast.SelectorExpr:
			return e.Sel.Name
		}
		return ""
	}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (path == "clienttest" || strings.HasPrefix(d.Name(), ".") && path != ".") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.CompositeLit:
				if name(n.Type) == "Error" {
					for _, e := range n.Elts {
						if kv, ok := e.(*ast.KeyValueExpr); ok && name(kv.Key) == "Code" {
							add(kv.Value)
						}
					}
				}
			case *ast.CallExpr:
				switch name(n.Fun) {
				case "Invalid":
					if len(n.Args) > 0 {
						add(n.Args[0])
					}
				case "newProblem":
					if len(n.Args) > 1 {
						add(n.Args[1])
					}
				}
			case *ast.ValueSpec:
				for i, id := range n.Names {
					if id.Name != "statusCodes" || i >= len(n.Values) {
						continue
					}
					if lit, ok := n.Values[i].(*ast.CompositeLit); ok {
						for _, e := range lit.Elts {
							if kv, ok := e.(*ast.KeyValueExpr); ok {
								add(kv.Value)
							}
						}
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return codes
}
