package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// watchedPrefix is the prefix the extra watchers follow: the load never
// writes below it, so the watchers measure what open streams cost the lock
// path, not the cost of sending them events.
const watchedPrefix = "watched/"

// watchers are open SSE streams on OctoStore held during a run.
type watchers struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	open   atomic.Int64
	broken atomic.Int64
}

// openWatchers opens n streams of GET /watch?prefix=watched/ as cred and
// waits until every one has received its snapshot.
func openWatchers(ctx context.Context, base string, cred credential, n int) (*watchers, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &watchers{cancel: cancel}
	ready := make(chan error, n)
	tr := &http.Transport{Proxy: nil, MaxConnsPerHost: 0, MaxIdleConnsPerHost: n,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}
	hc := &http.Client{Transport: tr}
	for range n {
		w.wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/watch?prefix="+watchedPrefix, nil)
			req.Header.Set("Authorization", "Bearer "+cred.token)
			resp, err := hc.Do(req)
			if err != nil {
				ready <- err
				return
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				ready <- fmt.Errorf("watch: %s", resp.Status)
				return
			}
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				if bytes.HasPrefix(sc.Bytes(), []byte("event: snapshot")) {
					break
				}
			}
			w.open.Add(1)
			ready <- nil
			for sc.Scan() { // read on, as a watcher does
			}
			if ctx.Err() == nil {
				w.broken.Add(1)
			}
			w.open.Add(-1)
		})
	}
	for range n {
		select {
		case err := <-ready:
			if err != nil {
				w.close()
				return nil, fmt.Errorf("open %d watchers: %w", n, err)
			}
		case <-time.After(time.Minute):
			w.close()
			return nil, fmt.Errorf("open %d watchers: only %d connected within a minute", n, w.open.Load())
		}
	}
	return w, nil
}

func (w *watchers) close() {
	w.cancel()
	w.wg.Wait()
}

// failingReceiver is a webhook receiver that answers 503 to everything.
type failingReceiver struct {
	srv   *http.Server
	calls atomic.Int64
	addr  string
}

func startFailingReceiver() (*failingReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &failingReceiver{addr: ln.Addr().String()}
	r.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.calls.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// subscribe creates a webhook for every event of cred's org, pointing at
// the receiver.
func (r *failingReceiver) subscribe(ctx context.Context, base string, cred credential) error {
	body, _ := json.Marshal(map[string]any{"url": "http://" + r.addr + "/hook", "events": []string{"*"}})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/webhooks", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+cred.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}).Do(req)
	if err != nil {
		return fmt.Errorf("create webhook: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		return fmt.Errorf("create webhook: %s %s", resp.Status, b.String())
	}
	return nil
}

func (r *failingReceiver) close() { _ = r.srv.Close() }
