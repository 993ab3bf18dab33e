package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// The small-data workloads: feature-flag evaluations and rate-limit checks
// against a running OctoStore, each client a distinct principal. They live
// apart from the lock workloads of runLoad, whose operations and checks are
// about grants.

// smallFlagCount is how many flags the flags workload writes and then
// evaluates, at rollouts of 0, 10 … 90 %.
const smallFlagCount = 10

func smallCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("small", stderr)
	var lf loadFlags
	baseURL := fs.String("url", "http://127.0.0.1:3000", "OctoStore base `URL`")
	workload := fs.String("workload", "flags", "flags (GET /flags/{name}/evaluate) or limits (POST /limits/{name}/check)")
	prefix := fs.String("prefix", "", "flag and limit name prefix (default octobench/<unique run id>)")
	lf.register(fs, 64)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if *workload != "flags" && *workload != "limits" {
		return fmt.Errorf("unknown workload %q (want flags or limits)", *workload)
	}
	if *prefix == "" {
		*prefix = runPrefix()
	}
	api, err := newHTTPAPI(*baseURL, lf.timeout)
	if err != nil {
		return err
	}
	r, err := runSmall(ctx, api, genCreds(lf.clients, lf.org, lf.seed), *workload, *prefix, lf.warmup, lf.duration)
	if err != nil {
		return err
	}
	r.write(stdout)
	if r.errors > 0 {
		return fmt.Errorf("%d requests failed (first: %v); the numbers above leave them out", r.errors, r.firstErr)
	}
	return nil
}

// smallResult is the outcome of a small-data run.
type smallResult struct {
	workload string
	clients  int
	window   time.Duration
	lat      latencies
	refused  int64 // limits: checks answered 429 (a valid answer)
	errors   int64
	firstErr error
}

func (r *smallResult) write(w io.Writer) {
	n := r.lat.count()
	what := map[string]string{"flags": "flag evaluations", "limits": "limit checks"}[r.workload]
	fmt.Fprintf(w, "octostore %s, %d clients, %s measured\n", r.workload, r.clients, r.window)
	fmt.Fprintf(w, "  %s/s: %.0f (%d in the window", what, float64(n)/r.window.Seconds(), n)
	if r.workload == "limits" {
		fmt.Fprintf(w, ", %d refused with 429", r.refused)
	}
	fmt.Fprintf(w, ")\n  latency p50 %s  p99 %s  max %s\n", r.lat.percentile(50), r.lat.percentile(99), r.lat.max())
	if r.errors > 0 {
		fmt.Fprintf(w, "  errors: %d\n", r.errors)
	}
}

// runSmall writes the flags (flags workload), then has each client send
// its requests back to back for warmup+duration, timing those that start
// and end inside the window.
func runSmall(ctx context.Context, api httpAPI, creds []credential, workload, prefix string, warmup, duration time.Duration) (*smallResult, error) {
	if len(creds) == 0 {
		return nil, fmt.Errorf("no clients")
	}
	flags := make([]string, smallFlagCount)
	for i := range flags {
		flags[i] = "/flags/" + url.PathEscape(fmt.Sprintf("%s/f%d", prefix, i))
	}
	if workload == "flags" {
		c := api.newConn()
		for i, p := range flags {
			body, _ := json.Marshal(map[string]any{"enabled": true, "percentage": i * 10})
			status, resp, err := c.call(ctx, http.MethodPut, p, creds[0].token, body)
			if err != nil {
				return nil, err
			}
			if status != http.StatusOK {
				return nil, unexpected(http.MethodPut, p, status, resp)
			}
		}
	}
	limitBody := []byte(`{"limit":1000000,"window_seconds":1}`)
	clk := clock{base: time.Now()}
	win := window{from: int64(warmup), to: int64(warmup + duration)}
	states := make([]*smallResult, len(creds))
	var wg sync.WaitGroup
	for i, cr := range creds {
		st := &smallResult{}
		states[i] = st
		wg.Go(func() {
			c := api.newConn()
			rng := rand.New(rand.NewPCG(uint64(i), 7))
			limit := "/limits/" + url.PathEscape(fmt.Sprintf("%s/c%d", prefix, i)) + "/check"
			for ctx.Err() == nil && clk.now() < win.to {
				var method, path string
				var body []byte
				if workload == "flags" {
					method, path = http.MethodGet, flags[rng.IntN(len(flags))]+"/evaluate?subject=user-"+strconv.Itoa(rng.IntN(1_000_000))
				} else {
					method, path, body = http.MethodPost, limit, limitBody
				}
				t0 := clk.now()
				status, resp, err := c.call(ctx, method, path, cr.token, body)
				t1 := clk.now()
				if err == nil && status != http.StatusOK && !(workload == "limits" && status == http.StatusTooManyRequests) {
					err = unexpected(method, path, status, resp)
				}
				switch {
				case err != nil && ctx.Err() == nil:
					st.errors++
					if st.firstErr == nil {
						st.firstErr = err
					}
					time.Sleep(errorPause)
				case err == nil && win.holds(t0, t1):
					st.lat.add(time.Duration(t1 - t0))
					if status == http.StatusTooManyRequests {
						st.refused++
					}
				}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &smallResult{workload: workload, clients: len(creds), window: duration}
	for _, st := range states {
		r.lat.merge(&st.lat)
		r.refused += st.refused
		r.errors += st.errors
		if r.firstErr == nil {
			r.firstErr = st.firstErr
		}
	}
	return r, nil
}
