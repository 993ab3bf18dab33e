package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The config workload: config reads/s and writes/s at -clients clients, and
// the lock acquire latency of the uncontended lock load with and without
// -writers clients writing large config values beside it (big values must
// not stall lock commits).

// configFlags are the flags of the config command.
type configFlags struct {
	bin      string
	base     string
	writers  int
	valueKiB int
	keep     bool
	// writeRate is the server's config.write_rate (-1: its default).
	writeRate int
}

func configCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("config", stderr)
	var (
		lf loadFlags
		cf configFlags
	)
	lf.register(fs, 64)
	fs.StringVar(&cf.bin, "bin", "", "octostore `binary` to start (default: go build ./cmd/octostore into a temp dir)")
	fs.StringVar(&cf.base, "url", "", "measure the server at this base `URL` instead of starting one (its static tokens must include the generated ones: see the tokens command, -n clients+writers)")
	fs.IntVar(&cf.writers, "writers", 8, "clients writing large config values beside the lock load")
	fs.IntVar(&cf.valueKiB, "value-kib", 256, "size of each large value in KiB (256 is the largest the server accepts)")
	fs.BoolVar(&cf.keep, "keep", false, "keep the temp dir (database, server log) and print its path")
	fs.IntVar(&cf.writeRate, "write-rate", -1, "config.write_rate of the server started (bytes/s per org; 0: off; -1: the server's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if lf.clients < 1 || cf.writers < 0 || cf.valueKiB < 1 || lf.duration <= 0 {
		return errors.New("clients and value-kib must be at least 1, writers not negative, duration positive")
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "octobench: "+format+"\n", a...) }
	creds := genCreds(lf.clients+cf.writers, lf.org, lf.seed)
	base := cf.base
	if base == "" {
		tmp, err := os.MkdirTemp("", "octobench-config-")
		if err != nil {
			return err
		}
		if cf.keep {
			defer fmt.Fprintln(stderr, "kept", tmp)
		} else {
			defer os.RemoveAll(tmp)
		}
		var extra []string
		if cf.writeRate >= 0 {
			extra = append(extra, "OCTOSTORE_CONFIG__WRITE_RATE="+strconv.Itoa(cf.writeRate))
		}
		p, addr, err := startOctostore(ctx, tmp, &cf.bin, creds, stderr, extra...)
		if err != nil {
			return err
		}
		defer p.stop(10 * time.Second)
		base = "http://" + addr
		logf("waiting for octostore (log: %s)", p.logPath)
		probe := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
		defer probe.CloseIdleConnections()
		if err := p.waitReady(ctx, time.Minute, func() bool { return httpOK(ctx, probe, base+"/health", "") }); err != nil {
			return err
		}
	}
	api, err := newHTTPAPI(base, lf.timeout)
	if err != nil {
		return err
	}
	run := runPrefix()
	rows := []configRow{}
	for _, mode := range []string{"write", "read"} {
		logf("config %ss: %d clients, %s warm-up + %s measured", mode, lf.clients, lf.warmup, lf.duration)
		r, err := measureConfig(ctx, api, creds[:lf.clients], run, mode, lf)
		if err != nil {
			return err
		}
		rows = append(rows, r)
	}
	lockCfg := runConfig{target: "octostore", workload: "uncontended", clients: lf.clients, duration: lf.duration, warmup: lf.warmup, seed: 1}
	logf("locks: uncontended, %d clients", lf.clients)
	alone, err := measure(ctx, base, creds[:lf.clients], lockCfg, lf.timeout)
	if err != nil {
		return err
	}
	logf("locks: uncontended, %d clients, beside %d clients writing %d KiB config values", lf.clients, cf.writers, cf.valueKiB)
	big := startBigWriters(ctx, api, creds[lf.clients:], run, cf.valueKiB<<10)
	beside, err := measure(ctx, base, creds[:lf.clients], lockCfg, lf.timeout)
	bigRow := big.stop()
	if err != nil {
		return err
	}
	if bigRow.errors > 0 && bigRow.ops == 0 {
		return fmt.Errorf("the large-value writers failed: %v", bigRow.firstErr)
	}
	writeConfigReport(stdout, rows, alone, beside, bigRow, lf, cf, machineInfo(ctx, cf.bin, false))
	for _, r := range append(rows, bigRow) {
		if r.errors > 0 {
			return fmt.Errorf("%s: %d requests failed: %v", r.name, r.errors, r.firstErr)
		}
	}
	if n := alone.totalErrors() + beside.totalErrors(); n > 0 {
		return fmt.Errorf("lock load: %d requests failed", n)
	}
	return nil
}

