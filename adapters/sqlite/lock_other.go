//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package sqlite

import (
	"errors"
	"os"
)

// errLockHeld is never returned where flock is missing.
var errLockHeld = errors.New("lock held")

// flock does nothing here: without flock, Lock excludes nobody.
func flock(*os.File) error { return nil }

// accessible leaves permission problems to SQLite's own errors here.
func accessible(string) error { return nil }
