package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http/httptrace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// workloads are the load shapes runLoad knows.
var workloads = []string{"uncontended", "contended", "status", "mixed", "blocking"}

// runConfig is one load run.
type runConfig struct {
	target    string // its name, for the report
	workload  string
	clients   int
	names     int // contended, blocking: how many names all clients share
	duration  time.Duration
	warmup    time.Duration
	readRatio float64 // mixed: the share of status reads
	prefix    string  // every lock name starts with prefix + "/"
	seed      uint64
	wait      int           // blocking: wait_seconds of each acquire
	fifoSlack time.Duration // blocking: see checkFIFO
}

func (c runConfig) validate(t target) error {
	switch {
	case c.clients < 1:
		return errors.New("clients must be at least 1")
	case c.duration <= 0:
		return errors.New("duration must be positive")
	case c.warmup < 0:
		return errors.New("warm-up must not be negative")
	case (c.workload == "contended" || c.workload == "blocking") && c.names < 1:
		return errors.New("names must be at least 1")
	case c.workload == "blocking" && (c.wait < 1 || c.wait > 60):
		return errors.New("wait must be between 1 and 60 seconds")
	case c.fifoSlack < 0:
		return errors.New("FIFO slack must not be negative")
	case c.readRatio < 0 || c.readRatio > 1:
		return errors.New("read ratio must be between 0 and 1")
	case !slices.Contains(workloads, c.workload):
		return fmt.Errorf("unknown workload %q (want one of %s)", c.workload, strings.Join(workloads, ", "))
	case !slices.Contains(t.workloads(), c.workload):
		return fmt.Errorf("target %s does not support workload %q (it supports %s)", c.target, c.workload, strings.Join(t.workloads(), ", "))
	}
	return nil
}

// clientState is what one client goroutine gathers; no other goroutine
// touches it until the run ends.
type clientState struct {
	id        int
	sess      session
	rng       *rand.Rand
	lat       [numOps]latencies
	errs      [numOps]int64
	cycles    int64
	grants    int64
	winGrants int64 // grants acknowledged inside the window
	conflicts int64
	holds     []hold
	firstErr  error
}

// clock gives run-relative monotonic nanoseconds.
type clock struct{ base time.Time }

func (c clock) now() int64 { return int64(time.Since(c.base)) }

// window decides which samples count: those that started after the warm-up
// and finished before the end.
type window struct{ from, to int64 }

func (w window) holds(start, end int64) bool { return start >= w.from && end <= w.to }

// errorPause keeps a failing client from spinning; the run still ends on
// time because loops check the deadline.
const errorPause = 10 * time.Millisecond