// startOctostore builds the binary into dir when *bin is empty and starts
// it on a free port with the generated tokens and a fresh database.
func startOctostore(ctx context.Context, dir string, bin *string, creds []credential, stderr io.Writer, env ...string) (*proc, string, error) {
	if *bin == "" {
		*bin = filepath.Join(dir, "octostore")
		fmt.Fprintf(stderr, "octobench: building %s\n", *bin)
		build := exec.CommandContext(ctx, "go", "build", "-o", *bin, "./cmd/octostore")
		build.Stdout, build.Stderr = stderr, stderr
		if err := build.Run(); err != nil {
			return nil, "", fmt.Errorf("build octostore: %w", err)
		}
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	env = append(append(withoutPrefix(os.Environ(), "OCTOSTORE_"), "OCTOSTORE_STATIC_TOKENS="+staticTokensEnv(creds)), env...)
	p, err := startProc("octostore", filepath.Join(dir, "octostore.log"), env, *bin,
		"serve", "--addr", addr, "--db", filepath.Join(dir, "octostore.db"), "--log-level", "warn", "--storage.sync", "full")
	if err != nil {
		return nil, "", err
	}
	return p, addr, nil
}

// writeRateNote names the server's config.write_rate for the report.
func writeRateNote(rate int) string {
	switch {
	case rate < 0:
		return "config.write_rate at its default"
	case rate == 0:
		return "config.write_rate off"
	}
	return "config.write_rate " + strconv.Itoa(rate) + " B/s"
}

// configRow is the outcome of one config workload.
type configRow struct {
	name     string
	window   time.Duration
	ops      int64
	lat      latencies
	errors   int64
	firstErr error
	refused  int64 // answered 429 and retried after Retry-After
}

func (r *configRow) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.ops) / r.window.Seconds()
}

// configKey is client i's key of a run.
func configKey(run string, i int) string {
	return "/config/" + url.PathEscape(fmt.Sprintf("%s/c%d", run, i))
}

// measureConfig runs one config workload: every client reads (GET) or
// writes (PUT, a small value) its own key as fast as it is answered; the
// requests that start and end inside the measured window count.
func measureConfig(ctx context.Context, api httpAPI, creds []credential, run, mode string, lf loadFlags) (configRow, error) {
	small := []byte(`{"value":{"max_conns":100,"region":"eu-west-1","enabled":true,"note":"a small config value of about 100 bytes"}}`)
	// Every key exists before the clock starts.
	for i, c := range creds {
		cn := api.newConn()
		status, body, err := cn.call(ctx, "PUT", configKey(run, i), c.token, small)
		cn.close()
		if err != nil {
			return configRow{}, err
		}
		if status != 200 {
			return configRow{}, unexpected("PUT", configKey(run, i), status, body)
		}
	}
	row := configRow{name: "config " + mode + "s"}
	var mu sync.Mutex
	var wg sync.WaitGroup
	clk := clock{base: time.Now()}
	win := window{from: int64(lf.warmup), to: int64(lf.warmup + lf.duration)}
	for i, c := range creds {
		wg.Go(func() {
			cn := api.newConn()
			defer cn.close()
			var lat latencies
			var ops, errs int64
			var first error
			path := configKey(run, i)
			for clk.now() < win.to && ctx.Err() == nil {
				start := clk.now()
				var status int
				var body []byte
				var err error
				if mode == "read" {
					status, body, err = cn.call(ctx, "GET", path, c.token, nil)
				} else {
					status, body, err = cn.call(ctx, "PUT", path, c.token, small)
				}
				end := clk.now()
				if err == nil && status != 200 {
					err = unexpected(mode, path, status, body)
				}
				if !win.holds(start, end) {
					continue
				}
				if err != nil {
					errs++
					if first == nil {
						first = err
					}
					continue
				}
				ops++
				lat.add(time.Duration(end - start))
			}
			mu.Lock()
			defer mu.Unlock()
			row.ops += ops
			row.errors += errs
			row.lat.merge(&lat)
			if row.firstErr == nil {
				row.firstErr = first
			}
		})
	}
	wg.Wait()
	row.window = lf.duration
	return row, ctx.Err()
}

