package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// etcdURL is where scripts/etcd-start.sh makes etcd listen.
const etcdURL = "http://127.0.0.1:2379"

// compareTargets is the order of the table's rows.
var compareTargets = []string{"octostore", "etcd", "noop"}

// compareWorkloads are the workloads compare runs, with the targets and
// client count each runs by default.
var compareWorkloads = map[string]struct {
	targets []string
	clients int
}{
	"uncontended": {compareTargets, 64},
	"blocking":    {[]string{"octostore", "etcd"}, 16}, // noop cannot queue
}

func compareCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("compare", stderr)
	var (
		lf         loadFlags
		bin        = fs.String("bin", "", "octostore `binary` (default: go build ./cmd/octostore into the temp dir)")
		etcdScript = fs.String("etcd-script", "scripts/etcd-start.sh", "`script` that starts a throw-away etcd on 127.0.0.1:2379")
		only       = fs.String("targets", "", "comma-separated targets to start and measure (default octostore,etcd,noop; blocking: octostore,etcd)")
		keep       = fs.Bool("keep", false, "keep the temp dir (databases, server logs) and print its path")
		startWait  = fs.Duration("start-timeout", 5*time.Minute, "how long a server may take to come up (etcd may be installed first)")
		workload   = fs.String("workload", "uncontended", "uncontended (each client acquires and releases its own lock) or blocking (clients queue for shared locks)")
		names      = fs.Int("names", 4, "blocking: number of lock names; client i uses name i mod names")
		nWatchers  = fs.Int("watchers", 0, "uncontended: measure OctoStore a second time with this many SSE watch streams open (on a prefix the load does not write)")
		hook503    = fs.Bool("webhook-503", false, "uncontended: measure OctoStore a second time with a webhook for every event whose receiver answers 503")
		aclRules   = fs.Int("acl-rules", 0, "uncontended: measure OctoStore a second time with this many ACL rules in the load's org (one of them decides every check, through a team)")
		scrape     = fs.Duration("scrape-metrics", 0, "uncontended: measure OctoStore a second time while GET /metrics is scraped (with the admin token) every `interval`, e.g. 1s")
		bf         blockingFlags
	)
	lf.register(fs, 64)
	fs.Lookup("clients").Usage += "; 16 with -workload blocking"
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	wl, ok := compareWorkloads[*workload]
	if !ok {
		return fmt.Errorf("compare: unknown workload %q (want uncontended or blocking)", *workload)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["clients"] {
		lf.clients = wl.clients
	}
	if *only == "" {
		*only = strings.Join(wl.targets, ",")
	}
	cfg := runConfig{
		workload: *workload, clients: lf.clients, names: *names, duration: lf.duration, warmup: lf.warmup,
		seed: 1, wait: bf.wait, fifoSlack: bf.fifoSlack,
	}
	if *workload != "blocking" {
		cfg.names = 0
	}
	var chosen []string
	for t := range strings.SplitSeq(*only, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		if !slices.Contains(compareTargets, t) {
			return fmt.Errorf("unknown target %q (want %s)", t, strings.Join(compareTargets, ", "))
		}
		if !slices.Contains(wl.targets, t) {
			return fmt.Errorf("target %s does not support workload %s (compare runs it on %s)", t, *workload, strings.Join(wl.targets, ", "))
		}
		chosen = append(chosen, t)
	}

	tmp, err := os.MkdirTemp("", "octobench-compare-")
	if err != nil {
		return err
	}
	if *keep {
		defer fmt.Fprintln(stderr, "kept", tmp)
	} else {
		defer os.RemoveAll(tmp)
	}
	// Deferred after RemoveAll so that it runs first: servers stop, then
	// their files go.
	var procs []*proc
	defer func() {
		for _, p := range slices.Backward(procs) {
			p.stop(10 * time.Second)
		}
	}()
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "octobench: "+format+"\n", a...) }

	urls := map[string]string{}
	creds := genCreds(lf.clients, lf.org, lf.seed)
	extras := *nWatchers > 0 || *hook503 || *scrape > 0 || *aclRules > 0
	if extras && *workload != "uncontended" {
		return errors.New("-watchers, -webhook-503, -scrape-metrics and -acl-rules go with the uncontended workload")
	}
	if *scrape < 0 {
		return errors.New("-scrape-metrics must be a positive interval")
	}
	adminToken := "octobench-admin-" + lf.seed + "-0123456789" // at least 16 characters
	// The watchers and the webhook belong to a principal of their own in
	// the load's org, so that the broker's org index is exercised.
	side := genCreds(lf.clients+1, lf.org, lf.seed)[lf.clients]
	if slices.Contains(chosen, "octostore") {
		if *bin == "" {
			*bin = filepath.Join(tmp, "octostore")
			logf("building %s", *bin)
			build := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/octostore")
			build.Stdout, build.Stderr = stderr, stderr
			if err := build.Run(); err != nil {
				return fmt.Errorf("build octostore: %w", err)
			}
		}
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		env := append(withoutPrefix(os.Environ(), "OCTOSTORE_"), "OCTOSTORE_STATIC_TOKENS="+staticTokensEnv(append(slices.Clone(creds), side)),
			"OCTOSTORE_ADMIN_TOKEN="+adminToken)
		if extras {
			env = append(env, fmt.Sprintf("OCTOSTORE_WATCH__MAX_STREAMS=%d", max(10_000, *nWatchers)),
				fmt.Sprintf("OCTOSTORE_WATCH__MAX_STREAMS_PER_PRINCIPAL=%d", max(100, *nWatchers)),
				"OCTOSTORE_WEBHOOK_ALLOW_PRIVATE=true")
		}
		p, err := startProc("octostore", filepath.Join(tmp, "octostore.log"), env, *bin,
			"serve", "--addr", addr, "--db", filepath.Join(tmp, "octostore.db"), "--log-level", "warn", "--storage.sync", "full")
		if err != nil {
			return err
		}
		procs = append(procs, p)
		urls["octostore"] = "http://" + addr
	}
	if slices.Contains(chosen, "noop") {
		self, err := os.Executable()
		if err != nil {
			return err
		}
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		p, err := startProc("noop", filepath.Join(tmp, "noop.log"), os.Environ(), self, "noop-server", "-addr", addr)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		urls["noop"] = "http://" + addr
	}
	if slices.Contains(chosen, "etcd") {
		for _, a := range []string{"127.0.0.1:2379", "127.0.0.1:2380"} {
			if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
				c.Close()
				return fmt.Errorf("%s is already in use; stop the etcd (or whatever listens there) first", a)
			}
		}
		p, err := startProc("etcd", filepath.Join(tmp, "etcd.log"), os.Environ(), "bash", *etcdScript, filepath.Join(tmp, "etcd-data"))
		if err != nil {
			return err
		}
		procs = append(procs, p)
		urls["etcd"] = etcdURL
	}

	probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	defer probe.CloseIdleConnections()
	for _, p := range procs {
		logf("waiting for %s (log: %s)", p.name, p.logPath)
		ready := map[string]func() bool{
			"octostore": func() bool { return httpOK(ctx, probe, urls["octostore"]+"/health", "") },
			"noop":      func() bool { return httpOK(ctx, probe, urls["noop"]+"/", "") },
			"etcd":      func() bool { return httpOK(ctx, probe, etcdURL+"/health", `"health":"true"`) },
		}[p.name]
		if err := p.waitReady(ctx, *startWait, ready); err != nil {
			return err
		}
	}

	results := map[string]*result{}
	order := slices.Clone(chosen)
	for _, name := range chosen {
		if cfg.workload == "blocking" {
			logf("%s: blocking, %d clients on %d names, %s warm-up + %s measured", name, cfg.clients, cfg.names, lf.warmup, lf.duration)
		} else {
			logf("%s: %s, %d clients, %s warm-up + %s measured", name, cfg.workload, cfg.clients, lf.warmup, lf.duration)
		}
		cfg.target = name
		r, err := measure(ctx, urls[name], creds, cfg, requestTimeout(cfg.workload, lf, bf))
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		for _, p := range procs {
			if p.name == name && p.exited() {
				return fmt.Errorf("%s exited during the run:\n%s", name, p.tail())
			}
		}
		r.write(stderr)
		fmt.Fprintln(stderr)
		results[name] = r
		if name == "octostore" && extras {
			if *aclRules > 0 {
				logf("octostore: adding %d ACL rules to org %s", *aclRules, lf.org)
				if err := addACLRules(ctx, urls[name], adminToken, lf.org, creds, side, *aclRules); err != nil {
					return err
				}
			}
			with, r, err := measureWithExtras(ctx, urls[name], creds, side, cfg, extraLoad{watchers: *nWatchers, hook503: *hook503,
				scrape: *scrape, aclRules: *aclRules, adminToken: adminToken}, requestTimeout(cfg.workload, lf, bf), logf)
			if err != nil {
				return err
			}
			r.write(stderr)
			fmt.Fprintln(stderr)
			results[with] = r
			order = append(order, with)
		}
	}

	machine := machineInfo(ctx, *bin, slices.Contains(chosen, "etcd"))
	if cfg.workload == "blocking" {
		writeBlockingComparison(stdout, chosen, results, cfg, machine)
	} else {
		writeComparison(stdout, order, results, lf, machine)
	}
	for _, name := range order {
		if r := results[name]; r.failed() {
			return fmt.Errorf("%s: %w", name, r.checkError())
		} else if n := r.totalErrors(); n > 0 {
			return fmt.Errorf("%s: %d requests failed: %v", name, n, r.firstErr)
		}
	}
	return nil
}

