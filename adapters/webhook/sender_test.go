package webhook_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/webhook"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// received is what a test receiver saw of one request.
type received struct {
	method, path, host string
	header             http.Header
	body               []byte
}

// receiver starts an HTTP server that records each request and answers
// status. It counts accepted connections, so a test can show that none
// was made.
func receiver(t *testing.T, status int) (srv *httptest.Server, got <-chan received, conns *atomic.Int32) {
	t.Helper()
	ch := make(chan received, 16)
	conns = new(atomic.Int32)
	srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("receiver: read body: %v", err)
		}
		ch <- received{r.Method, r.URL.Path, r.Host, r.Header.Clone(), body}
		w.WriteHeader(status)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, ch, conns
}

// fakeResolver answers from a table and counts lookups.
type fakeResolver struct {
	mu      sync.Mutex
	answers map[string][]netip.Addr
	lookups int
}

func resolverOf(host string, addrs ...string) *fakeResolver {
	r := &fakeResolver{answers: map[string][]netip.Addr{}}
	r.set(host, addrs...)
	return r
}

func (r *fakeResolver) set(host string, addrs ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.answers[host] = nil
	for _, a := range addrs {
		r.answers[host] = append(r.answers[host], netip.MustParseAddr(a))
	}
}

func (r *fakeResolver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lookups
}

func (r *fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups++
	if network != "ip" {
		return nil, errors.New("fake resolver: unexpected network " + network)
	}
	a, ok := r.answers[host]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return a, nil
}

// noDial fails the test if the sender dials at all.
func noDial(t *testing.T) webhook.DialFunc {
	return func(_ context.Context, _, addr string) (net.Conn, error) {
		t.Errorf("dialed %s; no connection may be made", addr)
		return nil, errors.New("test: no dialing")
	}
}

var at = time.Date(2026, 12, 5, 8, 0, 0, 123_456_789, time.UTC)

func event() domain.Event {
	return domain.Event{
		Seq:    42,
		Org:    "acme",
		Kind:   domain.EventLockAcquired,
		Name:   "db/primary",
		Holder: "user:alice/session:ses_0123456789abcdef",
		Token:  7,
		// In another zone, to show the body is in UTC.
		At: at.In(time.FixedZone("CET", 3600)),
	}
}

const wantBody = `{"seq":42,"type":"lock.acquired","name":"db/primary","fencing_token":7,"holder":"acme/alice","at":"2026-12-05T08:00:00.123Z"}`

func TestBody(t *testing.T) {
	if got := string(webhook.Body(event())); got != wantBody {
		t.Errorf("Body =\n%s\nwant\n%s", got, wantBody)
	}
	cases := []struct {
		holder domain.Holder
		want   string
	}{
		{"user:alice", "acme/alice"},
		{"user:bob/owner:cron-host-1", "acme/bob"},
		{"session:ses_legacy", "acme"}, // an old holder without a user
		{"", "acme"},
	}
	for _, c := range cases {
		e := event()
		e.Holder = c.holder
		b := string(webhook.Body(e))
		if !strings.Contains(b, `"holder":"`+c.want+`"`) {
			t.Errorf("holder %q: body %s, want holder %q", c.holder, b, c.want)
		}
		for _, secret := range []string{"ses_", "session", "owner", "cron-host"} {
			if strings.Contains(b, secret) {
				t.Errorf("holder %q: body %s reveals %q", c.holder, b, secret)
			}
		}
	}
	e := event()
	e.At = time.Date(2027, 1, 2, 3, 4, 5, 0, time.UTC)
	if b := string(webhook.Body(e)); !strings.HasSuffix(b, `"at":"2027-01-02T03:04:05.000Z"}`) {
		t.Errorf("whole second: body %s, want three zero digits", b)
	}
	// A force release says who forced it, last.
	e = event()
	e.Kind, e.ForcedBy = domain.EventLockReleased, domain.ForcedByAdmin
	if b := string(webhook.Body(e)); !strings.HasSuffix(b, `"at":"2026-12-05T08:00:00.123Z","forced_by":"admin"}`) ||
		!strings.Contains(b, `"type":"lock.released"`) {
		t.Errorf("forced release: body %s, want forced_by admin last", b)
	}
}

