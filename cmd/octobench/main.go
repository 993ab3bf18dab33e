// Command octobench puts HTTP load on OctoStore, on etcd's JSON gateway or
// on a no-op server, and reports throughput and latency percentiles. Its
// compare command starts all three on this machine and prints them side by
// side.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"
)

const usage = `Usage:
  octobench [run] [flags]          put load on one target and print its latencies
  octobench compare [flags]        start OctoStore, a no-op server and etcd; compare them
                                   (-workload blocking: OctoStore and etcd, queued acquires)
  octobench config [flags]         start OctoStore; config reads/s and writes/s, and lock acquire
                                   latency with and without clients writing 256 KiB config values
  octobench small [flags]          flag evaluations/s or limit checks/s on a running OctoStore
                                   (-workload flags or limits; 64 clients by default)
  octobench noop-server [-addr a]  serve {"ok":true} to every request (the baseline)
  octobench tokens [-n 256]        print OCTOSTORE_STATIC_TOKENS for the generated tokens

Run "octobench <command> -h" for the flags of a command.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() { <-ctx.Done(); stop() }() // a second signal kills at once
	err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "octobench:", err)
		os.Exit(1)
	}
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "run":
		return runCmd(ctx, args, stdout, stderr)
	case "compare":
		return compareCmd(ctx, args, stdout, stderr)
	case "config":
		return configCmd(ctx, args, stdout, stderr)
	case "small":
		return smallCmd(ctx, args, stdout, stderr)
	case "noop-server":
		return noopCmd(ctx, args, stderr)
	case "tokens":
		return tokensCmd(args, stdout, stderr)
	case "help":
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// loadFlags are the flags shared by run and compare.
type loadFlags struct {
	clients  int
	duration time.Duration
	warmup   time.Duration
	timeout  time.Duration
	org      string
	seed     string
}

func (l *loadFlags) register(fs *flag.FlagSet, clients int) {
	fs.IntVar(&l.clients, "clients", clients, "concurrent clients (each a distinct principal on OctoStore)")
	fs.DurationVar(&l.duration, "duration", 10*time.Second, "measured `time` per run")
	fs.DurationVar(&l.warmup, "warmup", 2*time.Second, "unmeasured warm-up `time` before each run")
	fs.DurationVar(&l.timeout, "timeout", 30*time.Second, "per-request `timeout` (blocking: on top of the wait)")
	fs.StringVar(&l.org, "org", "acme", "org of the generated OctoStore principals")
	fs.StringVar(&l.seed, "token-seed", "octobench", "`seed` of the generated OctoStore tokens (see the tokens command)")
}

// blockingFlags are the flags of the blocking workload.
type blockingFlags struct {
	wait      int
	fifoSlack time.Duration
}

func (b *blockingFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&b.wait, "wait", 60, "blocking, octostore: wait_seconds of each acquire (1-60; etcd's lock waits without limit)")
	fs.DurationVar(&b.fifoSlack, "fifo-slack", defaultFIFOSlack, "blocking: an acquire sent more than this `time` before another on the same name, both waiting, must be granted first")
}

// requestTimeout is the timeout of each request: a blocking acquire may
// take its whole wait before the server answers.
func requestTimeout(workload string, lf loadFlags, bf blockingFlags) time.Duration {
	if workload == "blocking" {
		return lf.timeout + time.Duration(bf.wait)*time.Second
	}
	return lf.timeout
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("octobench "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

func runCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	var (
		lf         loadFlags
		targetName = fs.String("target", "octostore", "system under load: octostore, etcd or noop")
		baseURL    = fs.String("url", "", "target base `URL` (default http://127.0.0.1:3000 for octostore, :2379 for etcd, :8099 for noop)")
		workload   = fs.String("workload", "uncontended", "uncontended, contended, status, mixed or blocking")
		names      = fs.Int("names", 4, "contended, blocking: number of lock names all clients share (blocking: client i uses name i mod names)")
		bf         blockingFlags
		readRatio  = fs.Float64("read-ratio", 0.8, "mixed: share of status reads (the rest are acquire+release cycles)")
		ttl        = fs.Int("ttl", 60, "octostore: ttl_seconds of each acquire")
		tokensFile = fs.String("tokens-file", "", "octostore: `file` of org/user:token entries, one per client (default: generated tokens)")
		prefix     = fs.String("prefix", "", "lock name prefix (default octobench/<unique run id>)")
		seed       = fs.Uint64("seed", 1, "seed of the workload's random choices")
	)
	lf.register(fs, 64)
	bf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *baseURL == "" {
		*baseURL = map[string]string{"octostore": "http://127.0.0.1:3000", "etcd": "http://127.0.0.1:2379", "noop": "http://127.0.0.1:8099"}[*targetName]
	}
	creds := genCreds(lf.clients, lf.org, lf.seed)
	if *tokensFile != "" {
		data, err := os.ReadFile(*tokensFile)
		if err != nil {
			return err
		}
		if creds, err = parseCreds(string(data)); err != nil {
			return fmt.Errorf("%s: %w", *tokensFile, err)
		}
	}
	api, err := newHTTPAPI(*baseURL, requestTimeout(*workload, lf, bf))
	if err != nil {
		return err
	}
	t, err := newTarget(ctx, *targetName, api, creds, *ttl)
	if err != nil {
		return err
	}
	if *prefix == "" {
		*prefix = runPrefix()
	}
	cfg := runConfig{
		target: *targetName, workload: *workload, clients: lf.clients, names: *names,
		duration: lf.duration, warmup: lf.warmup, readRatio: *readRatio, prefix: *prefix, seed: *seed,
		wait: bf.wait, fifoSlack: bf.fifoSlack,
	}
	r, err := runLoad(ctx, t, cfg)
	if err != nil {
		return err
	}
	r.write(stdout)
	if err := r.checkError(); err != nil {
		return err
	}
	if n := r.totalErrors(); n > 0 {
		return fmt.Errorf("%d requests failed; the numbers above leave them out", n)
	}
	return nil
}

// newTarget builds the named target on api.
func newTarget(ctx context.Context, name string, api httpAPI, creds []credential, ttl int) (target, error) {
	switch name {
	case "octostore":
		return &octoTarget{api: api, creds: creds, ttl: ttl}, nil
	case "etcd":
		return newEtcdTarget(ctx, api)
	case "noop":
		return &noopTarget{api: api}, nil
	}
	return nil, fmt.Errorf("unknown target %q (want octostore, etcd or noop)", name)
}

// runPrefix is a lock name prefix unique to this run, so that runs against
// a long-lived server do not meet each other's leftover locks.
func runPrefix() string {
	return fmt.Sprintf("octobench/%x-%d", time.Now().UnixNano(), os.Getpid())
}

func noopCmd(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("noop-server", stderr)
	addr := fs.String("addr", "127.0.0.1:8099", "listen on `host:port`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return serveNoop(ctx, *addr, func(a net.Addr) { fmt.Fprintln(stderr, "noop server listening on", a) })
}

func tokensCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tokens", stderr)
	n := fs.Int("n", 256, "number of principals")
	org := fs.String("org", "acme", "org of the principals")
	seed := fs.String("token-seed", "octobench", "token `seed`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	fmt.Fprintln(stdout, staticTokensEnv(genCreds(*n, *org, *seed)))
	return nil
}
