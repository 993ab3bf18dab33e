package main_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// writeSelfSigned writes a self-signed certificate for 127.0.0.1 with the
// given serial, and its key, as PEM to certFile and keyFile, and returns
// the certificate.
func writeSelfSigned(t *testing.T, serial int64, certFile, keyFile string) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "octostore test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, BasicConstraintsValid: true, IsCA: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// servedSerial returns the serial of the certificate a new handshake with
// addr presents, trusting only ca.
func servedSerial(t *testing.T, addr string, ca *x509.Certificate) int64 {
	t.Helper()
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	conn, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS handshake trusting serial %d: %v", ca.SerialNumber, err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestSIGHUPReloadsCertificate runs the real binary with TLS: it logs an
// https:// address, and on SIGHUP loads the certificate files again, so
// that new handshakes present the new certificate; the process keeps
// running.
func TestSIGHUPReloadsCertificate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeSelfSigned(t, 1, certFile, keyFile)
	s := startServer(t, "--db", filepath.Join(dir, "octostore.db"), "--tls.cert-file", certFile, "--tls.key-file", keyFile)
	addr, ok := strings.CutPrefix(s.base, "https://")
	if !ok {
		t.Fatalf("listening addr = %q, want https://…", s.base)
	}
	s.await(t, "octostore started") // the SIGHUP handler is installed before this line
	if got := servedSerial(t, addr, first); got != 1 {
		t.Fatalf("served serial %d, want 1", got)
	}

	second := writeSelfSigned(t, 2, certFile, keyFile)
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	s.await(t, "SIGHUP: reloading the tls certificate")
	// Reloads run one at a time on one goroutine: the next one logged is
	// the SIGHUP's.
	if rec := s.await(t, "tls certificate reloaded"); rec["serial"] != "2" {
		t.Fatalf("reloaded serial %v, want 2", rec["serial"])
	}
	if got := servedSerial(t, addr, second); got != 2 {
		t.Fatalf("after SIGHUP the server presents serial %d, want 2", got)
	}
}
