package sqlite

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// FileLock is an exclusive advisory lock on a database, held by one process
// at a time for as long as it uses the database: a server for its whole
// life, or an offline command (migrate, restore, token create). It is a
// flock on a sibling file (the database path plus ".lock"), not on the
// database itself, so that it never interferes with SQLite's own locks and
// still holds when restore renames a new database file into place. The
// kernel drops it when the process dies, so a crash leaves nothing to clean
// up. The lock file itself is left in place.
type FileLock struct {
	f    *os.File
	path string
}

// InUseError is the error of Lock when another process holds the lock.
type InUseError struct {
	// LockFile is the path of the held lock file.
	LockFile string
	// PID is the holder's process id as it recorded it, 0 if unknown.
	PID int
}

func (e *InUseError) Error() string {
	who := "another octostore process"
	if e.PID > 0 {
		who += fmt.Sprintf(" (pid %d)", e.PID)
	}
	return who + " serves it (it holds " + e.LockFile + ")"
}

// LockPath returns the lock file of the database at path.
func LockPath(path string) string { return path + ".lock" }

// Lock takes the exclusive lock of the database at path without waiting.
// Returns an *InUseError if another process holds it, and an error naming
// the cause if the directory is missing or the lock file cannot be created.
// On systems without flock it returns a lock that excludes nobody.
func Lock(path string) (*FileLock, error) {
	if err := checkDir(path); err != nil {
		return nil, err
	}
	lp := LockPath(path)
	f, err := os.OpenFile(lp, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", describePathError(err))
	}
	if err := flock(f); err != nil {
		f.Close()
		if errors.Is(err, errLockHeld) {
			return nil, &InUseError{LockFile: lp, PID: readPID(lp)}
		}
		return nil, fmt.Errorf("lock %s: %w", lp, err)
	}
	// Record the holder for the message of the next process that tries.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &FileLock{f: f, path: lp}, nil
}

// Release drops the lock. Calling it again, or on nil, does nothing.
func (l *FileLock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	if err != nil {
		return fmt.Errorf("release %s: %w", l.path, err)
	}
	return nil
}

// readPID returns the process id recorded in the lock file, or 0.
func readPID(lockFile string) int {
	b, err := os.ReadFile(lockFile)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
