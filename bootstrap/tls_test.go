package bootstrap_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"

	"github.com/octostore/octostore/bootstrap"
)

// testPKI is a certificate authority made for one test.
type testPKI struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCA(t *testing.T, name string) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &testPKI{cert: cert, key: key}
}

// pool returns a pool that trusts the CAs.
func pool(cas ...*testPKI) *x509.CertPool {
	p := x509.NewCertPool()
	for _, ca := range cas {
		p.AddCert(ca.cert)
	}
	return p
}

// issue writes a server certificate for 127.0.0.1 with the given serial,
// signed by ca, and its key, as PEM to certFile and keyFile.
func (ca *testPKI) issue(t *testing.T, serial int64, certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "octostore test " + ca.cert.Subject.CommonName},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeTestFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})))
}

// tlsServer is a running app with TLS on, as seen from a test.
type tlsServer struct {
	addr  string
	certs *bootstrap.Certificates
}

// startTLSServer starts the full app with cfg (TLS set) and stops it at
// cleanup.
func startTLSServer(t *testing.T, cfg bootstrap.Config, log *slog.Logger) *tlsServer {
	t.Helper()
	var srv *bootstrap.HTTPServer
	var certs *bootstrap.Certificates
	app := fx.New(bootstrap.Options(cfg, bootstrap.Env{Version: "test", Logger: log}), fx.Populate(&srv, &certs))
	if err := app.Err(); err != nil {
		t.Fatalf("build app: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start app: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		if err := app.Stop(ctx); err != nil {
			t.Errorf("stop app: %v", err)
		}
	})
	return &tlsServer{addr: srv.Addr(), certs: certs}
}

