package bootstrap

import (
	"errors"
	"io/fs"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"go.uber.org/dig"
)

// startupError is a start-up failure worded for the operator: what failed
// (the database, the listen address) and why. Serve reports its message
// alone; the dependency-injection chain fx wraps around it goes to the
// debug log only.
type startupError struct {
	what string
	err  error
}

func (e *startupError) Error() string { return e.what + ": " + e.err.Error() }
func (e *startupError) Unwrap() error { return e.err }

// failed returns err as a start-up failure of what.
func failed(what string, err error) error { return &startupError{what: what, err: err} }

// explainStartup logs the full error of a failed start-up at debug level
// and returns the part an operator can act on, on one line: the
// startupError inside it, or else the first error not made by fx itself.
func explainStartup(log *slog.Logger, err error) error {
	log.Debug("start-up failed", "err", err)
	var se *startupError
	if errors.As(err, &se) {
		return oneLine(se)
	}
	return oneLine(dig.RootCause(err))
}

// lineError is an error whose message was joined onto one line.
type lineError struct {
	msg string
	err error
}

func (e *lineError) Error() string { return e.msg }
func (e *lineError) Unwrap() error { return e.err }

// oneLine returns err with the lines of its message joined by "; " (such
// as the problems Config.Validate reports together), keeping it matchable
// with errors.Is and errors.As.
func oneLine(err error) error {
	if err == nil || !strings.Contains(err.Error(), "\n") {
		return err
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	return &lineError{msg: strings.Join(lines, "; "), err: err}
}

// describeListenError says why an address could not be bound, without the
// "listen tcp …" wrapping of the net package.
func describeListenError(err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return errors.New("already in use by another process")
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return errors.New("no network interface of this machine has that address")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied (ports below 1024 need privileges)")
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return errors.New("cannot resolve host " + dns.Name)
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Err
	}
	return err
}
