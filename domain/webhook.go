package domain

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WebhookID names a webhook; the service makes it up ("wh_" and 16 hex
// digits).
type WebhookID string

// MaxWebhookSecretLen caps a webhook secret, in bytes.
const MaxWebhookSecretLen = 256

// Webhook is a subscription: events of its org that its patterns and
// prefix select are POSTed to URL, in seq order, at least once.
type Webhook struct {
	ID     WebhookID
	Org    OrgID
	URL    string
	Events []string // "lock.acquired" …, "lock.*" or "*"
	Prefix Prefix
	Secret string // signs deliveries; empty: unsigned
	// Owner is the user who created the webhook: it receives events only
	// for names Owner may observe (empty for webhooks stored before
	// owners were: those follow the rules' "org" principal only).
	Owner     string
	CreatedAt time.Time
	// Cursor is the seq through which every event has been handled
	// (delivered, given up on, or not wanted); delivery resumes after it.
	Cursor uint64
}

// Validate reports the first rule that the stored webhook w breaks: it
// must have an id, an org that parses, a URL and at least one event
// pattern, and its cursor must fit a signed 64-bit integer, which every
// store must be able to keep. Storage adapters check every webhook they
// store or load with it; the URL, patterns and secret were checked when
// the client sent them. The error has no Kind (KindOf reports
// KindInternal): a record that breaks these rules is a bug or corruption,
// never the client's fault.
func (w Webhook) Validate() error {
	if w.ID == "" {
		return errors.New("webhook id is empty")
	}
	if _, err := ParseOrgID(string(w.Org)); err != nil {
		return fmt.Errorf("webhook %s org: %w", w.ID, kindless(err))
	}
	if w.URL == "" {
		return fmt.Errorf("webhook %s url is empty", w.ID)
	}
	if len(w.Events) == 0 {
		return fmt.Errorf("webhook %s has no event patterns", w.ID)
	}
	if w.Cursor > math.MaxInt64 {
		return fmt.Errorf("webhook %s cursor %d is out of range", w.ID, w.Cursor)
	}
	return nil
}

// Wants reports whether the webhook delivers e.
func (w Webhook) Wants(e Event) bool {
	if !e.Visible(w.Org, w.Prefix) {
		return false
	}
	for _, p := range w.Events {
		if p == "*" || p == string(e.Kind) || strings.HasSuffix(p, ".*") && strings.HasPrefix(string(e.Kind), strings.TrimSuffix(p, "*")) {
			return true
		}
	}
	return false
}

// Webhook errors a client can cause.
var (
	ErrWebhookNotFound = &Error{Kind: KindNotFound, Code: "webhook_not_found",
		Msg: "no webhook with this id in your org"}
	ErrInvalidWebhookURL = Invalid("invalid_webhook_url",
		"url must be an absolute https:// URL with a host and no user name or password")
	ErrWebhookAddressNotAllowed = Invalid("webhook_address_not_allowed",
		"url points at a loopback, private, link-local or otherwise non-public address; deliveries go to public addresses only")
	ErrInvalidEventType = Invalid("invalid_event_type",
		"events must list at least one of lock.acquired, lock.released, lock.expired, lock.session_ended, lock.*, config.updated, config.deleted, config.*, flag.updated, flag.deleted, flag.* or *")
	ErrInvalidWebhookSecret = Invalid("invalid_webhook_secret",
		"secret must be 1-256 bytes of printable ASCII")
)

// CheckEventPatterns validates the event selection of a webhook: at least
// one pattern, each a published kind, "lock.*", "config.*" or "*". It returns the
// patterns without duplicates, in the order given.
func CheckEventPatterns(ps []string) ([]string, error) {
	if len(ps) == 0 {
		return nil, ErrInvalidEventType
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p != "*" && !EventKind(p).Published() && !familyPattern(p) {
			return nil, &Error{Kind: KindInvalid, Code: ErrInvalidEventType.Code,
				Msg: "unknown event type " + strconv.Quote(p) + "; " + ErrInvalidEventType.Msg}
		}
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	return out, nil
}

// familyPattern reports whether p is "<family>.*" for a family of
// published kinds ("lock.*", "flag.*").
func familyPattern(p string) bool {
	family, ok := strings.CutSuffix(p, "*")
	if !ok || !strings.HasSuffix(family, ".") {
		return false
	}
	for _, k := range slices.Concat(LockEventKinds, ConfigEventKinds, FlagEventKinds) {
		if strings.HasPrefix(string(k), family) {
			return true
		}
	}
	return false
}

// CheckWebhookSecret validates a webhook secret (empty means none).
func CheckWebhookSecret(s string) error {
	if len(s) > MaxWebhookSecretLen {
		return ErrInvalidWebhookSecret
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return ErrInvalidWebhookSecret
		}
	}
	return nil
}

// CheckWebhookURL validates a webhook URL. It must be absolute, https (http
// too when allowPrivate), with a host, a port (if any) in 1-65535 and no
// credentials. A literal IP address must be public, and the name localhost
// (or a name below it) is refused, unless allowPrivate. A host that
// resolvers could read as an IPv4 address in a non-standard form ("127.1",
// "0x7f.0.0.1") is always refused. Any other host name is checked at each
// delivery, when it is resolved. Returns ErrInvalidWebhookURL (or an error
// with its code) or ErrWebhookAddressNotAllowed.
func CheckWebhookURL(raw string, allowPrivate bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.Opaque != "" || len(raw) > 2048 {
		return nil, ErrInvalidWebhookURL
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && allowPrivate:
	default:
		return nil, ErrInvalidWebhookURL
	}
	host := u.Hostname()
	if host == "" {
		return nil, ErrInvalidWebhookURL
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, &Error{Kind: KindInvalid, Code: ErrInvalidWebhookURL.Code,
				Msg: "url port must be 1-65535"}
		}
	}
	a, err := netip.ParseAddr(host)
	if err == nil {
		if !allowPrivate && !PublicAddr(a) {
			return nil, ErrWebhookAddressNotAllowed
		}
		return u, nil
	}
	// A name whose last label is a number is read as an IPv4 address by
	// browsers (WHATWG URL) and by inet_aton resolvers ("127.1",
	// "2130706433", "0x7f.0.0.1"): refuse it rather than guess which.
	if endsInNumber(host) {
		return nil, &Error{Kind: KindInvalid, Code: ErrInvalidWebhookURL.Code,
			Msg: "url host must be a name or an IP address in standard form (a.b.c.d or [v6])"}
	}
	// "localhost." is the same name as "localhost".
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if !allowPrivate && (name == "localhost" || strings.HasSuffix(name, ".localhost")) {
		return nil, ErrWebhookAddressNotAllowed
	}
	return u, nil
}