// measure runs cfg's workload against the started target cfg.target.
func measure(ctx context.Context, base string, creds []credential, cfg runConfig, timeout time.Duration) (*result, error) {
	api, err := newHTTPAPI(base, timeout)
	if err != nil {
		return nil, err
	}
	t, err := newTarget(ctx, cfg.target, api, creds, 60)
	if err != nil {
		return nil, err
	}
	cfg.prefix = runPrefix()
	return runLoad(ctx, t, cfg)
}

// extraLoad is what compare adds to OctoStore's second measurement.
type extraLoad struct {
	watchers   int           // watch streams open
	hook503    bool          // a webhook whose receiver answers 503
	scrape     time.Duration // GET /metrics this often (0: never)
	aclRules   int           // ACL rules in the load's org (added before)
	adminToken string        // for the scrapes and the ACL set-up
}

// measureWithExtras measures OctoStore again with watch streams open, a
// failing webhook subscribed and /metrics scraped, as asked, and returns
// the row's name.
func measureWithExtras(ctx context.Context, base string, creds []credential, side credential, cfg runConfig,
	extra extraLoad, timeout time.Duration, logf func(string, ...any)) (string, *result, error) {
	nWatchers, hook503 := extra.watchers, extra.hook503
	var parts []string
	if extra.aclRules > 0 {
		parts = append(parts, fmt.Sprintf("%d ACL rules", extra.aclRules))
	}
	if extra.scrape > 0 {
		sc := startScraper(ctx, base+"/metrics", extra.adminToken, extra.scrape)
		defer func() {
			n, failed := sc.stop()
			logf("octostore: scraped /metrics %d times, %d failed", n, failed)
		}()
		parts = append(parts, "/metrics scraped every "+extra.scrape.String())
	}
	if nWatchers > 0 {
		logf("octostore: opening %d watch streams on %s", nWatchers, watchedPrefix)
		w, err := openWatchers(ctx, base, side, nWatchers)
		if err != nil {
			return "", nil, err
		}
		defer w.close()
		defer func() {
			logf("octostore: %d of %d watch streams still open after the run, %d broken", w.open.Load(), nWatchers, w.broken.Load())
		}()
		parts = append(parts, fmt.Sprintf("%d watchers", nWatchers))
	}
	if hook503 {
		rcv, err := startFailingReceiver()
		if err != nil {
			return "", nil, err
		}
		defer rcv.close()
		if err := rcv.subscribe(ctx, base, side); err != nil {
			return "", nil, err
		}
		defer func() { logf("octostore: the webhook receiver answered 503 to %d attempts", rcv.calls.Load()) }()
		parts = append(parts, "webhook answering 503")
	}
	name := "octostore + " + strings.Join(parts, " + ")
	logf("%s: %s, %d clients, %s warm-up + %s measured", name, cfg.workload, cfg.clients, cfg.warmup, cfg.duration)
	cfg.target = "octostore"
	r, err := measure(ctx, base, creds, cfg, timeout)
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", name, err)
	}
	r.target = name
	return name, r, nil
}

