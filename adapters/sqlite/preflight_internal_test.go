package sqlite

import (
	"io/fs"
	"syscall"
	"testing"
)

// TestNoAccessWording checks the permission messages without needing a
// file that the test user (often root) cannot write.
func TestNoAccessWording(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{&fs.PathError{Op: "access", Path: "/x/y.db", Err: syscall.EACCES}, "permission denied: this user cannot read and write the file"},
		{syscall.EPERM, "permission denied: this user cannot read and write the file"},
		{syscall.EROFS, "this user cannot read and write the file: read-only file system"},
	} {
		if got := noAccess("this user cannot read and write the file", tc.err).Error(); got != tc.want {
			t.Errorf("noAccess(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	if got := describePathError(&fs.PathError{Op: "open", Path: "/x/y.db.lock", Err: syscall.EACCES}).Error(); got != "permission denied on /x/y.db.lock" {
		t.Errorf("describePathError = %q", got)
	}
}
