package bootstrap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/fx"
)

// certPollInterval is how often the certificate files are checked for a
// change. A change is loaded once the files have stayed the same for one
// more interval, so that a certificate and key written one after the other
// are not loaded half-way (which would log a mismatch).
const certPollInterval = time.Second

// Certificates is the HTTPS certificate the API serves: loaded from
// tls.cert_file and tls.key_file at start-up and again, without a restart,
// on SIGHUP or when either file changes. New handshakes get the newest
// certificate that loaded; a reload that fails keeps the previous one.
type Certificates struct {
	certFile, keyFile string
	log               *slog.Logger
	current           atomic.Pointer[tls.Certificate]

	mu   sync.Mutex // serializes Reload, so an older load never wins
	stop chan struct{}
	done chan struct{}
}

// newCertificates returns nil when TLS is off. Its hook loads the
// certificate (a failure stops start-up with one line naming the file and
// the cause), then watches for SIGHUP and file changes until the app stops.
func newCertificates(lc fx.Lifecycle, cfg Config, log *slog.Logger) *Certificates {
	if !cfg.TLS.Enabled() {
		return nil
	}
	c := &Certificates{certFile: cfg.TLS.CertFile, keyFile: cfg.TLS.KeyFile, log: log.With("component", "tls")}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			cert, err := loadCertificate(c.certFile, c.keyFile)
			if err != nil {
				return err
			}
			c.current.Store(cert)
			c.logLoaded("tls certificate loaded", cert)
			c.watch()
			return nil
		},
		OnStop: func(context.Context) error {
			close(c.stop)
			<-c.done
			return nil
		},
	})
	return c
}

// tlsConfig returns the server's TLS configuration: TLS 1.2 at least, Go's
// defaults otherwise, and the current certificate at every handshake.
func (c *Certificates) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// Reload loads both files again. On success new handshakes present the new
// certificate; on failure it logs one error line, returns the error and
// the previous certificate keeps being served.
func (c *Certificates) Reload() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	cert, err := loadCertificate(c.certFile, c.keyFile)
	if err != nil {
		c.log.Error("tls certificate reload failed; still serving the previous certificate", "err", err)
		return err
	}
	c.current.Store(cert)
	c.logLoaded("tls certificate reloaded", cert)
	return nil
}

func (c *Certificates) logLoaded(msg string, cert *tls.Certificate) {
	c.log.Info(msg, "subject", cert.Leaf.Subject.String(), "serial", cert.Leaf.SerialNumber.String(),
		"not_after", cert.Leaf.NotAfter.UTC().Format(time.RFC3339), "cert_file", c.certFile)
}

// watch starts the goroutine that reloads on SIGHUP and on file changes;
// the OnStop hook ends it (and the SIGHUP subscription) and waits for it.
func (c *Certificates) watch() {
	c.stop, c.done = make(chan struct{}), make(chan struct{})
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer close(c.done)
		defer signal.Stop(hup)
		tick := time.NewTicker(certPollInterval)
		defer tick.Stop()
		loaded := c.stamp()
		seen := loaded
		for {
			select {
			case <-c.stop:
				return
			case <-hup:
				c.log.Info("SIGHUP: reloading the tls certificate")
				loaded = c.stamp()
				_ = c.Reload()
			case <-tick.C:
				now := c.stamp()
				if now != loaded && now == seen {
					loaded = now
					_ = c.Reload()
				}
				seen = now
			}
		}
	}()
}

// fileStamp identifies a version of the two files: a changed file changes
// its modification time or size. A missing file has the zero stamp.
type fileStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

func (c *Certificates) stamp() fileStamp {
	var s fileStamp
	if fi, err := os.Stat(c.certFile); err == nil {
		s.certMod, s.certSize = fi.ModTime(), fi.Size()
	}
	if fi, err := os.Stat(c.keyFile); err == nil {
		s.keyMod, s.keySize = fi.ModTime(), fi.Size()
	}
	return s
}

// loadCertificate reads and checks the pair. Its errors are start-up
// failures naming the setting and file at fault and the cause, on one line.
func loadCertificate(certFile, keyFile string) (*tls.Certificate, error) {
	certWhat, keyWhat := "tls.cert_file "+certFile, "tls.key_file "+keyFile
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, failed(certWhat, describeFileError(err))
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, failed(keyWhat, describeFileError(err))
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// crypto/tls does not say which file is at fault.
		msg := strings.TrimPrefix(err.Error(), "tls: ")
		switch {
		case strings.Contains(msg, "does not match"):
			return nil, failed(keyWhat, errors.New("does not match the certificate in "+certWhat))
		case strings.Contains(msg, "certificate input"):
			return nil, failed(certWhat, errors.New("no PEM certificate in the file"))
		case strings.Contains(msg, "key"):
			return nil, failed(keyWhat, errors.New(msg))
		}
		return nil, failed(certWhat, errors.New(msg))
	}
	if cert.Leaf == nil { // filled in by X509KeyPair since Go 1.23
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, failed(certWhat, err)
		}
	}
	return &cert, nil
}

// describeFileError says why a file could not be read, without the
// "open PATH:" prefix of the os package.
func describeFileError(err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("file does not exist")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied: this user cannot read the file")
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
