package domain

import (
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func TestPublicAddr(t *testing.T) {
	cases := []struct {
		addr string
		want bool
	}{
		// IPv4: public.
		{"8.8.8.8", true},
		{"1.1.1.1", true},
		{"93.184.215.14", true},
		{"100.63.255.255", true},  // just below CGNAT
		{"100.128.0.0", true},     // just above CGNAT
		{"172.15.255.255", true},  // just below 172.16/12
		{"172.32.0.0", true},      // just above 172.16/12
		{"223.255.255.255", true}, // last unicast /8
		// IPv4: not public.
		{"0.0.0.0", false},
		{"0.1.2.3", false},
		{"10.0.0.1", false},
		{"100.64.0.1", false},
		{"100.127.255.255", false},
		{"127.0.0.1", false},
		{"127.255.255.254", false},
		{"169.254.169.254", false},
		{"172.16.0.1", false},
		{"172.31.255.255", false},
		{"192.0.0.8", false},
		{"192.0.2.1", false},
		{"192.88.99.1", false},
		{"192.168.1.1", false},
		{"198.18.0.1", false},
		{"198.51.100.7", false},
		{"203.0.113.9", false},
		{"224.0.0.1", false},
		{"239.255.255.250", false},
		{"240.0.0.1", false},
		{"255.255.255.255", false},
		// IPv6: public.
		{"2606:4700::1111", true},
		{"2001:4860:4860::8888", true},
		{"2a00:1450:4001:80b::200e", true},
		// IPv6: not public.
		{"::", false},
		{"::1", false},
		{"::ffff:127.0.0.1", false},
		{"::ffff:10.0.0.1", false},
		{"::ffff:169.254.169.254", false},
		{"::127.0.0.1", false}, // IPv4-compatible (deprecated), not global unicast
		{"::8.8.8.8", false},
		{"::2", false},
		{"64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"64:ff9b:1::1", false},
		{"100::1", false},
		{"2001::1", false},     // Teredo
		{"2001:db8::1", false}, // documentation
		{"2002:7f00:1::", false},
		{"3fff::1", false},
		{"5f00::1", false},
		{"fc00::1", false},
		{"fd12:3456:789a::1", false},
		{"fe80::1", false},
		{"fe80::1%eth0", false},
		{"fec0::1", false},
		{"ff02::1", false},
		{"4000::1", false}, // outside 2000::/3, not yet allocated
		{"e000::1", false},
	}
	for _, c := range cases {
		a := netip.MustParseAddr(c.addr)
		if got := PublicAddr(a); got != c.want {
			t.Errorf("PublicAddr(%s) = %v, want %v", c.addr, got, c.want)
		}
		if ip := net.ParseIP(strings.Split(c.addr, "%")[0]); ip != nil {
			if got := PublicIP(ip); got != c.want && !strings.Contains(c.addr, "%") {
				t.Errorf("PublicIP(%s) = %v, want %v", c.addr, got, c.want)
			}
		}
	}
	if PublicAddr(netip.Addr{}) {
		t.Error("the zero Addr is public")
	}
	if PublicIP(nil) || PublicIP(net.IP{1, 2, 3}) {
		t.Error("an invalid net.IP is public")
	}
	// net.ParseIP gives 16-byte slices for IPv4: judged as IPv4.
	if !PublicIP(net.ParseIP("8.8.8.8")) || PublicIP(net.ParseIP("127.0.0.1")) {
		t.Error("PublicIP misjudges a 16-byte IPv4 address")
	}
}

func TestCheckWebhookURL(t *testing.T) {
	cases := []struct {
		url          string
		allowPrivate bool
		want         error // nil: accepted
	}{
		{"https://hooks.example.com/octostore", false, nil},
		{"https://hooks.example.com:8443/x?team=db#frag", false, nil},
		{"HTTPS://Hooks.Example.COM/x", false, nil},
		{"https://8.8.8.8/hook", false, nil},
		{"https://[2606:4700::1111]/hook", false, nil},
		{"https://hooks.example.com.:443/x", false, nil}, // fully qualified

		{"http://hooks.example.com/x", false, ErrInvalidWebhookURL},
		{"http://hooks.example.com/x", true, nil},
		{"ftp://hooks.example.com/x", true, ErrInvalidWebhookURL},
		{"//hooks.example.com/x", false, ErrInvalidWebhookURL},
		{"hooks.example.com/x", false, ErrInvalidWebhookURL},
		{"/relative", false, ErrInvalidWebhookURL},
		{"", false, ErrInvalidWebhookURL},
		{"https://", false, ErrInvalidWebhookURL},
		{"https:///x", false, ErrInvalidWebhookURL},
		{"https://:443/x", false, ErrInvalidWebhookURL},
		{"https:hooks.example.com", false, ErrInvalidWebhookURL},
		{"https://user:pass@hooks.example.com/x", false, ErrInvalidWebhookURL},
		{"https://user@hooks.example.com/x", false, ErrInvalidWebhookURL},
		{"https://:@hooks.example.com/x", false, ErrInvalidWebhookURL},
		{"https://user:pass@127.0.0.1/x", true, ErrInvalidWebhookURL},
		{"https://hooks.example.com:0/x", false, ErrInvalidWebhookURL},
		{"https://hooks.example.com:65536/x", false, ErrInvalidWebhookURL},
		{"https://hooks.example.com:65535/x", false, nil},
		{"https://hooks example.com/x", false, ErrInvalidWebhookURL},
		{"https://" + strings.Repeat("a", 2040) + ".com/", false, ErrInvalidWebhookURL},

		// Literal addresses are judged at once.
		{"https://127.0.0.1/x", false, ErrWebhookAddressNotAllowed},
		{"https://127.0.0.1/x", true, nil},
		{"http://127.0.0.1:8080/x", true, nil},
		{"https://10.0.0.1/x", false, ErrWebhookAddressNotAllowed},
		{"https://169.254.169.254/latest/meta-data", false, ErrWebhookAddressNotAllowed},
		{"https://[::1]/x", false, ErrWebhookAddressNotAllowed},
		{"https://[::ffff:127.0.0.1]/x", false, ErrWebhookAddressNotAllowed},
		{"https://[fe80::1%25eth0]/x", false, ErrWebhookAddressNotAllowed},
		{"https://0.0.0.0/x", false, ErrWebhookAddressNotAllowed},
		{"https://localhost/x", false, ErrWebhookAddressNotAllowed},
		{"https://LOCALHOST/x", false, ErrWebhookAddressNotAllowed},
		{"https://localhost./x", false, ErrWebhookAddressNotAllowed},
		{"https://api.localhost/x", false, ErrWebhookAddressNotAllowed},
		{"https://api.localhost./x", false, ErrWebhookAddressNotAllowed},
		{"http://localhost:8080/x", true, nil},

		// Hosts that some resolvers read as IPv4 addresses (inet_aton
		// forms) are not names; they are refused rather than guessed at.
		{"https://127.1/x", false, ErrInvalidWebhookURL},
		{"https://2130706433/x", false, ErrInvalidWebhookURL},
		{"https://0x7f.0.0.1/x", false, ErrInvalidWebhookURL},
		{"https://0177.0.0.1/x", false, ErrInvalidWebhookURL},
		{"https://example.0x10/x", false, ErrInvalidWebhookURL},
		{"https://127.0.0.1./x", false, ErrInvalidWebhookURL},
		{"https://127.1/x", true, ErrInvalidWebhookURL},
		{"https://1.2.3.4.5/x", false, ErrInvalidWebhookURL},
		{"https://example.42/x", false, ErrInvalidWebhookURL},
		{"https://42.example.com/x", false, nil},
		{"https://0x.example.com/x", false, nil},
	}
	for _, c := range cases {
		u, err := CheckWebhookURL(c.url, c.allowPrivate)
		switch {
		case c.want == nil && err != nil:
			t.Errorf("CheckWebhookURL(%q, %v) = %v, want accepted", c.url, c.allowPrivate, err)
		case c.want == nil && u == nil:
			t.Errorf("CheckWebhookURL(%q, %v) returned no URL", c.url, c.allowPrivate)
		case c.want != nil && !errors.Is(err, c.want):
			t.Errorf("CheckWebhookURL(%q, %v) = %v, want %v", c.url, c.allowPrivate, err, CodeOf(c.want))
		case c.want != nil && u != nil:
			t.Errorf("CheckWebhookURL(%q, %v) returned a URL with its error", c.url, c.allowPrivate)
		}
		if err != nil && KindOf(err) != KindInvalid {
			t.Errorf("CheckWebhookURL(%q) kind = %v, want KindInvalid", c.url, KindOf(err))
		}
	}
}

func TestCheckEventPatterns(t *testing.T) {
	cases := []struct {
		in   []string
		want []string // nil: refused
	}{
		{[]string{"lock.acquired"}, []string{"lock.acquired"}},
		{[]string{"*"}, []string{"*"}},
		{[]string{"lock.*"}, []string{"lock.*"}},
		{[]string{"lock.released", "lock.expired", "lock.session_ended", "lock.acquired"},
			[]string{"lock.released", "lock.expired", "lock.session_ended", "lock.acquired"}},
		{[]string{"lock.expired", "lock.acquired", "lock.expired", "*", "lock.acquired", "*"},
			[]string{"lock.expired", "lock.acquired", "*"}},
		{nil, nil},
		{[]string{}, nil},
		{[]string{""}, nil},
		{[]string{"lock.acquired", "lock.stolen"}, nil},
		{[]string{"session.opened"}, nil}, // recorded, never published
		{[]string{"session.*"}, nil},
		{[]string{"lock.acq*"}, nil},
		{[]string{"lock."}, nil},
		{[]string{"LOCK.ACQUIRED"}, nil},
		{[]string{"**"}, nil},
		{[]string{" lock.acquired"}, nil},
	}
	for _, c := range cases {
		got, err := CheckEventPatterns(c.in)
		if c.want == nil {
			if !errors.Is(err, ErrInvalidEventType) || KindOf(err) != KindInvalid {
				t.Errorf("CheckEventPatterns(%q) = %q, %v; want invalid_event_type", c.in, got, err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("CheckEventPatterns(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	_, err := CheckEventPatterns([]string{"lock.acquired", "lock.stolen"})
	if err == nil || !strings.Contains(err.Error(), `"lock.stolen"`) {
		t.Errorf("the error does not name the unknown type: %v", err)
	}
	in := []string{"lock.acquired", "lock.acquired"}
	if _, err := CheckEventPatterns(in); err != nil || !slices.Equal(in, []string{"lock.acquired", "lock.acquired"}) {
		t.Errorf("CheckEventPatterns changed its argument: %q", in)
	}
}

func TestWebhookWants(t *testing.T) {
	prefix := func(s string) Prefix {
		p, err := ParsePrefix(s)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	ev := func(org OrgID, kind EventKind, name LockName) Event {
		return Event{Seq: 1, Org: org, Kind: kind, Name: name, Holder: "user:alice", Token: 1}
	}
	cases := []struct {
		what   string
		events []string
		prefix string
		e      Event
		want   bool
	}{
		{"exact kind", []string{"lock.acquired"}, "", ev("acme", EventLockAcquired, "db"), true},
		{"other kind", []string{"lock.acquired"}, "", ev("acme", EventLockReleased, "db"), false},
		{"one of several", []string{"lock.expired", "lock.released"}, "", ev("acme", EventLockReleased, "db"), true},
		{"lock.* acquired", []string{"lock.*"}, "", ev("acme", EventLockAcquired, "db"), true},
		{"lock.* session_ended", []string{"lock.*"}, "", ev("acme", EventLockFreed, "db"), true},
		{"* expired", []string{"*"}, "", ev("acme", EventLockExpired, "db"), true},
		{"other org", []string{"*"}, "", ev("globex", EventLockAcquired, "db"), false},
		{"org is not a prefix", []string{"*"}, "", ev("acmecorp", EventLockAcquired, "db"), false},
		{"session event under *", []string{"*"}, "", Event{Seq: 1, Org: "acme", Kind: EventSessionOpened}, false},
		{"session event under lock.*", []string{"lock.*"}, "", Event{Seq: 1, Org: "acme", Kind: EventSessionExpired}, false},
		{"no patterns", nil, "", ev("acme", EventLockAcquired, "db"), false},
		{"prefix itself", []string{"*"}, "db", ev("acme", EventLockAcquired, "db"), true},
		{"below prefix", []string{"*"}, "db", ev("acme", EventLockAcquired, "db/primary"), true},
		{"prefix is component-wise", []string{"*"}, "db", ev("acme", EventLockAcquired, "dbx"), false},
		{"prefix is component-wise, deeper", []string{"*"}, "db/pri", ev("acme", EventLockAcquired, "db/primary"), false},
		{"strictly below: itself", []string{"*"}, "db/", ev("acme", EventLockAcquired, "db"), false},
		{"strictly below: child", []string{"*"}, "db/", ev("acme", EventLockAcquired, "db/primary"), true},
		{"prefix and kind", []string{"lock.released"}, "jobs", ev("acme", EventLockAcquired, "jobs/nightly"), false},
	}
	for _, c := range cases {
		w := Webhook{ID: "wh_1", Org: "acme", Events: c.events, Prefix: prefix(c.prefix)}
		if got := w.Wants(c.e); got != c.want {
			t.Errorf("%s: Wants(%s %s/%s) = %v, want %v", c.what, c.e.Kind, c.e.Org, c.e.Name, got, c.want)
		}
	}
}

func TestCheckWebhookSecret(t *testing.T) {
	cases := []struct {
		secret string
		ok     bool
	}{
		{"", true}, // no secret: unsigned
		{"s", true},
		{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", true},
		{" ~!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}", true},
		{strings.Repeat("x", MaxWebhookSecretLen), true},
		{strings.Repeat("x", MaxWebhookSecretLen+1), false},
		{"tab\there", false},
		{"new\nline", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"é", false},
		{"\xff", false},
	}
	for _, c := range cases {
		err := CheckWebhookSecret(c.secret)
		if (err == nil) != c.ok {
			t.Errorf("CheckWebhookSecret(%q) = %v, want ok=%v", c.secret, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidWebhookSecret) {
			t.Errorf("CheckWebhookSecret(%q) = %v, want invalid_webhook_secret", c.secret, err)
		}
	}
}

func TestDeliveryID(t *testing.T) {
	if got := DeliveryID("wh_0123456789abcdef", 42); got != "dlv_0123456789abcdef_42" {
		t.Errorf("DeliveryID = %q", got)
	}
	d := Delivery{Webhook: "wh_0123456789abcdef", Seq: 42}
	if d.ID() != DeliveryID(d.Webhook, d.Seq) {
		t.Errorf("Delivery.ID = %q", d.ID())
	}
}