func hmacSHA256(key string, msg []byte) []byte {
	h := hmac.New(sha256.New, []byte(key))
	h.Write(msg)
	return h.Sum(nil)
}

func TestSendSignedDelivery(t *testing.T) {
	srv, got, _ := receiver(t, http.StatusAccepted)
	s := webhook.New(webhook.Config{AllowPrivate: true})
	const secret = "s3cr3t-with spaces & symbols!"
	req := ports.WebhookRequest{
		URL:        srv.URL + "/hooks/octostore?team=db",
		Secret:     secret,
		DeliveryID: "dlv_0123456789abcdef_42",
		Event:      event(),
		At:         time.Date(2026, 12, 5, 8, 0, 3, 900_000_000, time.UTC),
	}
	status, err := s.Send(t.Context(), req)
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("Send = %d, %v; want 202, nil", status, err)
	}
	r := <-got
	if r.method != http.MethodPost || r.path != "/hooks/octostore" {
		t.Errorf("request %s %s", r.method, r.path)
	}
	if string(r.body) != wantBody {
		t.Errorf("body =\n%s\nwant\n%s", r.body, wantBody)
	}
	const ts = "1796457603" // 2026-12-05T08:00:03Z, the attempt's time, not the event's
	if strconv.FormatInt(req.At.Unix(), 10) != ts {
		t.Fatalf("test constant: %d", req.At.Unix())
	}
	hexSig := "sha256=" + hex.EncodeToString(hmacSHA256(secret, []byte(wantBody)))
	stdSig := "v1," + base64.StdEncoding.EncodeToString(
		hmacSHA256(secret, []byte("dlv_0123456789abcdef_42."+ts+"."+wantBody)))
	want := map[string]string{
		"Content-Type":          "application/json",
		"User-Agent":            "OctoStore-Webhook/1",
		"X-Octostore-Event":     "lock.acquired",
		"X-Octostore-Delivery":  "dlv_0123456789abcdef_42",
		"X-Octostore-Signature": hexSig,
		"Webhook-Id":            "dlv_0123456789abcdef_42",
		"Webhook-Timestamp":     ts,
		"Webhook-Signature":     stdSig,
		"Content-Length":        strconv.Itoa(len(wantBody)),
	}
	for k, v := range want {
		if g := r.header.Values(k); len(g) != 1 || g[0] != v {
			t.Errorf("header %s = %q, want %q", k, g, v)
		}
	}
	for k := range r.header {
		if _, ok := want[k]; !ok && k != "Accept-Encoding" && k != "Connection" {
			t.Errorf("unexpected header %s: %q", k, r.header[k])
		}
	}
	if r.header.Get("Accept-Encoding") != "" {
		t.Errorf("Accept-Encoding %q: compression is not asked for", r.header.Get("Accept-Encoding"))
	}
}

func TestSendUnsigned(t *testing.T) {
	srv, got, _ := receiver(t, http.StatusNoContent)
	s := webhook.New(webhook.Config{AllowPrivate: true, UserAgent: "acme-relay/2"})
	status, err := s.Send(t.Context(), ports.WebhookRequest{
		URL: srv.URL, DeliveryID: "dlv_1_1", Event: event(), At: at,
	})
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("Send = %d, %v", status, err)
	}
	r := <-got
	for _, k := range []string{"X-Octostore-Signature", "Webhook-Signature"} {
		if v, ok := r.header[k]; ok {
			t.Errorf("unsigned delivery has %s: %q", k, v)
		}
	}
	if r.header.Get("Webhook-Id") != "dlv_1_1" || r.header.Get("Webhook-Timestamp") != strconv.FormatInt(at.Unix(), 10) {
		t.Errorf("webhook-id %q, webhook-timestamp %q", r.header.Get("Webhook-Id"), r.header.Get("Webhook-Timestamp"))
	}
	if r.header.Get("User-Agent") != "acme-relay/2" {
		t.Errorf("User-Agent %q", r.header.Get("User-Agent"))
	}
}

