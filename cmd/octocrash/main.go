// Command octocrash is a crash harness for OctoStore. It starts the real
// server on a database file, drives concurrent clients (each its own
// principal) doing random acquire/renew/release/get on a few lock names,
// kills the server with SIGKILL at random moments, restarts it on the same
// file, and repeats. Every request is recorded with its monotonic call and
// return times; a request that got no answer may or may not have happened.
//
// After the run it checks that
//  1. every acknowledged grant, renewal and release survived each restart;
//  2. fencing tokens never repeat for different grants and grow with real
//     time, across restarts;
//  3. the history is linearizable for a lock model (porcupine, partitioned
//     per name), so no two clients ever held a lock at the same time.
//
// Leases last 3600 s, far longer than a run, so expiry never makes the
// model nondeterministic. The linearizability check cuts the history at
// every kill: the process cannot apply a request after it is dead, and an
// observer reads every lock right after each restart, before the clients
// resume, so each epoch is checked on its own from the state read at its
// start (unanswered requests stay open until +∞ within it). Small runs are
// also checked as one history.
//
// Usage:
//
//	go run ./cmd/octocrash                             # 10 cycles of ~300 ms
//	go run ./cmd/octocrash -cycles 200 -duration 5m    # the long run
//	go run ./cmd/octocrash -check-history DIR/history.json
//
// The CI runs the short form as TestCrashHarnessShort. The program exits 1
// when a promise is broken (or an answer is not one the API documents), 2
// when the run itself failed (build, start, a server that died by itself);
// it then keeps its temp dir with the database, server log and history.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	os.Exit(run())
}

func run() int {
	var cfg Config
	var duration time.Duration
	var keep bool
	var recheck string
	seed := uint64(time.Now().UnixNano())
	flag.StringVar(&cfg.Bin, "bin", "", "octostore binary (default: go build ./cmd/octostore into the temp dir)")
	flag.IntVar(&cfg.Cycles, "cycles", 10, "kill/restart cycles")
	flag.IntVar(&cfg.Clients, "clients", 8, "concurrent clients, each its own principal")
	flag.IntVar(&cfg.Names, "names", 3, "lock names")
	flag.DurationVar(&duration, "duration", 0, "total client time, spread over the cycles (overrides -cycle-time)")
	flag.DurationVar(&cfg.CycleTime, "cycle-time", 300*time.Millisecond, "mean time the clients run between restart and kill")
	flag.DurationVar(&cfg.Think, "think", time.Millisecond, "upper bound of a client's random pause between requests")
	flag.Uint64Var(&seed, "seed", seed, "random seed (choices and kill moments; the timing of a real server is not reproducible)")
	flag.StringVar(&cfg.Porcupine, "porcupine", "auto", "linearizability check: epochs, whole, both, or auto (epochs, plus whole if small)")
	flag.DurationVar(&cfg.CheckTimeout, "check-timeout", 5*time.Minute, "bound on each porcupine search")
	flag.DurationVar(&cfg.FullCheckTimeout, "full-check-timeout", 10*time.Second,
		"bound on the search of one epoch's full history, past which it is checked without refusals and reads (0: no fallback)")
	flag.StringVar(&cfg.ServerLog, "server-log-level", "warn", "the server's --log-level")
	flag.BoolVar(&keep, "keep", false, "keep the temp dir (database, server.log, history.json) even when all checks pass")
	flag.StringVar(&recheck, "check-history", "", "only run the checks on a history.json kept by an earlier run")
	flag.Parse()
	if recheck != "" {
		return checkOnly(recheck, cfg)
	}
	cfg.Seed = seed
	if duration > 0 {
		cfg.CycleTime = duration / time.Duration(max(cfg.Cycles, 1))
	}

	dir, err := os.MkdirTemp("", "octocrash-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "octocrash:", err)
		return 2
	}
	cfg.Dir, cfg.KeepHistory = dir, keep
	if cfg.Bin != "" {
		if cfg.Bin, err = filepath.Abs(cfg.Bin); err != nil {
			fmt.Fprintln(os.Stderr, "octocrash:", err)
			return 2
		}
	}
	cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(os.Stderr, "octocrash: seed %d, %d cycles of ~%s, %d clients, %d names, dir %s\n",
		cfg.Seed, cfg.Cycles, cfg.CycleTime, cfg.Clients, cfg.Names, dir)
	report, err := Run(ctx, cfg)
	if report != nil {
		report.Summary(os.Stdout)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "octocrash: %v (kept %s)\n", err, dir)
		return 2
	}
	failed := !report.OK()
	if !failed && !keep {
		_ = os.RemoveAll(dir)
		return 0
	}
	fmt.Printf("kept %s (history.json, server.log, database)\n", dir)
	if !failed {
		return 0
	}
	fmt.Printf("reproduce with: go run ./cmd/octocrash -seed %d -cycles %d -clients %d -names %d -cycle-time %s\n",
		cfg.Seed, cfg.Cycles, cfg.Clients, cfg.Names, cfg.CycleTime)
	return 1
}

// checkOnly runs the checks on a saved history, writing visualizations of
// failures next to it.
func checkOnly(path string, cfg Config) int {
	h, err := ReadHistory(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "octocrash:", err)
		return 2
	}
	report := Check(h, CheckOptions{Porcupine: cfg.Porcupine, Timeout: cfg.CheckTimeout, FullTimeout: cfg.FullCheckTimeout, Dir: filepath.Dir(path)})
	report.Seed = h.Seed
	report.Summary(os.Stdout)
	if !report.OK() {
		return 1
	}
	return 0
}
