package webhook

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/netip"
)

// DialFunc connects to one checked IP:port.
type DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// SetDial replaces the dialer behind the address pin, so that a test sees
// which address is dialed (and can send it to a local receiver).
func SetDial(s *Sender, dial DialFunc) { s.dial = dial }

// Dial returns the dialer behind the pin, with its Control check.
func Dial(s *Sender) DialFunc { return s.dial }

// SetRootCAs makes s trust roots (a test receiver's certificate).
func SetRootCAs(s *Sender, roots *x509.CertPool) { s.tls.RootCAs = roots }

// Exported for tests.
var (
	Control    = (*Sender).control
	SetHeaders = (*Sender).setHeaders
)

// Client returns the client of one attempt that dials addrs.
func Client(s *Sender, addrs []netip.Addr) *http.Client { return s.client(addrs) }
