// Package webhook delivers events to webhook receivers: one signed HTTP
// POST per attempt, to public addresses only. Sender implements
// ports.WebhookSender; retries and bookkeeping belong to its caller.
package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"syscall"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// DefaultTimeout bounds one delivery attempt when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Second

// DefaultUserAgent is the User-Agent of deliveries when Config.UserAgent
// is empty.
const DefaultUserAgent = "OctoStore-Webhook/1"

// Limits on what a receiver can make the sender read.
const (
	maxResponseBody   = 64 << 10
	maxResponseHeader = 64 << 10
)

// Resolver looks up the addresses of a host name. *net.Resolver is one.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Config configures a Sender. The zero Config delivers to public https
// URLs only, with a 5 s bound per attempt.
type Config struct {
	// AllowPrivate lets deliveries use http:// and reach loopback, private
	// and other non-public addresses: for self-hosted networks and tests.
	AllowPrivate bool
	// Timeout bounds one attempt: resolving, connecting, sending and
	// reading the response. Zero or less means DefaultTimeout.
	Timeout time.Duration
	// Resolver resolves host names; nil means net.DefaultResolver.
	Resolver Resolver
	// UserAgent is sent as User-Agent; empty means DefaultUserAgent.
	UserAgent string
}

// Sender POSTs events to webhook URLs. Unless private delivery is allowed,
// it resolves the host at every attempt, refuses it if any address is not
// public, and connects only to the addresses it checked (so a DNS answer
// cannot change between the check and the connection). It follows no
// redirects and uses no proxy. A Sender is safe for concurrent use.
type Sender struct {
	allowPrivate bool
	timeout      time.Duration
	resolver     Resolver
	userAgent    string
	tls          *tls.Config
	// dial connects to one already checked IP:port; tests replace it.
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

var _ ports.WebhookSender = (*Sender)(nil)

// New returns a Sender configured by cfg.
func New(cfg Config) *Sender {
	s := &Sender{
		allowPrivate: cfg.AllowPrivate,
		timeout:      cfg.Timeout,
		resolver:     cfg.Resolver,
		userAgent:    cfg.UserAgent,
		tls:          &tls.Config{MinVersion: tls.VersionTLS12},
	}
	if s.timeout <= 0 {
		s.timeout = DefaultTimeout
	}
	if s.resolver == nil {
		s.resolver = net.DefaultResolver
	}
	if s.userAgent == "" {
		s.userAgent = DefaultUserAgent
	}
	// Control re-checks the address the socket is about to connect to: a
	// second line behind the pin, should anything dial another address.
	s.dial = (&net.Dialer{Control: s.control}).DialContext
	return s
}

// AddressError is returned when a webhook host resolves to (or a
// connection would go to) an address that is not public. It matches
// domain.ErrWebhookAddressNotAllowed.
type AddressError struct {
	Addr netip.Addr
}

// Error names the address.
func (e *AddressError) Error() string {
	return "webhook address " + e.Addr.String() + " is not public"
}

// Unwrap makes AddressError match domain.ErrWebhookAddressNotAllowed.
func (e *AddressError) Unwrap() error { return domain.ErrWebhookAddressNotAllowed }

// Send makes one delivery attempt of r.Event to r.URL and returns the
// receiver's status code; a non-2xx status, redirects included, is not an
// error. It returns status 0 and an error when no response came back:
// domain.ErrInvalidWebhookURL or domain.ErrWebhookAddressNotAllowed (the
// latter as *AddressError for a resolved address) for a refused URL, a
// resolution or connection error, or context.DeadlineExceeded when the
// attempt ran out of time. Errors never contain the URL, whose query may
// hold a credential. A zero r.At is taken as the current time.
func (s *Sender) Send(ctx context.Context, r ports.WebhookRequest) (int, error) {
	u, err := domain.CheckWebhookURL(r.URL, s.allowPrivate)
	if err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	addrs, err := s.resolve(ctx, u.Hostname())
	if err != nil {
		return 0, err
	}
	body := Body(r.Event)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	s.setHeaders(req.Header, r, body)
	c := s.client(addrs)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		// *url.Error would repeat the URL; keep only its cause.
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, fmt.Errorf("webhook post: %w", err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBody))
	_ = resp.Body.Close()
	return resp.StatusCode, nil
}

// resolve returns the addresses of host (itself, if it is an IP address),
// each checked unless private delivery is allowed. Every attempt resolves
// afresh, so a webhook whose name starts pointing inward is refused.
func (s *Sender) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		found, err := s.resolver.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve webhook host %s: %w", host, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("resolve webhook host %s: no addresses", host)
		}
		addrs = make([]netip.Addr, len(found))
		for i, a := range found {
			addrs[i] = a.Unmap()
		}
	}
	if !s.allowPrivate {
		for _, a := range addrs {
			if !domain.PublicAddr(a) {
				return nil, &AddressError{Addr: a}
			}
		}
	}
	return addrs, nil
}

// client returns a client for one attempt whose connections go only to
// addrs. A fresh transport without keep-alives means no connection made
// for an earlier check is ever reused.
func (s *Sender) client(addrs []netip.Addr) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy: nil, // environment proxies would see, and could redirect, every delivery
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				return s.dialPinned(ctx, network, addr, addrs)
			},
			TLSClientConfig:        s.tls.Clone(), // ServerName stays the URL's host
			DisableKeepAlives:      true,
			DisableCompression:     true,
			MaxResponseHeaderBytes: maxResponseHeader,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// dialPinned connects to the port of addr at the first of addrs that
// answers, ignoring addr's host: the name was resolved and checked once,
// and is not resolved again.
func (s *Sender) dialPinned(ctx context.Context, network, addr string, addrs []netip.Addr) (net.Conn, error) {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range addrs {
		c, err := s.dial(ctx, network, net.JoinHostPort(a.String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// control refuses a socket about to connect to a non-public address,
// unless private delivery is allowed.
func (s *Sender) control(_, address string, _ syscall.RawConn) error {
	if s.allowPrivate {
		return nil
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("webhook dial %s: %w", address, err)
	}
	if !domain.PublicAddr(ap.Addr()) {
		return &AddressError{Addr: ap.Addr().Unmap()}
	}
	return nil
}

// setHeaders sets the delivery headers of r with body. Names are set as
// documented (X-OctoStore-…, lowercase webhook-… as Standard Webhooks
// writes them), not in Go's canonical form; HTTP names are
// case-insensitive, so receivers read them either way.
func (s *Sender) setHeaders(h http.Header, r ports.WebhookRequest, body []byte) {
	at := r.At
	if at.IsZero() {
		at = time.Now()
	}
	ts := strconv.FormatInt(at.Unix(), 10)
	h["Content-Type"] = []string{"application/json"}
	h["User-Agent"] = []string{s.userAgent}
	h["X-OctoStore-Event"] = []string{string(r.Event.Kind)}
	h["X-OctoStore-Delivery"] = []string{r.DeliveryID}
	h["webhook-id"] = []string{r.DeliveryID}
	h["webhook-timestamp"] = []string{ts}
	if r.Secret != "" {
		h["X-OctoStore-Signature"] = []string{signature(r.Secret, body)}
		h["webhook-signature"] = []string{standardSignature(r.Secret, r.DeliveryID, ts, body)}
	}
}