// writeComparison prints the side-by-side markdown table and the machine
// it was measured on.
func writeComparison(w io.Writer, order []string, rs map[string]*result, lf loadFlags, machine []string) {
	fmt.Fprintf(w, "## octobench compare: uncontended acquire+release, %d clients, %s measured after %s warm-up per target\n\n",
		lf.clients, lf.duration, lf.warmup)
	fmt.Fprintln(w, "| target | cycles/s | acquire p50 ms | acquire p99 ms | release p50 ms | release p99 ms | cycles/s vs etcd | acquire p99 / noop p99 | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|---:|")
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2f×", a/b)
	}
	for _, name := range order {
		r := rs[name]
		acq, rel := &r.ops[opAcquire].lat, &r.ops[opRelease].lat
		vsEtcd, vsNoop := "n/a", "n/a"
		if e := rs["etcd"]; e != nil {
			vsEtcd = ratio(r.cyclesPerSec(), e.cyclesPerSec())
		}
		if n := rs["noop"]; n != nil {
			vsNoop = ratio(float64(acq.percentile(99)), float64(n.ops[opAcquire].lat.percentile(99)))
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %d |\n", name, r.cyclesPerSec(),
			ms(acq.percentile(50)), ms(acq.percentile(99)), ms(rel.percentile(50)), ms(rel.percentile(99)),
			vsEtcd, vsNoop, r.totalErrors())
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "A cycle is acquire then release of the client's own lock name (for noop: two small JSON POSTs).")
	fmt.Fprintln(w, "Targets run one after another; clients and servers share this machine's cores.")
	fmt.Fprintln(w)
	for _, line := range machine {
		fmt.Fprintln(w, "- "+line)
	}
}

