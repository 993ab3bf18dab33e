package domain

import (
	"testing"
	"time"
)

// TestRateExactlyLimit: a fresh name allows exactly limit units at once,
// refuses the next with the wait until one unit is back, and allows it
// then; awkward ratios are exact too.
func TestRateExactlyLimit(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	for _, l := range []RateLimit{{3, 10 * time.Second}, {999_999, time.Second}, {1_000_000, 24 * time.Hour}, {7, 3 * time.Second}, {1, time.Second}} {
		var s RateState
		var d RateDecision
		for i := range l.Limit {
			s, d = s.Check(l, 1, t0)
			if !d.Allowed || d.Remaining != l.Limit-i-1 {
				t.Fatalf("%v: check %d: %+v", l, i+1, d)
			}
		}
		if !d.ResetAt.Equal(t0.Add(l.Window)) {
			t.Errorf("%v: reset_at %v, want %v", l, d.ResetAt, t0.Add(l.Window))
		}
		s, d = s.Check(l, 1, t0)
		// One unit comes back after window/limit, rounded up to the ns.
		per := (l.Window + time.Duration(l.Limit) - 1) / time.Duration(l.Limit)
		if d.Allowed || d.Remaining != 0 || d.RetryAfter != per {
			t.Fatalf("%v: the check after the limit: %+v, want refused with retry after %v", l, d, per)
		}
		if _, d2 := s.Check(l, 1, t0.Add(d.RetryAfter-1)); d2.Allowed {
			t.Errorf("%v: allowed 1 ns before retry_after", l)
		}
		if _, d2 := s.Check(l, 1, t0.Add(d.RetryAfter)); !d2.Allowed || d2.Remaining != 0 {
			t.Errorf("%v: at retry_after: %+v", l, d2)
		}
		if p := s.Peek(t0.Add(l.Window)); p.Remaining != l.Limit || !s.Idle(t0.Add(l.Window)) {
			t.Errorf("%v: after a window: %+v", l, p)
		}
	}
}

// TestRateSteady: the GCRA bound holds exactly: between any two allowed
// checks at a and b, at most limit + (b-a)×limit/window were allowed (a
// burst of limit, then one per window/limit). It is not a sliding window:
// right after a full burst, a window can see nearly twice the limit.
func TestRateSteady(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	l := RateLimit{Limit: 10, Window: time.Second}
	per := l.Window / time.Duration(l.Limit)
	var s RateState
	var d RateDecision
	allowed := []time.Time{}
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * 37 * time.Millisecond)
		if s, d = s.Check(l, 1, now); d.Allowed {
			allowed = append(allowed, now)
		}
	}
	for i := range allowed {
		for j := i; j < len(allowed); j++ {
			if n, bound := j-i+1, int(l.Limit)+int(allowed[j].Sub(allowed[i])/per); n > bound {
				t.Fatalf("%d checks allowed from %v to %v, above the GCRA bound %d", n, allowed[i], allowed[j], bound)
			}
		}
	}
	// 1000 checks 37 ms apart span 36.963 s: 10 at the start plus one
	// every 100 ms after.
	if len(allowed) < 375 || len(allowed) > 380 {
		t.Errorf("%d allowed", len(allowed))
	}
}

func TestRateCostAndChange(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	l := RateLimit{Limit: 100, Window: 10 * time.Second}
	s, d := RateState{}.Check(l, 60, t0)
	if !d.Allowed || d.Remaining != 40 {
		t.Fatalf("cost 60: %+v", d)
	}
	if _, d = s.Check(l, 41, t0); d.Allowed || d.Remaining != 40 || d.RetryAfter != 100*time.Millisecond {
		t.Fatalf("cost 41 of 40: %+v", d)
	}
	// The same share (60 %) of a new window stays in use.
	l2 := RateLimit{Limit: 10, Window: 20 * time.Second}
	s, d = s.Check(l2, 1, t0)
	if !d.Allowed || d.Remaining != 3 || s.Limit != l2 {
		t.Fatalf("after the change: %+v", d)
	}
	for _, c := range []struct {
		l    RateLimit
		cost uint64
		code string
	}{
		{RateLimit{0, time.Second}, 1, "invalid_limit"},
		{RateLimit{MaxRateLimit + 1, time.Second}, 1, "invalid_limit"},
		{RateLimit{1, 0}, 1, "invalid_window"},
		{RateLimit{1, MaxRateWindow + time.Second}, 1, "invalid_window"},
		{RateLimit{1, 1500 * time.Millisecond}, 1, "invalid_window"},
		{RateLimit{5, time.Second}, 0, "invalid_cost"},
		{RateLimit{5, time.Second}, 6, "invalid_cost"},
		{RateLimit{MaxRateLimit, MaxRateWindow}, MaxRateLimit, ""},
	} {
		if got := c.l.Check(c.cost); c.code == "" && got != nil || c.code != "" && CodeOf(got) != c.code {
			t.Errorf("%+v cost %d: %v, want %q", c.l, c.cost, got, c.code)
		}
	}
}
