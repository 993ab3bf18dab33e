package bootstrap_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// watchersPerBench is how many SSE streams BenchmarkWatchDelivery opens.
const watchersPerBench = 1000

// BenchmarkWatchDelivery measures how long a committed change takes to
// reach every one of 1,000 watchers of one prefix, over real SSE streams
// from the full server (SQLite file, fsync on). Each iteration acquires or
// releases a lock under the prefix and waits until all watchers have the
// event. Reported: the delay from the acknowledged commit (the client has
// the response) to the last watcher's receipt, p50 and p99, and the same
// from the moment the request was sent (commit included).
//
//	go test -run '^$' -bench BenchmarkWatchDelivery -benchtime 400x ./bootstrap/
func BenchmarkWatchDelivery(b *testing.B) {
	cfg := e2eConfig(filepath.Join(b.TempDir(), "octostore.db"))
	cfg.Watch.MaxStreamsPerPrincipal = watchersPerBench
	cfg.LogLevel = "warn"
	s := startServer(b, cfg, nil, nil)

	type key struct {
		kind  string
		token uint64
	}
	var (
		mu   sync.Mutex
		got  = map[key]int{}
		last = map[key]time.Time{}
		cond = sync.NewCond(&mu)
	)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: watchersPerBench}}
	var wg sync.WaitGroup
	ready := make(chan error, watchersPerBench)
	for range watchersPerBench {
		wg.Go(func() {
			r, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/watch?prefix=bench/", nil)
			r.Header.Set("Authorization", "Bearer "+bobToken)
			res, err := hc.Do(r)
			if err != nil {
				ready <- err
				return
			}
			defer res.Body.Close()
			if res.StatusCode != http.StatusOK {
				ready <- fmt.Errorf("watch: %s", res.Status)
				return
			}
			sc := bufio.NewScanner(res.Body)
			kind := ""
			for sc.Scan() {
				line := sc.Text()
				switch {
				case strings.HasPrefix(line, "event: "):
					kind = strings.TrimPrefix(line, "event: ")
					if kind == "snapshot" {
						ready <- nil
					}
				case strings.HasPrefix(line, "data: ") && strings.HasPrefix(kind, "lock."):
					var ev struct {
						Token uint64 `json:"fencing_token"`
					}
					if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev) == nil {
						now := time.Now()
						mu.Lock()
						k := key{kind, ev.Token}
						got[k]++
						last[k] = now
						if got[k] == watchersPerBench {
							cond.Broadcast()
						}
						mu.Unlock()
					}
				}
			}
		})
	}
	for range watchersPerBench {
		if err := <-ready; err != nil {
			b.Fatal(err)
		}
	}
	defer wg.Wait()
	defer cancel()

	await := func(k key) time.Time {
		deadline := time.AfterFunc(30*time.Second, func() { mu.Lock(); cond.Broadcast(); mu.Unlock() })
		defer deadline.Stop()
		start := time.Now()
		mu.Lock()
		defer mu.Unlock()
		for got[k] < watchersPerBench {
			if time.Since(start) > 30*time.Second {
				b.Fatalf("%v reached %d of %d watchers", k, got[k], watchersPerBench)
			}
			cond.Wait()
		}
		return last[k]
	}
	var fromAck, fromSend []time.Duration
	b.ResetTimer()
	for i := range b.N {
		sent := time.Now()
		var k key
		l := s.acquire(b, aliceToken, fmt.Sprintf("bench/l%d", i), map[string]any{"ttl_seconds": 60})
		acked := time.Now()
		k = key{"lock.acquired", l.token}
		at := await(k)
		fromAck = append(fromAck, max(0, at.Sub(acked)))
		fromSend = append(fromSend, at.Sub(sent))
	}
	b.StopTimer()
	pct := func(ds []time.Duration, p float64) float64 {
		ds = slices.Clone(ds)
		slices.Sort(ds)
		return float64(ds[min(len(ds)-1, int(float64(len(ds))*p))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(fromAck, 0.50), "ack-to-all-p50-ms")
	b.ReportMetric(pct(fromAck, 0.99), "ack-to-all-p99-ms")
	b.ReportMetric(pct(fromSend, 0.99), "send-to-all-p99-ms")
}
