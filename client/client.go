// Package client speaks OctoStore's public HTTP API: sessions, locks and
// watch streams. It is what the octostore lock commands use, and Go
// programs may import it; it needs nothing but the standard library and
// knows nothing of the server's insides.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultURL is the server a client talks to when none is configured.
const DefaultURL = "http://127.0.0.1:3000"

// Config configures a Client.
type Config struct {
	// URL is the server's base URL; DefaultURL when empty.
	URL string
	// Token is the bearer token sent with every request.
	Token string
	// Insecure allows sending the token over plain http:// to a host that
	// is not the loopback interface.
	Insecure bool
	// HTTP is the client requests go through; a default without a
	// timeout of its own (requests are bound by their contexts) when nil.
	HTTP *http.Client
	// UserAgent is sent as User-Agent when set.
	UserAgent string
}

// Client is a client of one OctoStore server. It is safe for concurrent
// use.
type Client struct {
	base  *url.URL
	token string
	hc    *http.Client
	ua    string
}

// ErrInsecure is returned by New for a token that would travel in clear
// text over the network.
var ErrInsecure = errors.New("refusing to send the token over plain http:// to a host other than loopback; use https:// (or --insecure / Config.Insecure if you must)")

// New returns a client for cfg. It refuses a URL that is not http(s) and,
// unless cfg.Insecure, an http:// URL whose host is not a loopback address
// or localhost (the token would cross the network in clear text).
func New(cfg Config) (*Client, error) {
	raw := cfg.URL
	if raw == "" {
		raw = DefaultURL
	}
	u, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http(s)://host:port", raw)
	}
	if u.Scheme == "http" && !cfg.Insecure && !loopback(u.Hostname()) {
		return nil, ErrInsecure
	}
	hc := cfg.HTTP
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 4,
			DialContext: (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext}}
	}
	return &Client{base: u, token: cfg.Token, hc: hc, ua: cfg.UserAgent}, nil
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Error is an error answer of the server (RFC 9457 problem+json).
type Error struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Detail string `json:"detail"`
	// ExpiresAt is when the current holder's lease runs out (lock_held).
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	// AvailableAt is when a delayed lock can be taken (lock_delayed).
	AvailableAt *time.Time `json:"available_at,omitempty"`
	// RetryAfter is the Retry-After header, when the server sent one.
	RetryAfter time.Duration `json:"-"`
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("server answered %d", e.Status)
	}
	return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Detail)
}

// IsCode reports whether err is a server error with that code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// do sends a request with an optional JSON body and decodes a 2xx answer
// into out (when not nil); other answers come back as *Error.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	req, err := c.request(ctx, method, path, in)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 {
		return problem(res)
	}
	if out == nil {
		_, _ = io.Copy(io.Discard, res.Body)
		return nil
	}
	if err := json.NewDecoder(res.Body).Decode(out); err != nil {
		return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
	}
	return nil
}

func (c *Client) request(ctx context.Context, method, path string, in any) (*http.Request, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base.String()+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.ua != "" {
		req.Header.Set("User-Agent", c.ua)
	}
	return req, nil
}

// problem reads an error answer.
func problem(res *http.Response) error {
	e := &Error{Status: res.StatusCode}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	_ = json.Unmarshal(raw, e)
	e.Status = res.StatusCode
	if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// lockPath is the path of a lock route: the name is one path segment.
func lockPath(name, suffix string) string { return "/locks/" + url.PathEscape(name) + suffix }