// The header names go out as documented; Go's server canonicalizes them,
// so only the sender's own header map shows it.
func TestHeaderNamesAsDocumented(t *testing.T) {
	h := http.Header{}
	webhook.SetHeaders(webhook.New(webhook.Config{}), h, ports.WebhookRequest{
		Secret: "k", DeliveryID: "dlv_1_1", Event: event(), At: at,
	}, webhook.Body(event()))
	for _, k := range []string{"Content-Type", "User-Agent", "X-OctoStore-Event", "X-OctoStore-Delivery",
		"X-OctoStore-Signature", "webhook-id", "webhook-timestamp", "webhook-signature"} {
		if _, ok := h[k]; !ok {
			t.Errorf("header %q not set under that name; have %q", k, h)
		}
	}
	if len(h) != 8 {
		t.Errorf("%d headers, want 8: %q", len(h), h)
	}
}

func TestSendReturnsAnyStatus(t *testing.T) {
	for _, code := range []int{200, 299, 400, 410, 429, 500, 503} {
		srv, _, _ := receiver(t, code)
		status, err := webhook.New(webhook.Config{AllowPrivate: true}).Send(t.Context(),
			ports.WebhookRequest{URL: srv.URL, DeliveryID: "dlv_1_1", Event: event(), At: at})
		if err != nil || status != code {
			t.Errorf("receiver %d: Send = %d, %v", code, status, err)
		}
	}
}

func TestSendReadsABoundedResponse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		chunk := make([]byte, 64<<10)
		for range 1024 { // 64 MiB, unless the sender hangs up first
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	status, err := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 10 * time.Second}).Send(t.Context(),
		ports.WebhookRequest{URL: srv.URL, DeliveryID: "dlv_1_1", Event: event(), At: at})
	if err != nil || status != http.StatusOK {
		t.Errorf("Send = %d, %v", status, err)
	}
}

func TestSendRefusesNonPublicTargets(t *testing.T) {
	cases := []struct {
		url  string
		want error
	}{
		{"https://127.0.0.1/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://127.0.0.1:8443/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://10.0.0.1/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://192.168.1.10/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://169.254.169.254/latest/meta-data/", domain.ErrWebhookAddressNotAllowed},
		{"https://[::1]/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://[::ffff:127.0.0.1]/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://[fd00::1]/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://localhost/hook", domain.ErrWebhookAddressNotAllowed},
		{"https://127.1/hook", domain.ErrInvalidWebhookURL},
		{"http://hooks.example.com/hook", domain.ErrInvalidWebhookURL},
		{"http://8.8.8.8/hook", domain.ErrInvalidWebhookURL},
		{"https://user:pass@hooks.example.com/hook", domain.ErrInvalidWebhookURL},
		{"https://token@hooks.example.com/hook", domain.ErrInvalidWebhookURL},
		{"hooks.example.com/hook", domain.ErrInvalidWebhookURL},
	}
	for _, c := range cases {
		res := resolverOf("hooks.example.com", "93.184.215.14")
		s := webhook.New(webhook.Config{Resolver: res})
		webhook.SetDial(s, noDial(t))
		status, err := s.Send(t.Context(), ports.WebhookRequest{URL: c.url, Secret: "k", DeliveryID: "dlv_1_1", Event: event(), At: at})
		if status != 0 || !errors.Is(err, c.want) {
			t.Errorf("Send(%s) = %d, %v; want 0, %s", c.url, status, err, domain.CodeOf(c.want))
		}
		if n := res.count(); n != 0 {
			t.Errorf("Send(%s) resolved %d times; a refused URL is not resolved", c.url, n)
		}
	}
}

