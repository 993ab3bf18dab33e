package octostore_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The cron and systemd examples of the README, run against a real server.
// What a host provides is mapped into a temporary directory: the install
// paths /usr/local/bin and /etc/octostore, the example's server URL; %H is
// expanded to the host name as systemd does. Everything else runs as
// written.

const readmeToken = "ops-token-0123456789abcdef"

// opsHost maps the example's host paths into dir and returns a function
// that rewrites a line of the README accordingly.
func opsHost(t *testing.T, dir, addr string) func(string) string {
	t.Helper()
	for _, d := range []string{"usr/local/bin", "etc/octostore"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(filepath.Join(dir, "bin", "octostore"), filepath.Join(dir, "usr/local/bin/octostore")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "etc/octostore/token"), []byte(readmeToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// The programs the examples run write down the lock they ran under.
	for _, name := range []string{"nightly-report", "my-service"} {
		script := "#!/bin/sh\necho \"$OCTOSTORE_LOCK_NAME $OCTOSTORE_FENCING_TOKEN\" >> " + filepath.Join(dir, name+".ran") + "\n"
		if name == "my-service" {
			script += "trap 'exit 0' TERM\nwhile :; do sleep 0.05; done\n"
		}
		if err := os.WriteFile(filepath.Join(dir, "usr/local/bin", name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	host, _ := os.Hostname()
	return strings.NewReplacer("/usr/local/bin/", filepath.Join(dir, "usr/local/bin")+"/",
		"/etc/octostore/", filepath.Join(dir, "etc/octostore")+"/",
		"https://locks.example.com", "http://"+addr, "%H", host).Replace
}

func waitForFile(t *testing.T, path string) string {
	t.Helper()
	for range 3000 {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			return string(b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
	return ""
}

func TestREADMECronAndSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	var cron, unit string
	for _, f := range readmeFences(t, "Running under cron and systemd") {
		switch f.lang {
		case "crontab":
			cron = f.text
		case "ini":
			unit = f.text
		}
	}
	if cron == "" || unit == "" {
		t.Fatal("the README section has no crontab or no ini block")
	}
	dir := t.TempDir()
	addr := startBinary(t, dir, []string{"OCTOSTORE_STATIC_TOKENS=acme/ops:" + readmeToken})
	mapped := opsHost(t, dir, addr)
	env := []string{"PATH=/usr/bin:/bin", "HOME=" + dir} // what cron gives a job

	// cron: the line after its five schedule fields is run by sh. Twice
	// at once, as on two hosts: one runs the report, the other exits 11,
	// which the line turns into success.
	line := strings.TrimSpace(cron)
	fields := strings.Fields(line)
	command := strings.TrimSpace(line[strings.Index(line, fields[5]):])
	var jobs []*exec.Cmd
	for range 2 {
		cmd := exec.Command("sh", "-c", mapped(command))
		cmd.Env, cmd.Dir = env, dir
		jobs = append(jobs, cmd)
	}
	outs := make([]strings.Builder, len(jobs))
	for i, j := range jobs {
		j.Stdout, j.Stderr = &outs[i], &outs[i]
		if err := j.Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i, j := range jobs {
		if err := j.Wait(); err != nil {
			t.Fatalf("the cron line failed: %v\n%s", err, outs[i].String())
		}
	}
	if got := waitForFile(t, filepath.Join(dir, "nightly-report.ran")); !strings.HasPrefix(got, "jobs/nightly-report ") {
		t.Fatalf("nightly-report ran as %q", got)
	}

	// systemd: Environment= and ExecStart= as the unit says; stopping the
	// unit sends SIGTERM to hold alone (KillMode=mixed), whose status 143
	// the unit counts as success.
	svcEnv := append([]string{}, env...)
	var execStart string
	sc := bufio.NewScanner(strings.NewReader(unit))
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), "=")
		switch k {
		case "Environment":
			svcEnv = append(svcEnv, mapped(v))
		case "ExecStart":
			execStart = mapped(v)
		case "SuccessExitStatus":
			if v != "143" {
				t.Fatalf("SuccessExitStatus=%s; hold exits 143 on SIGTERM", v)
			}
		}
	}
	argv := strings.Fields(execStart)
	svc := exec.Command(argv[0], argv[1:]...)
	svc.Env, svc.Dir = svcEnv, dir
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = svc.Process.Kill() }()
	if got := waitForFile(t, filepath.Join(dir, "my-service.ran")); !strings.HasPrefix(got, "service/leader ") {
		t.Fatalf("my-service ran as %q", got)
	}
	host, _ := os.Hostname()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	status := exec.CommandContext(ctx, filepath.Join(dir, "usr/local/bin/octostore"), "lock", "status", "service/leader", "--json",
		"--token-file", filepath.Join(dir, "etc/octostore/token"))
	status.Env = append(env, "OCTOSTORE_URL=http://"+addr)
	out, err := status.Output()
	if err != nil || !strings.Contains(string(out), `"metadata":"`+host+`:8080"`) {
		t.Fatalf("lock status: %v %s", err, out)
	}
	_ = svc.Process.Signal(syscall.SIGTERM)
	_ = svc.Wait()
	if code := svc.ProcessState.ExitCode(); code != 143 {
		t.Fatalf("the unit's hold exited %d after SIGTERM, want 143", code)
	}
}
