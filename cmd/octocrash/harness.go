package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Config describes one crash run.
type Config struct {
	Bin       string        // octostore binary; built into Dir when empty
	Dir       string        // working directory: database, server log, history
	Cycles    int           // kill/restart cycles
	Clients   int           // concurrent clients, each its own principal
	Names     int           // lock names
	CycleTime time.Duration // mean time clients run before a kill
	Think     time.Duration // upper bound of a client's random pause between requests
	TTL       int           // lease TTL in seconds; far longer than the run
	Seed      uint64
	// Porcupine selects the linearizability check: "epochs" (each run
	// between two kills, from the state read after the restart), "whole"
	// (the entire history at once) or "auto" (epochs, plus whole when the
	// history is small enough).
	Porcupine    string
	CheckTimeout time.Duration
	// FullCheckTimeout bounds the search of one epoch's full history;
	// past it the epoch is checked without refusals and reads. 0 for no
	// fallback.
	FullCheckTimeout time.Duration
	Log              io.Writer // progress; nil for none
	// KeepHistory writes Dir/history.json even when every check passes
	// (it is always written when one fails).
	KeepHistory bool
	ServerLog   string // server log level
	// Launcher overrides the octostore process (tests use it to run the
	// harness against deliberately broken servers).
	Launcher Launcher
}

func (c *Config) defaults() {
	if c.Cycles <= 0 {
		c.Cycles = 10
	}
	if c.Clients <= 0 {
		c.Clients = 8
	}
	if c.Names <= 0 {
		c.Names = 3
	}
	if c.CycleTime <= 0 {
		c.CycleTime = 300 * time.Millisecond
	}
	if c.TTL <= 0 {
		c.TTL = 3600
	}
	if c.Porcupine == "" {
		c.Porcupine = "auto"
	}
	if c.CheckTimeout <= 0 {
		c.CheckTimeout = 2 * time.Minute
	}
	if c.Log == nil {
		c.Log = io.Discard
	}
}

// Run drives the server through cfg.Cycles kill/restart cycles and checks
// the recorded history. The error is for a run that could not be carried
// out (build, start, I/O); violations are in the report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg.defaults()
	if limit := time.Duration(cfg.TTL) * time.Second / 2; time.Duration(cfg.Cycles+1)*cfg.CycleTime*3/2 > limit {
		return nil, fmt.Errorf("a run of %d cycles of %s may exceed half the %d s TTL; expiry would make the model wrong", cfg.Cycles, cfg.CycleTime, cfg.TTL)
	}
	if cfg.Dir == "" {
		return nil, errors.New("no working directory")
	}
	launcher := cfg.Launcher
	if launcher == nil {
		if cfg.Bin == "" {
			fmt.Fprintln(cfg.Log, "building octostore…")
			bin, err := BuildServer(ctx, cfg.Dir)
			if err != nil {
				return nil, err
			}
			cfg.Bin = bin
		}
		logf, err := os.Create(filepath.Join(cfg.Dir, "server.log"))
		if err != nil {
			return nil, err
		}
		defer logf.Close()
		launcher = &Process{
			Bin: cfg.Bin, DB: filepath.Join(cfg.Dir, "octocrash.db"), Log: logf, LogLevel: cfg.ServerLog,
			Env: []string{"OCTOSTORE_STATIC_TOKENS=" + staticTokens(cfg.Clients)},
		}
	}
	began := time.Now()
	h, err := drive(ctx, cfg, launcher)
	if err != nil {
		return nil, err
	}
	report := Check(h, CheckOptions{Porcupine: cfg.Porcupine, Timeout: cfg.CheckTimeout, FullTimeout: cfg.FullCheckTimeout, Dir: cfg.Dir})
	report.Seed, report.RunTime = cfg.Seed, time.Since(began)-report.CheckTime
	if cfg.KeepHistory || !report.OK() {
		if err := h.WriteFile(filepath.Join(cfg.Dir, "history.json")); err != nil {
			return report, err
		}
	}
	return report, nil
}

