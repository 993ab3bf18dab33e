// Package clock is the real ports.Clock.
package clock

import (
	"time"

	"github.com/octostore/octostore/ports"
)

// System reads the machine clock; its times carry a monotonic reading.
type System struct{}

var _ ports.Clock = System{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }
