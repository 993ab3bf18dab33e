package main

import (
	"context"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// scraper fetches a metrics URL at a fixed interval, as Prometheus would,
// while a measurement runs.
type scraper struct {
	n, failed atomic.Int64
	cancel    context.CancelFunc
	done      sync.WaitGroup
}

// startScraper scrapes url with the bearer token every interval until stop.
func startScraper(ctx context.Context, url, token string, every time.Duration) *scraper {
	ctx, cancel := context.WithCancel(ctx)
	s := &scraper{cancel: cancel}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Proxy: nil}}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		defer client.CloseIdleConnections()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			s.n.Add(1)
			if !scrapeOnce(ctx, client, url, token) && ctx.Err() == nil {
				s.failed.Add(1)
			}
		}
	}()
	return s
}

func scrapeOnce(ctx context.Context, client *http.Client, url, token string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := client.Do(req)
	if err != nil {
		return false
	}
	defer res.Body.Close()
	_, err = io.Copy(io.Discard, res.Body)
	return err == nil && res.StatusCode == http.StatusOK
}

// stop ends the scrapes and returns how many were made and how many failed.
func (s *scraper) stop() (n, failed int64) {
	s.cancel()
	s.done.Wait()
	return s.n.Load(), s.failed.Load()
}