// drive runs the cycles and returns the history. Instance i serves epoch i:
// the observer reads every lock right after the start (what survived the
// previous kill), the clients run for a random time, and the server is
// killed. The last instance is only read.
func drive(ctx context.Context, cfg Config, launcher Launcher) (*History, error) {
	start := time.Now()
	clock := func() int64 { return int64(time.Since(start)) }
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x0c70))
	names := make([]string, cfg.Names)
	for i := range names {
		names[i] = fmt.Sprintf("crash/n%d", i)
	}
	workers := make([]*worker, cfg.Clients)
	for i := range workers {
		workers[i] = newWorker(i, names, cfg.TTL, cfg.Think, cfg.Seed)
	}
	h := &History{Seed: cfg.Seed, Clients: cfg.Clients, Names: names, Epochs: cfg.Cycles + 1}
	defer func() { _ = launcher.Kill() }()
	for epoch := 0; epoch <= cfg.Cycles; epoch++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		t0 := time.Now()
		base, err := launcher.Start(ctx)
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		started := time.Since(t0)
		reads, err := observe(ctx, base, epoch, cfg.Clients, names, clock)
		if err != nil {
			return nil, fmt.Errorf("epoch %d: %w", epoch, err)
		}
		h.Ops = append(h.Ops, reads...)
		if epoch == cfg.Cycles {
			if err := launcher.Kill(); err != nil {
				return nil, err
			}
			fmt.Fprintf(cfg.Log, "final restart: started in %s, %s\n", started.Round(time.Millisecond), describeReads(reads))
			break
		}
		// Mostly mid-traffic kills; now and then one right after the start.
		life := time.Duration(float64(cfg.CycleTime) * (0.5 + rng.Float64()))
		if rng.IntN(10) == 0 {
			life = time.Duration(rng.Int64N(int64(20 * time.Millisecond)))
		}
		cctx, cancel := context.WithCancel(ctx)
		var wg sync.WaitGroup
		for _, w := range workers {
			wg.Go(func() { w.run(cctx, base, epoch, clock) })
		}
		select {
		case <-time.After(life):
		case <-ctx.Done():
		}
		killErr := launcher.Kill()
		cancel()
		wg.Wait()
		if killErr != nil {
			return nil, killErr
		}
		n := 0
		for _, w := range workers {
			n += len(w.ops)
			h.Ops = append(h.Ops, w.ops...)
			w.ops = nil
		}
		fmt.Fprintf(cfg.Log, "cycle %d: started in %s, %s, %d ops in %s, killed\n",
			epoch+1, started.Round(time.Millisecond), describeReads(reads), n, life.Round(time.Millisecond))
	}
	h.sortOps()
	return h, nil
}

// observe reads every lock once, as the observer principal, retrying a
// failed read a few times: a read changes nothing, so failed attempts are
// simply not recorded.
func observe(ctx context.Context, base string, epoch, clients int, names []string, clock func() int64) ([]*Op, error) {
	a := &api{base: base, token: observerToken, holder: "acme/observer", client: clients, epoch: epoch, clock: clock,
		http: &http.Client{Timeout: 5 * time.Second}}
	defer a.http.CloseIdleConnections()
	var ops []*Op
	for _, name := range names {
		var op *Op
		for attempt := 0; ; attempt++ {
			op = &Op{Kind: Get, Name: name, Restart: true}
			a.do(ctx, op, 0)
			if op.Outcome == Ok {
				break
			}
			if attempt == 4 || ctx.Err() != nil {
				return nil, fmt.Errorf("read %s after restart: %s", name, op.Err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		ops = append(ops, op)
	}
	return ops, nil
}

func describeReads(reads []*Op) string {
	s := "after restart:"
	for _, r := range reads {
		if r.Held {
			s += fmt.Sprintf(" %s=%s#%d", r.Name, r.OutHold, r.Token)
		} else {
			s += fmt.Sprintf(" %s=free", r.Name)
		}
	}
	return s
}