// endsInNumber reports whether the last label of host (ignoring one
// trailing dot) is decimal digits or "0x" and hex digits, the WHATWG URL
// test for a host that must be parsed as IPv4.
func endsInNumber(host string) bool {
	host = strings.TrimSuffix(host, ".")
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	digits, base := last, "0123456789"
	if h, ok := strings.CutPrefix(strings.ToLower(last), "0x"); ok {
		digits, base = h, "0123456789abcdef"
	}
	for _, c := range strings.ToLower(digits) {
		if !strings.ContainsRune(base, c) {
			return false
		}
	}
	return true
}

// nonPublic are the IPv4 and IPv6 ranges a webhook may not reach (IANA
// special-purpose registries): this network, private, CGNAT, loopback,
// link-local, documentation, benchmarking, multicast, reserved, and the
// IPv6 ranges that embed or translate IPv4 or are not globally routed.
var nonPublic = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
		"198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/128", "::1/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64",
		"2001::/23", "2001:db8::/32", "2002::/16", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// globalUnicast6 is the only IPv6 range IANA allocates for global unicast;
// everything outside it (IPv4-compatible ::a.b.c.d, unallocated space) is
// not a delivery address.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

// PublicAddr reports whether a is a globally routable unicast address that
// a webhook may be delivered to. An IPv4-mapped IPv6 address is judged as
// the IPv4 address it maps.
func PublicAddr(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap().WithZone("")
	if a.Is6() && !globalUnicast6.Contains(a) {
		return false
	}
	for _, p := range nonPublic {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// PublicIP is PublicAddr for a net.IP.
func PublicIP(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	return ok && PublicAddr(a)
}

// DeliveryState is where a delivery stands.
type DeliveryState string

// The delivery states.
const (
	DeliveryPending   DeliveryState = "pending"   // not yet delivered; NextAt is the next attempt
	DeliveryDelivered DeliveryState = "delivered" // the receiver answered 2xx
	DeliveryFailed    DeliveryState = "failed"    // every attempt failed; given up
)

// Valid reports whether s is one of the delivery states.
func (s DeliveryState) Valid() bool {
	switch s {
	case DeliveryPending, DeliveryDelivered, DeliveryFailed:
		return true
	}
	return false
}

// MaxDeliveryRecords is how many delivery records storage keeps per
// webhook: the newest, by event seq.
const MaxDeliveryRecords = 100

// Delivery is the record of one event's delivery to one webhook.
type Delivery struct {
	Webhook    WebhookID
	Seq        uint64
	Kind       EventKind
	Attempts   int
	State      DeliveryState
	LastStatus int    // HTTP status of the last attempt; 0 if none came back
	LastError  string // why the last attempt failed, when it did
	NextAt     time.Time
	UpdatedAt  time.Time
}

// Validate reports the first rule that the stored delivery record d
// breaks: it must name a webhook, an event seq that is not zero and fits a
// signed 64-bit integer, and a known state. Storage adapters check every
// record they store or load with it. The error has no Kind (KindOf reports
// KindInternal).
func (d Delivery) Validate() error {
	if d.Webhook == "" {
		return errors.New("delivery webhook id is empty")
	}
	if d.Seq == 0 || d.Seq > math.MaxInt64 {
		return fmt.Errorf("delivery seq %d is out of range", d.Seq)
	}
	if !d.State.Valid() {
		return fmt.Errorf("delivery state %q is unknown", d.State)
	}
	return nil
}

// ID is the delivery's id, the same for every attempt (and across restarts),
// so that receivers can drop duplicates.
func (d Delivery) ID() string { return DeliveryID(d.Webhook, d.Seq) }

// DeliveryID is the id of the delivery of event seq to webhook w.
func DeliveryID(w WebhookID, seq uint64) string {
	return "dlv_" + strings.TrimPrefix(string(w), "wh_") + "_" + strconv.FormatUint(seq, 10)
}