// A name that resolves inward is refused before any connection: the
// receiver listens where the name points and sees none.
func TestSendRefusesANameThatResolvesInward(t *testing.T) {
	srv, got, conns := receiver(t, http.StatusNoContent)
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	res := resolverOf("internal.example", "127.0.0.1")
	req := ports.WebhookRequest{URL: "https://internal.example:" + strconv.Itoa(port) + "/hook",
		Secret: "k", DeliveryID: "dlv_1_1", Event: event(), At: at}

	status, err := webhook.New(webhook.Config{Resolver: res}).Send(t.Context(), req)
	if status != 0 || err == nil || err.Error() != "webhook address 127.0.0.1 is not public" {
		t.Fatalf("Send = %d, %v; want 0, webhook address 127.0.0.1 is not public", status, err)
	}
	if !errors.Is(err, domain.ErrWebhookAddressNotAllowed) {
		t.Errorf("error %v does not match ErrWebhookAddressNotAllowed", err)
	}
	var ae *webhook.AddressError
	if !errors.As(err, &ae) || ae.Addr != netip.MustParseAddr("127.0.0.1") {
		t.Errorf("error %#v is not an AddressError for 127.0.0.1", err)
	}
	if n := res.count(); n != 1 {
		t.Errorf("%d lookups, want 1", n)
	}
	if n := conns.Load(); n != 0 {
		t.Fatalf("the receiver saw %d connections; want none", n)
	}

	// The control: allowed to deliver privately, the same sender setup
	// reaches the same receiver through the same name, so the count above
	// would have seen a connection.
	req.URL = "http://internal.example:" + strconv.Itoa(port) + "/hook"
	status, err = webhook.New(webhook.Config{Resolver: res, AllowPrivate: true}).Send(t.Context(), req)
	if err != nil || status != http.StatusNoContent {
		t.Fatalf("private delivery: Send = %d, %v", status, err)
	}
	if r := <-got; r.host != "internal.example:"+strconv.Itoa(port) {
		t.Errorf("Host %q", r.host)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the receiver saw %d connections, want 1", n)
	}
}

func TestSendRefusesIfAnyAddressIsNotPublic(t *testing.T) {
	cases := []struct {
		addrs []string
		bad   string
	}{
		{[]string{"8.8.8.8", "10.0.0.1"}, "10.0.0.1"},
		{[]string{"2606:4700::1111", "fe80::1"}, "fe80::1"},
		{[]string{"::ffff:127.0.0.1"}, "127.0.0.1"},
		{[]string{"::ffff:8.8.8.8", "100.64.0.1"}, "100.64.0.1"},
		{[]string{"fc00::1", "8.8.8.8"}, "fc00::1"},
	}
	for _, c := range cases {
		s := webhook.New(webhook.Config{Resolver: resolverOf("hooks.example.com", c.addrs...)})
		webhook.SetDial(s, noDial(t))
		_, err := s.Send(t.Context(), ports.WebhookRequest{URL: "https://hooks.example.com/hook", DeliveryID: "dlv_1_1", Event: event(), At: at})
		if err == nil || err.Error() != "webhook address "+c.bad+" is not public" {
			t.Errorf("resolving to %v: error %v, want %s refused", c.addrs, err, c.bad)
		}
	}
}

func TestSendResolutionFailure(t *testing.T) {
	s := webhook.New(webhook.Config{Resolver: resolverOf("other.example", "8.8.8.8")})
	webhook.SetDial(s, noDial(t))
	status, err := s.Send(t.Context(), ports.WebhookRequest{URL: "https://hooks.example.com/hook", DeliveryID: "dlv_1_1", Event: event(), At: at})
	var dnsErr *net.DNSError
	if status != 0 || !errors.As(err, &dnsErr) {
		t.Errorf("Send = %d, %v; want a DNS error", status, err)
	}
	s = webhook.New(webhook.Config{Resolver: resolverOf("hooks.example.com")}) // no addresses
	webhook.SetDial(s, noDial(t))
	if _, err := s.Send(t.Context(), ports.WebhookRequest{URL: "https://hooks.example.com/hook", DeliveryID: "dlv_1_1", Event: event(), At: at}); err == nil {
		t.Error("an empty answer was not an error")
	}
}

