package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The load tool shares the machine's cores with the server under test, so
// every microsecond of client CPU is taken from the measurement. Instead of
// net/http's client (a shared pool, two goroutines per connection and a
// hand-off between them for every request), each session owns one
// keep-alive connection and writes and reads it on its own goroutine.

const (
	maxBody     = 1 << 20 // longer answers are cut here (the rest is read and dropped)
	dialTimeout = 5 * time.Second
	// maxIdle is how long a connection may sit unused before it is
	// replaced rather than reused: a server may close an idle connection
	// (Node's default keep-alive timeout is 5 s), and a request written
	// into it then fails without telling whether it arrived. Under load
	// connections are never idle that long.
	maxIdle = time.Second
)

// httpAPI is an HTTP/1.1 API at one base URL. Its connections send JSON
// requests, each bounded by timeout (0: no bound but the context's).
type httpAPI struct {
	base    string // for messages
	addr    string // host:port to dial
	prefix  string // the base URL's path, put before every request path
	header  string // the Host and User-Agent lines
	timeout time.Duration
	maxIdle time.Duration // the constant maxIdle; tests shorten it
}

// newHTTPAPI returns the API at base, an http:// URL.
func newHTTPAPI(base string, timeout time.Duration) (httpAPI, error) {
	u, err := url.Parse(base)
	if err != nil {
		return httpAPI{}, err
	}
	if u.Scheme != "http" || u.Host == "" {
		return httpAPI{}, fmt.Errorf("base URL %q: want http://host[:port][/path]", base)
	}
	port := u.Port()
	if port == "" {
		port = "80"
	}
	return httpAPI{
		base:    base,
		addr:    net.JoinHostPort(u.Hostname(), port),
		prefix:  strings.TrimRight(u.EscapedPath(), "/"),
		header:  "Host: " + u.Host + "\r\nUser-Agent: Go-http-client/1.1\r\n",
		timeout: timeout,
		maxIdle: maxIdle,
	}, nil
}

// newConn returns a connection to a. It dials on first use.
func (a httpAPI) newConn() *conn { return &conn{api: a} }

// conn is a keep-alive connection to an httpAPI, used by one goroutine at a
// time. After an error, or when the server asks to close, the next call
// dials again. Requests are never retried: a failed POST may have arrived.
type conn struct {
	api  httpAPI
	nc   net.Conn // nil: dial on the next call
	br   *bufio.Reader
	last time.Time    // when nc last finished an answer
	req  []byte       // the request being sent
	body bytes.Buffer // the last answer's body
	// retry is the last answer's Retry-After, in seconds ("" if none).
	retry string
}

// retryAfter returns the last answer's Retry-After (whole seconds), or
// fallback when it had none.
func (c *conn) retryAfter(fallback time.Duration) time.Duration {
	if n, err := strconv.Atoi(c.retry); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	return fallback
}

// call sends a request and returns the status and body. A request with a
// body is sent as JSON; auth, when not empty, as a bearer token. The body
// returned is valid until the next call. A request interrupted by ctx
// returns an error wrapping ctx.Err().
func (c *conn) call(ctx context.Context, method, path, auth string, body []byte) (int, []byte, error) {
	if err := ctx.Err(); err != nil {
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	c.req = c.appendRequest(c.req[:0], method, path, auth, body)
	status, err := c.roundTrip(ctx)
	if err != nil {
		c.close()
		if cerr := ctxErr(ctx); cerr != nil {
			err = cerr // the cause, rather than the deadline it set
		}
		return 0, nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	return status, c.body.Bytes(), nil
}

// ctxErr is the error that ended ctx, if it has ended. The deadline ctx
// set on the connection may fire before ctx itself reports it.
func ctxErr(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d, ok := ctx.Deadline(); ok && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}

func (c *conn) appendRequest(b []byte, method, path, auth string, body []byte) []byte {
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, c.api.prefix...)
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\n"...)
	b = append(b, c.api.header...)
	if auth != "" {
		b = append(b, "Authorization: Bearer "...)
		b = append(b, auth...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	return append(b, body...)
}

// roundTrip sends c.req and reads the answer's body into c.body. After an
// error the connection is not fit for another request.
func (c *conn) roundTrip(ctx context.Context) (int, error) {
	now := time.Now()
	deadline := time.Time{}
	if c.api.timeout > 0 {
		deadline = now.Add(c.api.timeout)
	}
	if d, ok := ctx.Deadline(); ok && (deadline.IsZero() || d.Before(deadline)) {
		deadline = d
	}
	if c.nc != nil && now.Sub(c.last) > c.api.maxIdle {
		c.close()
	}
	if c.nc == nil {
		d := net.Dialer{Timeout: dialTimeout, Deadline: deadline}
		nc, err := d.DialContext(ctx, "tcp", c.api.addr)
		if err != nil {
			return 0, err
		}
		c.nc = nc
		if c.br == nil {
			c.br = bufio.NewReader(nc)
		} else {
			c.br.Reset(nc)
		}
	}
	if err := c.nc.SetDeadline(deadline); err != nil {
		return 0, err
	}
	if ctx.Done() != nil {
		nc := c.nc
		stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if !stop() {
				// ctx ended as the answer came: the past deadline may
				// land during a later call.
				c.close()
			}
		}()
	}

	if _, err := c.nc.Write(c.req); err != nil {
		return 0, err
	}
	// The blocking workload times when its acquire was sent.
	if t := httptrace.ContextClientTrace(ctx); t != nil && t.WroteRequest != nil {
		t.WroteRequest(httptrace.WroteRequestInfo{})
	}
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		return 0, err
	}
	c.retry = resp.Header.Get("Retry-After")
	c.body.Reset()
	_, err = c.body.ReadFrom(io.LimitReader(resp.Body, maxBody))
	if err == nil && c.body.Len() == maxBody {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return 0, fmt.Errorf("read body: %w", err)
	}
	// The body has been read to its end, so there is nothing to close.
	if resp.Close {
		c.close()
	} else {
		c.last = time.Now()
	}
	return resp.StatusCode, nil
}

// close closes the network connection, if any; the next call dials again.
func (c *conn) close() {
	if c.nc != nil {
		_ = c.nc.Close()
		c.nc = nil
	}
}