// writeBlockingComparison prints the table of the blocking workload and
// the machine it was measured on.
func writeBlockingComparison(w io.Writer, order []string, rs map[string]*result, cfg runConfig, machine []string) {
	fmt.Fprintf(w, "## octobench compare -workload blocking: %d clients queueing on %d lock names (client i uses name i mod %d), %s measured after %s warm-up per target\n\n",
		cfg.clients, cfg.names, cfg.names, cfg.duration, cfg.warmup)
	fmt.Fprintln(w, "| target | grants/s | wait p50 ms | wait p99 ms | wait max ms | grants/s vs etcd | FIFO violations | safety check | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---|---:|")
	for _, name := range order {
		r := rs[name]
		acq := &r.ops[opAcquire].lat
		vsEtcd := "n/a"
		if e := rs["etcd"]; e != nil && e.grantsPerSec() > 0 {
			vsEtcd = fmt.Sprintf("%.2f×", r.grantsPerSec()/e.grantsPerSec())
		}
		fifo, safety := "not checked", "not checked"
		if r.fifo != nil {
			fifo = fmt.Sprintf("%d (of %d pairs)", r.fifo.violationCount, r.fifo.pairs)
			if !r.fifoEnforced {
				fifo += " ref."
			}
		}
		if r.checked {
			safety = "ok"
			if !r.check.ok() {
				safety = fmt.Sprintf("FAILED (%d)", r.check.violationCount)
			}
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s | %s | %s | %s | %d |\n", name, r.grantsPerSec(),
			ms(acq.percentile(50)), ms(acq.percentile(99)), ms(acq.max()), vsEtcd, fifo, safety, r.totalErrors())
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "Each client loops: a blocking acquire (OctoStore: POST /locks/{name}/acquire, wait_seconds %d, ttl_seconds 60;\n", cfg.wait)
	fmt.Fprintln(w, "etcd: POST /v3/lock/lock with the client's lease, TTL 60), then at once its release (etcd: /v3/lock/unlock).")
	fmt.Fprintln(w, "grants/s counts grants acknowledged in the measured window; wait is from sending the acquire to receiving the grant.")
	fmt.Fprintf(w, "FIFO violations: pairs of waiting acquires on one name where the one sent more than %s earlier was granted later,\n", cfg.fifoSlack)
	fmt.Fprintln(w, "by fencing token (etcd: by the revision of the lock answer; \"ref.\": for reference only, does not fail the run).")
	fmt.Fprintln(w, "On a busy machine a request can also take longer than that from its connection to the server's queue: rerun,")
	fmt.Fprintln(w, "or raise -fifo-slack, to tell such delays from a server that serves out of order.")
	fmt.Fprintln(w, "Safety: holder intervals disjoint, tokens increasing per name and in real time (OctoStore: also unique).")
	fmt.Fprintln(w, "Targets run one after another; clients and servers share this machine's cores.")
	fmt.Fprintln(w)
	for _, line := range machine {
		fmt.Fprintln(w, "- "+line)
	}
}