// runLoad drives t with cfg.clients concurrent clients: a warm-up, then
// cfg.duration of measurement. Grants are checked for safety when the
// target hands out fencing tokens. It returns an error if the run could not
// start or ctx ended; failed requests are counted in the result instead.
func runLoad(ctx context.Context, t target, cfg runConfig) (*result, error) {
	if err := cfg.validate(t); err != nil {
		return nil, err
	}
	cs := make([]*clientState, cfg.clients)
	closeAll := func() {
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		for _, c := range cs {
			if c != nil && c.sess != nil {
				_ = c.sess.close(closeCtx)
			}
		}
	}
	defer closeAll()
	for i := range cs {
		sess, err := t.open(ctx, i)
		if err != nil {
			return nil, fmt.Errorf("open client %d: %w", i, err)
		}
		cs[i] = &clientState{id: i, sess: sess, rng: rand.New(rand.NewPCG(cfg.seed, uint64(i)))}
		if _, ok := sess.(blockingSession); cfg.workload == "blocking" && !ok {
			return nil, fmt.Errorf("target %s: client %d cannot wait for a lock", cfg.target, i)
		}
	}

	own := make([]string, cfg.clients)
	for i := range own {
		own[i] = fmt.Sprintf("%s/c%d", cfg.prefix, i)
	}
	shared := make([]string, max(cfg.names, 1))
	for i := range shared {
		shared[i] = fmt.Sprintf("%s/k%d", cfg.prefix, i)
	}

	clk := clock{base: time.Now()}
	win := window{from: int64(cfg.warmup), to: int64(cfg.warmup + cfg.duration)}
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() {
			for ctx.Err() == nil && clk.now() < win.to {
				switch cfg.workload {
				case "uncontended":
					c.cycle(ctx, clk, win, own[c.id], t.fenced(), 0)
				case "contended":
					c.cycle(ctx, clk, win, shared[c.rng.IntN(len(shared))], t.fenced(), 0)
				case "blocking":
					c.cycle(ctx, clk, win, shared[c.id%len(shared)], true, cfg.wait)
				case "status":
					c.read(ctx, clk, win, own[c.id])
				case "mixed":
					if c.rng.Float64() < cfg.readRatio {
						c.read(ctx, clk, win, own[c.rng.IntN(len(own))])
					} else {
						c.cycle(ctx, clk, win, own[c.id], t.fenced(), 0)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	r := &result{target: cfg.target, workload: cfg.workload, clients: cfg.clients, names: cfg.names, window: cfg.duration}
	var holds []hold
	for _, c := range cs {
		for o := range numOps {
			r.ops[o].lat.merge(&c.lat[o])
			r.ops[o].errors += c.errs[o]
		}
		r.cycles += c.cycles
		r.grants += c.grants
		r.winGrants += c.winGrants
		r.conflicts += c.conflicts
		holds = append(holds, c.holds...)
		if r.firstErr == nil && c.firstErr != nil {
			r.firstErr = fmt.Errorf("client %d: %w", c.id, c.firstErr)
		}
	}
	switch {
	case len(holds) == 0:
	case t.fenced():
		r.checked = true
		r.check = checkHolds(holds)
	case cfg.workload == "blocking" && !slices.ContainsFunc(holds, func(h hold) bool { return h.token == 0 }):
		// etcd: lock revisions are ordered, not unique.
		r.checked = true
		r.check = checkOrder(holds)
	}
	if r.checked && cfg.workload == "blocking" {
		f := checkFIFO(holds, cfg.fifoSlack)
		r.fifo, r.fifoEnforced = &f, t.fenced()
	}
	return r, nil
}

func (c *clientState) fail(ctx context.Context, o op, err error) {
	if ctx.Err() != nil {
		return // the run is being cancelled; not the target's fault
	}
	c.errs[o]++
	if c.firstErr == nil {
		c.firstErr = err
	}
	time.Sleep(errorPause)
}

// cycle acquires name and, if granted, releases it at once. With wait > 0
// the acquire queues for the lock (up to wait seconds on OctoStore), and a
// refusal is a failure; record keeps the grant for the checkers.
func (c *clientState) cycle(ctx context.Context, clk clock, win window, name string, record bool, wait int) {
	var (
		g   grant
		err error
	)
	var sent atomic.Int64 // set by the WroteRequest hook
	t0 := clk.now()
	if wait > 0 {
		trace := &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { sent.Store(clk.now()) }}
		g, err = c.sess.(blockingSession).acquireWait(httptrace.WithClientTrace(ctx, trace), name, wait)
		if err == nil && !g.ok {
			err = fmt.Errorf("acquire %s: not granted after waiting %d s (lock_held)", name, wait)
		}
	} else {
		g, err = c.sess.acquire(ctx, name)
	}
	t1 := clk.now()
	if err != nil {
		c.fail(ctx, opAcquire, err)
		return
	}
	if win.holds(t0, t1) {
		c.lat[opAcquire].add(time.Duration(t1 - t0))
	}
	if !g.ok {
		c.conflicts++
		return
	}
	c.grants++
	if win.holds(t1, t1) {
		c.winGrants++
	}
	t2 := clk.now()
	err = c.sess.release(ctx, name, g)
	t3 := clk.now()
	if record {
		c.holds = append(c.holds, hold{client: c.id, name: name, lease: g.lease, token: g.token, called: t0, sent: sent.Load(), acked: t1, released: t2})
	}
	if err != nil {
		c.fail(ctx, opRelease, err)
		return
	}
	if win.holds(t2, t3) {
		c.lat[opRelease].add(time.Duration(t3 - t2))
	}
	if win.holds(t0, t3) {
		c.cycles++
	}
}

// read asks for the state of name.
func (c *clientState) read(ctx context.Context, clk clock, win window, name string) {
	t0 := clk.now()
	err := c.sess.status(ctx, name)
	t1 := clk.now()
	if err != nil {
		c.fail(ctx, opStatus, err)
		return
	}
	if win.holds(t0, t1) {
		c.lat[opStatus].add(time.Duration(t1 - t0))
	}
}