// tlsReceiver is an https receiver whose certificate is for example.com,
// with a sender that trusts it and dials it whatever address it is told,
// recording that address.
func tlsReceiver(t *testing.T, res webhook.Resolver) (s *webhook.Sender, got <-chan received, dialed func() []string) {
	t.Helper()
	ch := make(chan received, 16)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.TLS == nil || r.TLS.ServerName != "example.com" {
			t.Errorf("TLS server name %v, want example.com", r.TLS)
		}
		ch <- received{r.Method, r.URL.Path, r.Host, r.Header.Clone(), body}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	var (
		mu    sync.Mutex
		addrs []string
	)
	s = webhook.New(webhook.Config{Resolver: res})
	webhook.SetRootCAs(s, srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs)
	webhook.SetDial(s, func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		addrs = append(addrs, addr)
		mu.Unlock()
		var d net.Dialer
		return d.DialContext(ctx, network, srv.Listener.Addr().String())
	})
	return s, ch, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), addrs...)
	}
}

// A name that resolves to a public address is dialed at exactly that
// address, and TLS still verifies the name: the certificate is for
// example.com, not for the address.
func TestSendDialsTheCheckedAddress(t *testing.T) {
	s, got, dialed := tlsReceiver(t, resolverOf("example.com", "93.184.215.14"))
	status, err := s.Send(t.Context(), ports.WebhookRequest{URL: "https://example.com/hook", Secret: "k", DeliveryID: "dlv_1_1", Event: event(), At: at})
	if err != nil || status != http.StatusOK {
		t.Fatalf("Send = %d, %v", status, err)
	}
	if d := dialed(); len(d) != 1 || d[0] != "93.184.215.14:443" {
		t.Errorf("dialed %q, want [93.184.215.14:443]", d)
	}
	if r := <-got; r.host != "example.com" || string(r.body) != wantBody {
		t.Errorf("Host %q body %s", r.host, r.body)
	}

	s, _, dialed = tlsReceiver(t, resolverOf("example.com", "::ffff:93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"))
	if status, err := s.Send(t.Context(), ports.WebhookRequest{URL: "https://example.com:8443/hook", DeliveryID: "dlv_1_1", Event: event(), At: at}); err != nil || status != 200 {
		t.Fatalf("Send = %d, %v", status, err)
	}
	if d := dialed(); len(d) != 1 || d[0] != "93.184.215.14:8443" {
		t.Errorf("dialed %q, want [93.184.215.14:8443] (unmapped, first address, URL port)", d)
	}
}

// Every attempt resolves again: a name rebound to an inner address after
// a good delivery is refused at the next attempt.
func TestSendResolvesAtEveryAttempt(t *testing.T) {
	res := resolverOf("example.com", "93.184.215.14")
	s, _, dialed := tlsReceiver(t, res)
	req := ports.WebhookRequest{URL: "https://example.com/hook", DeliveryID: "dlv_1_1", Event: event(), At: at}
	if status, err := s.Send(t.Context(), req); err != nil || status != 200 {
		t.Fatalf("first attempt: Send = %d, %v", status, err)
	}
	res.set("example.com", "169.254.169.254")
	status, err := s.Send(t.Context(), req)
	if status != 0 || err == nil || err.Error() != "webhook address 169.254.169.254 is not public" {
		t.Errorf("second attempt: Send = %d, %v", status, err)
	}
	if n := res.count(); n != 2 {
		t.Errorf("%d lookups, want 2", n)
	}
	if d := dialed(); len(d) != 1 {
		t.Errorf("dialed %q, want only the first attempt's address", d)
	}
}

