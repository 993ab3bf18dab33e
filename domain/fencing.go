package domain

import (
	"fmt"
	"strconv"
	"strings"
)

// FencingToken orders the grants of all locks of one database. Every
// successful acquisition gets a token strictly greater than any token handed
// out before, also across restarts, so a resource that remembers the highest
// token it has seen can refuse a stale holder.
type FencingToken uint64

// Next returns the token that follows t.
func (t FencingToken) Next() FencingToken { return t + 1 }

// Less reports whether t was issued before o.
func (t FencingToken) Less(o FencingToken) bool { return t < o }

// LeaseID identifies one grant of a lock to one holder. It embeds the grant's
// fencing token, so a server that no longer has the lock can still tell an
// ended lease of its own ("lease_not_current") from an id it never issued.
type LeaseID string

// NewLeaseID builds the lease id of the grant with token t; nonce makes it
// unguessable.
func NewLeaseID(t FencingToken, nonce string) LeaseID {
	return LeaseID(fmt.Sprintf("L%d-%s", uint64(t), nonce))
}

// Token returns the fencing token embedded in id, and false when id does not
// have the shape of a lease id this service issues.
func (id LeaseID) Token() (FencingToken, bool) {
	s, ok := strings.CutPrefix(string(id), "L")
	if !ok {
		return 0, false
	}
	digits, nonce, ok := strings.Cut(s, "-")
	if !ok || nonce == "" || len(nonce) > 64 {
		return 0, false
	}
	n, err := strconv.ParseUint(digits, 10, 64)
	if err != nil || n == 0 {
		return 0, false
	}
	return FencingToken(n), true
}
