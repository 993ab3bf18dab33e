//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// errLockHeld is what flock reports when another process holds the lock.
var errLockHeld = syscall.EWOULDBLOCK

// flock takes an exclusive flock on f without waiting.
func flock(f *os.File) error {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// Access modes of access(2), the same on every Unix.
const (
	accessWrite   = 0x2
	accessRead    = 0x4
	accessExecute = 0x1
)

// accessible reports why this process could not read and write the file at
// path (or, for a directory, create files in it), without opening it.
func accessible(path string) error {
	mode := uint32(accessRead | accessWrite)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		mode = accessWrite | accessExecute
	}
	return syscall.Access(path, mode)
}
