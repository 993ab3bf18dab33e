//go:build unix

package httpapi_test

import "syscall"

// receiveBuffer returns a net.Dialer Control that sets SO_RCVBUF to size
// before the connection is made, so that the window it advertises stays
// small; nil for size 0.
func receiveBuffer(size int) func(network, address string, c syscall.RawConn) error {
	if size <= 0 {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var err error
		if cerr := c.Control(func(fd uintptr) {
			err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, size)
		}); cerr != nil {
			return cerr
		}
		return err
	}
}