// served returns the serial of the certificate a new handshake presents,
// verified against roots.
func (s *tlsServer) served(t *testing.T, roots *x509.CertPool) int64 {
	t.Helper()
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS handshake: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// awaitServed polls new handshakes until they present serial, for at most
// 10 s (the files are checked every second).
func (s *tlsServer) awaitServed(t *testing.T, roots *x509.CertPool, serial int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for got := s.served(t, roots); got != serial; got = s.served(t, roots) {
		if time.Now().After(deadline) {
			t.Fatalf("handshakes still present serial %d, want %d", got, serial)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// health GETs /health over HTTPS trusting only roots.
func (s *tlsServer) health(t *testing.T, roots *x509.CertPool) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	defer client.CloseIdleConnections()
	res, err := client.Get("https://" + s.addr + "/health")
	if err != nil {
		t.Fatalf("GET https://…/health: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET https://…/health: %d", res.StatusCode)
	}
}

// awaitLog polls log until it contains text, for at most 10 s.
func awaitLog(t *testing.T, log *syncBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q within 10s; log:\n%s", text, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func tlsConfig(t *testing.T, dir string) bootstrap.Config {
	cfg := e2eConfig(filepath.Join(dir, "octostore.db"))
	cfg.TLS.CertFile, cfg.TLS.KeyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	return cfg
}

// TestHTTPSServesAndReloadsChangedFiles: with tls.cert_file and
// tls.key_file the API speaks HTTPS only and logs an https:// address;
// certificate files replaced in place are picked up by new handshakes
// without a restart, and a broken replacement keeps the previous
// certificate serving, with one error line.
func TestHTTPSServesAndReloadsChangedFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := tlsConfig(t, dir)
	ca1, ca2 := newTestCA(t, "ca one"), newTestCA(t, "ca two")
	ca1.issue(t, 101, cfg.TLS.CertFile, cfg.TLS.KeyFile)

	var logs syncBuffer
	s := startTLSServer(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if want := "msg=listening addr=https://" + s.addr + " "; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs.String())
	}
	s.health(t, pool(ca1))
	if got := s.served(t, pool(ca1)); got != 101 {
		t.Fatalf("served serial %d, want 101", got)
	}
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: pool(ca1), MaxVersion: tls.VersionTLS11})
	if err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded; the minimum is TLS 1.2")
	}
	if res, err := http.Get("http://" + s.addr + "/health"); err == nil {
		res.Body.Close()
		t.Errorf("plain HTTP to the HTTPS port got a response: %d", res.StatusCode)
	}

	ca2.issue(t, 202, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	s.awaitServed(t, pool(ca1, ca2), 202)
	s.health(t, pool(ca2))
	awaitLog(t, &logs, "msg=\"tls certificate reloaded\"")

	// A key that belongs to another certificate: the reload fails, the
	// previous certificate keeps serving.
	other := t.TempDir()
	ca1.issue(t, 303, filepath.Join(other, "cert.pem"), filepath.Join(other, "key.pem"))
	key, err := os.ReadFile(filepath.Join(other, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, cfg.TLS.KeyFile, string(key))
	awaitLog(t, &logs, "tls.key_file "+cfg.TLS.KeyFile+": does not match the certificate in tls.cert_file "+cfg.TLS.CertFile)
	if strings.Count(logs.String(), "level=ERROR") != 1 {
		t.Errorf("want one error line for the failed reload:\n%s", logs.String())
	}
	if got := s.served(t, pool(ca1, ca2)); got != 202 {
		t.Errorf("after a failed reload the server presents serial %d, want the previous 202", got)
	}
	s.health(t, pool(ca2))
}

// TestCertificatesReload: Reload, which SIGHUP calls, swaps the certificate
// for new handshakes at once, and returns the error of a broken pair while
// the previous certificate keeps serving.
func TestCertificatesReload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := tlsConfig(t, dir)
	ca1, ca2 := newTestCA(t, "ca one"), newTestCA(t, "ca two")
	ca1.issue(t, 1, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	s := startTLSServer(t, cfg, slog.New(slog.DiscardHandler))

	ca2.issue(t, 2, cfg.TLS.CertFile, cfg.TLS.KeyFile)
	if err := s.certs.Reload(); err != nil {
		t.Fatalf("Reload: %v", err)
	}
	if got := s.served(t, pool(ca2)); got != 2 {
		t.Fatalf("after Reload the server presents serial %d, want 2", got)
	}
	writeTestFile(t, cfg.TLS.CertFile, "not a certificate\n")
	err := s.certs.Reload()
	if err == nil || err.Error() != "tls.cert_file "+cfg.TLS.CertFile+": no PEM certificate in the file" {
		t.Fatalf("Reload of a broken file: %v", err)
	}
	if got := s.served(t, pool(ca2)); got != 2 {
		t.Fatalf("after a failed Reload the server presents serial %d, want 2", got)
	}
	s.health(t, pool(ca2))
}

// TestTLSSettingsRefusals: only one of the two files is a configuration
// error; a file that is missing, unreadable, not PEM or a key of another
// certificate stops start-up with one line naming the file and the cause,
// before any token is generated.
func TestTLSSettingsRefusals(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	ca := newTestCA(t, "ca")
	ca.issue(t, 7, cert, key)
	otherCert, otherKey := filepath.Join(dir, "other-cert.pem"), filepath.Join(dir, "other-key.pem")
	ca.issue(t, 8, otherCert, otherKey)
	garbage := filepath.Join(dir, "garbage.pem")
	writeTestFile(t, garbage, "hello\n")
	missing := filepath.Join(dir, "missing.pem")

	for _, tc := range []struct {
		name string
		env  []string
		want string
	}{
		{"cert without key", []string{"OCTOSTORE_TLS__CERT_FILE=" + cert},
			"octostore: config: tls.key_file: must be set when tls.cert_file is"},
		{"key without cert", []string{"OCTOSTORE_TLS__KEY_FILE=" + key},
			"octostore: config: tls.cert_file: must be set when tls.key_file is"},
		{"missing certificate", []string{"OCTOSTORE_TLS__CERT_FILE=" + missing, "OCTOSTORE_TLS__KEY_FILE=" + key},
			"octostore: tls.cert_file " + missing + ": file does not exist"},
		{"missing key", []string{"OCTOSTORE_TLS__CERT_FILE=" + cert, "OCTOSTORE_TLS__KEY_FILE=" + missing},
			"octostore: tls.key_file " + missing + ": file does not exist"},
		{"unreadable certificate", []string{"OCTOSTORE_TLS__CERT_FILE=" + dir, "OCTOSTORE_TLS__KEY_FILE=" + key},
			"octostore: tls.cert_file " + dir + ": is a directory"},
		{"not PEM", []string{"OCTOSTORE_TLS__CERT_FILE=" + garbage, "OCTOSTORE_TLS__KEY_FILE=" + key},
			"octostore: tls.cert_file " + garbage + ": no PEM certificate in the file"},
		{"key of another certificate", []string{"OCTOSTORE_TLS__CERT_FILE=" + cert, "OCTOSTORE_TLS__KEY_FILE=" + otherKey},
			"octostore: tls.key_file " + otherKey + ": does not match the certificate in tls.cert_file " + cert},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "octostore.db")
			r := runCLI(t, tc.env, "serve", "--addr", "127.0.0.1:0", "--db", db)
			line := wantOneLineFailure(t, r, tc.want)
			if !strings.HasPrefix(line, tc.want) {
				t.Errorf("error line %q does not start with %q", line, tc.want)
			}
			if strings.Contains(r.stderr, "first start") {
				t.Error("a refused start printed first-start tokens")
			}
		})
	}
}