// machineInfo describes where the numbers come from. Every probe may fail;
// a failure shows as "unknown".
func machineInfo(ctx context.Context, bin string, withEtcd bool) []string {
	out := func(name string, args ...string) string {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		b, err := exec.CommandContext(c, name, args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0])
	}
	orUnknown := func(s string) string {
		if s == "" {
			return "unknown"
		}
		return s
	}
	goVersion := out("go", "version")
	if goVersion == "" {
		goVersion = runtime.Version() + " (octobench's build)"
	}
	commit := orUnknown(out("git", "rev-parse", "--short", "HEAD"))
	if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain").Output(); err == nil && len(st) > 0 {
		commit += " (working tree has uncommitted changes)"
	}
	lines := []string{
		fmt.Sprintf("machine: %d CPUs (nproc), %s, %s/%s", runtime.NumCPU(), orUnknown(cpuModel()), runtime.GOOS, runtime.GOARCH),
		"go: " + goVersion,
		"git commit: " + commit,
	}
	if bin != "" {
		lines = append(lines, "octostore: "+orUnknown(out(bin, "version"))+", storage.sync=full, fresh SQLite database")
	}
	if withEtcd {
		lines = append(lines, "etcd: "+orUnknown(out("etcd", "--version"))+", single member, default fsync, fresh data dir")
	}
	return lines
}

// cpuModel is the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func withoutPrefix(env []string, prefix string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, prefix) })
}

// httpOK reports whether GET url answers 200 with a body containing want.
func httpOK(ctx context.Context, hc *http.Client, url, want string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode == http.StatusOK && strings.Contains(string(body), want)
}

// proc is a server process started by compare. It runs in its own process
// group, so that stop reaches whatever it spawned (the etcd script's etcd)
// and a Ctrl-C in the terminal reaches only octobench, which then stops it.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // the Wait result, once done is closed
}

func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Pdeathsig is a safety net should octobench itself be killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls ready until it holds, the process exits, ctx ends or
// timeout passes.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration, ready func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ready() {
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited before it was ready (%v):\n%s", p.name, p.err, p.tail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s:\n%s", p.name, timeout, p.tail())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after grace.
func (p *proc) stop(grace time.Duration) {
	pgid := p.cmd.Process.Pid // Setpgid makes the group id the leader's pid
	if !p.exited() {
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
		}
	}
	// Also reaches children left behind by a leader that already exited.
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(os.Stderr, "octobench: kill %s: %v\n", p.name, err)
	}
	<-p.done
}

// tail returns the last lines of the process's log.
func (p *proc) tail() string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	return "  " + strings.Join(lines[max(0, len(lines)-20):], "\n  ")
}
