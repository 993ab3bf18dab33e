package ports

import "time"

// Clock tells the server's time. Expiry is always decided by the server's
// clock, never a client's. Implementations should return times carrying a
// monotonic reading (as time.Now does) so that in-process deadlines do not
// move when the wall clock is stepped.
type Clock interface {
	Now() time.Time
}