// The dialer behind the pin checks the address again as the socket
// connects.
func TestDialerChecksTheAddress(t *testing.T) {
	s := webhook.New(webhook.Config{})
	for addr, ok := range map[string]bool{
		"8.8.8.8:443":                  true,
		"[2606:4700::1111]:443":        true,
		"127.0.0.1:443":                false,
		"10.0.0.1:443":                 false,
		"[::1]:443":                    false,
		"[::ffff:169.254.169.254]:443": false,
		"[fe80::1%eth0]:443":           false,
	} {
		err := webhook.Control(s, "tcp", addr, nil)
		if ok != (err == nil) || err != nil && !errors.Is(err, domain.ErrWebhookAddressNotAllowed) {
			t.Errorf("Control(%s) = %v, want ok=%v", addr, err, ok)
		}
	}
	if err := webhook.Control(webhook.New(webhook.Config{AllowPrivate: true}), "tcp", "127.0.0.1:443", nil); err != nil {
		t.Errorf("Control with AllowPrivate = %v", err)
	}

	// Wired into the real dialer: a listener on loopback is never reached.
	srv, _, conns := receiver(t, 200)
	_, err := webhook.Dial(s)(t.Context(), "tcp", srv.Listener.Addr().String())
	if !errors.Is(err, domain.ErrWebhookAddressNotAllowed) {
		t.Errorf("dial %s: %v, want refused", srv.Listener.Addr(), err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("the listener saw %d connections", n)
	}
}

func TestSendDoesNotFollowRedirects(t *testing.T) {
	for _, code := range []int{http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		var followed atomic.Int32
		mux := http.NewServeMux()
		mux.HandleFunc("/hook", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/elsewhere", code)
		})
		mux.HandleFunc("/elsewhere", func(w http.ResponseWriter, r *http.Request) {
			followed.Add(1)
		})
		srv := httptest.NewServer(mux)
		status, err := webhook.New(webhook.Config{AllowPrivate: true}).Send(t.Context(),
			ports.WebhookRequest{URL: srv.URL + "/hook", DeliveryID: "dlv_1_1", Event: event(), At: at})
		srv.Close() // waits for handlers, so the count is final
		if err != nil || status != code {
			t.Errorf("redirect %d: Send = %d, %v; want %d, nil", code, status, err, code)
		}
		if n := followed.Load(); n != 0 {
			t.Errorf("redirect %d was followed %d times", code, n)
		}
	}
}

// Environment proxies are ignored: a proxy would see every delivery and
// could forward it anywhere. (ProxyFromEnvironment reads the environment
// once per process and skips loopback, so this is checked on the client.)
func TestClientUsesNoProxy(t *testing.T) {
	c := webhook.Client(webhook.New(webhook.Config{}), []netip.Addr{netip.MustParseAddr("8.8.8.8")})
	if tr, ok := c.Transport.(*http.Transport); !ok || tr.Proxy != nil {
		t.Errorf("transport %T has a proxy function", c.Transport)
	}
}

func TestSendTimesOut(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	s := webhook.New(webhook.Config{AllowPrivate: true, Timeout: 100 * time.Millisecond})
	status, err := s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL + "/hook?token=do-not-log", DeliveryID: "dlv_1_1", Event: event(), At: at})
	if status != 0 || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send = %d, %v; want 0, deadline exceeded", status, err)
	}
	if strings.Contains(err.Error(), "do-not-log") {
		t.Errorf("the error repeats the URL: %v", err)
	}
}

// A receiver that answers and then never finishes its body has answered:
// the status counts, and the attempt still ends within its bound.
func TestSendStatusOfAnEndlessBody(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte("partial"))
		http.NewResponseController(w).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	// The bound must cover the status line on a busy machine.
	s := webhook.New(webhook.Config{AllowPrivate: true, Timeout: time.Second})
	status, err := s.Send(t.Context(), ports.WebhookRequest{URL: srv.URL, DeliveryID: "dlv_1_1", Event: event(), At: at})
	if err != nil || status != http.StatusOK {
		t.Errorf("Send = %d, %v; want 200, nil", status, err)
	}
}

func TestSendHonoursTheCallersContext(t *testing.T) {
	srv, _, conns := receiver(t, 200)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	status, err := webhook.New(webhook.Config{AllowPrivate: true}).Send(ctx,
		ports.WebhookRequest{URL: srv.URL, DeliveryID: "dlv_1_1", Event: event(), At: at})
	if status != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("Send = %d, %v; want 0, canceled", status, err)
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections after cancellation", n)
	}
}
