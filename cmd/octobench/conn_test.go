package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// connServer starts h and counts the connections clients open to it.
func connServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func newTestConn(t *testing.T, base string, timeout time.Duration) *conn {
	t.Helper()
	api, err := newHTTPAPI(base, timeout)
	if err != nil {
		t.Fatal(err)
	}
	c := api.newConn()
	t.Cleanup(c.close)
	return c
}

func TestConnKeepsAlive(t *testing.T) {
	srv, conns := connServer(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s|%s|%s|%d|%v|%s", r.Method, r.RequestURI, r.Header.Get("Content-Type"),
			r.Header.Get("Authorization"), r.ContentLength, r.TransferEncoding, body)
	})
	c := newTestConn(t, srv.URL, 5*time.Second)
	for i := range 50 {
		method, body := http.MethodPost, fmt.Appendf(nil, `{"i":%d}`, i)
		want := fmt.Sprintf("POST /locks/a%%2Fb/acquire|application/json|Bearer tok|%d|[]|%s", len(body), body)
		if i%2 == 1 {
			method, body, want = http.MethodGet, nil, "GET /locks/a%2Fb/acquire||Bearer tok|0|[]|"
		}
		status, got, err := c.call(context.Background(), method, lockPath("a/b", "acquire"), "tok", body)
		if err != nil || status != http.StatusOK || string(got) != want {
			t.Fatalf("request %d: %d %q %v, want 200 %q", i, status, got, err, want)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 50 requests, want 1", n)
	}
}

func TestConnReconnects(t *testing.T) {
	var n atomic.Int64
	srv, conns := connServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			w.Header().Set("Connection", "close")
		}
		fmt.Fprint(w, "ok")
	})
	c := newTestConn(t, srv.URL, 5*time.Second)
	for i := range 9 {
		if status, body, err := c.call(context.Background(), http.MethodPost, "/x", "", []byte("{}")); err != nil || status != 200 || string(body) != "ok" {
			t.Fatalf("request %d: %d %q %v", i, status, body, err)
		}
	}
	if got := conns.Load(); got != 3 {
		t.Errorf("%d connections, want 3 (the server closes after every third answer)", got)
	}

	// A connection the server closed while it was idle is not reused.
	c.api.maxIdle = 10 * time.Millisecond
	srv.CloseClientConnections()
	time.Sleep(50 * time.Millisecond)
	if _, _, err := c.call(context.Background(), http.MethodPost, "/x", "", []byte("{}")); err != nil {
		t.Fatalf("after an idle close: %v", err)
	}
}

func TestConnReadsWholeBody(t *testing.T) {
	big := strings.Repeat("x", maxBody+1000)
	srv, conns := connServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			fmt.Fprint(w, big)
			return
		}
		for i := range 3 { // no Content-Length: chunked
			fmt.Fprintf(w, "chunk%d;", i)
			w.(http.Flusher).Flush()
		}
	})
	c := newTestConn(t, srv.URL, 5*time.Second)
	for range 3 {
		if _, body, err := c.call(context.Background(), http.MethodGet, "/chunked", "", nil); err != nil || string(body) != "chunk0;chunk1;chunk2;" {
			t.Fatalf("chunked: %q %v", body, err)
		}
		if _, body, err := c.call(context.Background(), http.MethodGet, "/big", "", nil); err != nil || string(body) != big[:maxBody] {
			t.Fatalf("big: %d bytes, %v; want the first %d", len(body), err, maxBody)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestConnTimeout(t *testing.T) {
	srv, _ := connServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body) // then the server sees the client go away
		if r.URL.Path == "/slow" {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}
		fmt.Fprint(w, "ok")
	})
	c := newTestConn(t, srv.URL, 100*time.Millisecond)

	start := time.Now()
	_, _, err := c.call(context.Background(), http.MethodPost, "/slow", "", []byte("{}"))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Errorf("slow answer: err = %v, want a timeout", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("timed out after %s, want about 100ms", d)
	}
	if _, body, err := c.call(context.Background(), http.MethodGet, "/fast", "", nil); err != nil || string(body) != "ok" {
		t.Fatalf("after a timeout: %q %v", body, err)
	}

	c.api.timeout = 0 // only the context bounds the request now
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	if _, _, err := c.call(ctx, http.MethodPost, "/slow", "", []byte("{}")); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled after %s, want about 100ms", d)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, _, err := c.call(ctx, http.MethodPost, "/slow", "", []byte("{}")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("context deadline: err = %v, want context.DeadlineExceeded", err)
	}
}

func TestNewHTTPAPI(t *testing.T) {
	api, err := newHTTPAPI("http://localhost/api/", time.Second)
	if err != nil || api.addr != "localhost:80" || api.prefix != "/api" {
		t.Errorf("got %+v, %v", api, err)
	}
	req := string(api.newConn().appendRequest(nil, http.MethodGet, "/locks/x", "", nil))
	if want := "GET /api/locks/x HTTP/1.1\r\nHost: localhost\r\nUser-Agent: Go-http-client/1.1\r\n\r\n"; req != want {
		t.Errorf("request %q, want %q", req, want)
	}
	if _, err := newHTTPAPI("https://localhost", time.Second); err == nil {
		t.Error("https accepted")
	}
}