// bigWriters write large values in a loop until stopped.
type bigWriters struct {
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	began   time.Time
	ops     atomic.Int64
	errs    atomic.Int64
	mu      sync.Mutex
	lat     latencies
	first   error
	written atomic.Int64 // bytes of values acknowledged
	refused atomic.Int64 // writes refused with 429 (the org's config.write_rate)
}

func startBigWriters(ctx context.Context, api httpAPI, creds []credential, run string, size int) *bigWriters {
	ctx, cancel := context.WithCancel(ctx)
	b := &bigWriters{cancel: cancel, began: time.Now()}
	// A JSON string of size bytes: the quotes and size-2 letters.
	body, _ := json.Marshal(map[string]string{"value": strings.Repeat("v", size-2)})
	for i, c := range creds {
		b.wg.Go(func() {
			cn := api.newConn()
			defer cn.close()
			path := configKey(run, 10_000+i)
			for ctx.Err() == nil {
				start := time.Now()
				status, resp, err := cn.call(ctx, "PUT", path, c.token, body)
				if ctx.Err() != nil {
					return
				}
				if err == nil && status == http.StatusTooManyRequests {
					// The org's config.write_rate: wait as told, as a
					// client should.
					b.refused.Add(1)
					select {
					case <-ctx.Done():
						return
					case <-time.After(cn.retryAfter(time.Second)):
					}
					continue
				}
				if err == nil && status != 200 {
					err = unexpected("PUT", path, status, resp)
				}
				b.mu.Lock()
				if err != nil {
					b.errs.Add(1)
					if b.first == nil {
						b.first = err
					}
				} else {
					b.ops.Add(1)
					b.written.Add(int64(size))
					b.lat.add(time.Since(start))
				}
				b.mu.Unlock()
			}
		})
	}
	return b
}

// stop ends the writers and returns their row.
func (b *bigWriters) stop() configRow {
	b.cancel()
	b.wg.Wait()
	return configRow{name: "large config writes", window: time.Since(b.began), ops: b.ops.Load(), lat: b.lat,
		errors: b.errs.Load(), firstErr: b.first, refused: b.refused.Load()}
}

// writeConfigReport prints the markdown tables and the machine.
func writeConfigReport(w io.Writer, rows []configRow, alone, beside *result, big configRow, lf loadFlags, cf configFlags, machine []string) {
	fmt.Fprintf(w, "config store, %d clients, %s measured after %s warm-up\n\n", lf.clients, lf.duration, lf.warmup)
	fmt.Fprintln(w, "| workload | ops/s | p50 ms | p99 ms | max ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, r := range append(slices.Clone(rows), big) {
		name := r.name
		if r.name == big.name {
			name = fmt.Sprintf("%s (%d clients, %d KiB each, during the second lock run; %d answered 429, %s)", r.name, cf.writers, cf.valueKiB, r.refused, writeRateNote(cf.writeRate))
		}
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s |\n", name, r.rate(), ms(r.lat.percentile(50)), ms(r.lat.percentile(99)), ms(r.lat.max()))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| lock load (uncontended) | cycles/s | acquire p50 ms | acquire p99 ms | acquire max ms |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|")
	for _, x := range []struct {
		name string
		r    *result
	}{{"alone", alone}, {fmt.Sprintf("beside %d clients writing %d KiB values", cf.writers, cf.valueKiB), beside}} {
		a := &x.r.ops[opAcquire].lat
		fmt.Fprintf(w, "| %s | %.0f | %s | %s | %s |\n", x.name, x.r.cyclesPerSec(), ms(a.percentile(50)), ms(a.percentile(99)), ms(a.max()))
	}
	fmt.Fprintln(w)
	for _, l := range machine {
		fmt.Fprintln(w, l)
	}
}
