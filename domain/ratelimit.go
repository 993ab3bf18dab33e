package domain

import (
	"fmt"
	"math/bits"
	"time"
)

// Bounds of a rate limit that clients check against.
const (
	MaxRateLimit  = 1_000_000
	MaxRateWindow = 24 * time.Hour
)

// Rate-limit errors a client can cause.
var (
	ErrLimitNotFound = &Error{Kind: KindNotFound, Code: "limit_not_found",
		Msg: "no rate limit with this name in your org (or it was idle for a whole window and forgotten)"}
	ErrInvalidLimit  = Invalid("invalid_limit", fmt.Sprintf("limit must be from 1 to %d", MaxRateLimit))
	ErrInvalidWindow = Invalid("invalid_window", fmt.Sprintf("window_seconds must be from 1 to %d", int(MaxRateWindow/time.Second)))
	ErrInvalidCost   = Invalid("invalid_cost", "cost must be from 1 to the limit")
)

// ParseLimitName validates s as the name of a rate limit, with the
// lock-name rules. Returns a KindInvalid error coded invalid_name.
func ParseLimitName(s string) (LockName, error) {
	if err := checkPath(s, "limit name"); err != nil {
		return "", err
	}
	return LockName(s), nil
}

// RateLimit allows Limit units of work per Window.
type RateLimit struct {
	Limit  uint64
	Window time.Duration
}

// Check validates a rate limit and the cost of one check against it:
// limit 1..MaxRateLimit, a window of whole seconds from 1 s to
// MaxRateWindow, and cost 1..limit (a larger cost could never pass).
// Returns ErrInvalidLimit, ErrInvalidWindow or ErrInvalidCost.
func (l RateLimit) Check(cost uint64) error {
	switch {
	case l.Limit < 1 || l.Limit > MaxRateLimit:
		return ErrInvalidLimit
	case l.Window < time.Second || l.Window > MaxRateWindow || l.Window%time.Second != 0:
		return ErrInvalidWindow
	case cost < 1 || cost > l.Limit:
		return ErrInvalidCost
	}
	return nil
}

// RateState is the state of one rate-limited name under the generic cell
// rate algorithm (GCRA, the virtual-scheduling form of a leaky bucket):
// each unit of work moves the theoretical arrival time (TAT) on by
// Window/Limit, and work is allowed while the TAT stays within one Window
// of now. Limit units fit in any Window, and a unit becomes available
// again every Window/Limit. The TAT is kept exactly, as tat plus rem/Limit
// nanoseconds, so no rounding lets more than Limit through. The zero
// RateState is a name never used.
type RateState struct {
	Limit RateLimit
	tat   time.Time
	rem   uint64 // 0 <= rem < Limit.Limit
}

// RateDecision is the outcome of a check, or the state of a name now.
type RateDecision struct {
	Allowed bool
	// Remaining is how many units could be taken right now.
	Remaining uint64
	// ResetAt is when every unit is available again.
	ResetAt time.Time
	// RetryAfter is how long a refused check must wait to be allowed
	// (zero when allowed).
	RetryAfter time.Duration
}

// Idle reports whether s is back to full at now: forgetting it changes
// nothing a client could notice, except GET of its name.
func (s RateState) Idle(now time.Time) bool {
	return !s.tat.After(now) && (s.rem == 0 || s.tat.Before(now))
}

// Check decides a check of cost units against limit l at now and returns
// the new state. A limit other than the one s was kept under replaces it:
// the share of the old window that was in use carries over to the new
// window. The caller validates l and cost with RateLimit.Check.
func (s RateState) Check(l RateLimit, cost uint64, now time.Time) (RateState, RateDecision) {
	s = s.under(l, now)
	// The TAT after this check: tat + (rem + cost×Window)/Limit ns.
	hi, lo := bits.Mul64(cost, uint64(l.Window))
	lo, carry := bits.Add64(lo, s.rem, 0)
	q, r := bits.Div64(hi+carry, lo, l.Limit)
	next := RateState{Limit: l, tat: s.tat.Add(time.Duration(q)), rem: r}
	d := next.tat.Sub(now)
	if d < l.Window || d == l.Window && r == 0 {
		return next, next.decision(now, true)
	}
	out := s.decision(now, false)
	out.RetryAfter = d - l.Window
	if r > 0 {
		out.RetryAfter++ // round the fraction of a nanosecond up
	}
	return s, out
}

// Peek returns the state of s at now without taking anything.
func (s RateState) Peek(now time.Time) RateDecision {
	return s.under(s.Limit, now).decision(now, true)
}

// under returns s at now under limit l: a TAT in the past is now, and a
// new limit scales what is in use to its window.
func (s RateState) under(l RateLimit, now time.Time) RateState {
	if s.Idle(now) || s.tat.IsZero() {
		return RateState{Limit: l, tat: now}
	}
	if s.Limit != l {
		// In use: d of the old window; keep the same share of the new.
		d := uint64(s.tat.Sub(now))
		hi, lo := bits.Mul64(d, uint64(l.Window))
		q, _ := bits.Div64(hi, lo, uint64(s.Limit.Window))
		return RateState{Limit: l, tat: now.Add(time.Duration(q))}
	}
	return s
}

// decision reports the state s (already at now).
func (s RateState) decision(now time.Time, allowed bool) RateDecision {
	w := s.Limit.Window
	d := s.tat.Sub(now) // 0 <= d <= w
	// Remaining = floor(((w-d)×Limit - rem) / w).
	hi, lo := bits.Mul64(uint64(w-d), s.Limit.Limit)
	lo, borrow := bits.Sub64(lo, s.rem, 0)
	hi -= borrow
	q, _ := bits.Div64(hi, lo, uint64(w))
	reset := s.tat
	if s.rem > 0 {
		reset = reset.Add(1)
	}
	return RateDecision{Allowed: allowed, Remaining: q, ResetAt: reset}
}
