package main

import (
	"cmp"
	"fmt"
	"slices"
)

// hold is one grant as a client saw it. Times are nanoseconds on the run's
// monotonic clock, so holds of different clients compare directly.
type hold struct {
	client   int
	name     string
	lease    string
	token    uint64
	called   int64 // the acquire request was about to be sent
	sent     int64 // blocking: the acquire request was written to the connection; 0 if unknown
	acked    int64 // the acquire response (the grant) was received
	released int64 // the release request was about to be sent
}

// sentAt is when the acquire went out: sent if known, else called.
func (h hold) sentAt() int64 {
	if h.sent != 0 {
		return h.sent
	}
	return h.called
}

// maxViolations bounds how many violations a report spells out.
const maxViolations = 10

// checkReport is what checkHolds found.
type checkReport struct {
	grants, names  int
	notUnique      bool // uniqueness across names was not checked (see checkOrder)
	violationCount int
	violations     []string // the first maxViolations, in the order found
}

func (c *checkReport) flag(format string, args ...any) {
	c.violationCount++
	if len(c.violations) < maxViolations {
		c.violations = append(c.violations, fmt.Sprintf(format, args...))
	}
}

func (c checkReport) ok() bool { return c.violationCount == 0 }

// checkHolds checks the grants of one run against what a lock service with
// fencing tokens promises, using only client-side observations:
//
//   - Mutual exclusion. A client holds a lock from the moment the grant
//     arrives until it sends the release, so per name the intervals
//     [acked, released] must not overlap. This is sound: the server grants
//     the next holder only after it processed the release, which was sent
//     after `released`, and the new holder learns of it only after that.
//   - Per-name token order. In acknowledgement order of one name, fencing
//     tokens strictly increase.
//   - Real-time token order. A grant acknowledged before another grant was
//     even requested has a smaller token (the counter is linearizable),
//     whatever the names.
//   - Uniqueness. No two leases share a token.
//
// Holds with an empty lease (targets without tokens) are skipped.
func checkHolds(holds []hold) checkReport { return checkHoldsWith(holds, true) }

// checkOrder is checkHolds for tokens that are ordered but not unique
// across names (etcd's lock revisions): everything but uniqueness.
func checkOrder(holds []hold) checkReport { return checkHoldsWith(holds, false) }

func checkHoldsWith(holds []hold, unique bool) checkReport {
	rep := checkReport{notUnique: !unique}
	byName := map[string][]hold{}
	var all []hold
	for _, h := range holds {
		if h.lease == "" {
			continue
		}
		byName[h.name] = append(byName[h.name], h)
		all = append(all, h)
	}
	rep.grants, rep.names = len(all), len(byName)

	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		hs := byName[n]
		slices.SortStableFunc(hs, func(a, b hold) int { return cmp.Compare(a.acked, b.acked) })
		var last, longest hold // the previous grant, and the one released last so far
		for i, h := range hs {
			if i > 0 {
				if h.acked < longest.released {
					rep.flag("overlap on %q: client %d got lease %s (token %d) at %s while client %d held lease %s (token %d) until %s",
						n, h.client, h.lease, h.token, nsString(h.acked), longest.client, longest.lease, longest.token, nsString(longest.released))
				}
				if h.token <= last.token {
					rep.flag("token order on %q: token %d (lease %s) acknowledged after token %d (lease %s)",
						n, h.token, h.lease, last.token, last.lease)
				}
			}
			if i == 0 || h.released > longest.released {
				longest = h
			}
			last = h
		}
	}

	owner := map[uint64]string{}
	for _, h := range all {
		if !unique {
			break
		}
		if prev, dup := owner[h.token]; dup && prev != h.lease {
			rep.flag("token %d issued twice: leases %s and %s", h.token, prev, h.lease)
			continue
		}
		owner[h.token] = h.lease
	}

	// Sweep grants in request order; before each, fold in every grant
	// acknowledged strictly earlier and require a larger token than all.
	byCall := slices.Clone(all)
	slices.SortFunc(byCall, func(a, b hold) int { return cmp.Compare(a.called, b.called) })
	byAck := slices.Clone(all)
	slices.SortFunc(byAck, func(a, b hold) int { return cmp.Compare(a.acked, b.acked) })
	var (
		j      int
		seen   bool
		maxTok uint64
		maxH   hold
	)
	for _, h := range byCall {
		for j < len(byAck) && byAck[j].acked < h.called {
			if !seen || byAck[j].token > maxTok {
				maxTok, maxH, seen = byAck[j].token, byAck[j], true
			}
			j++
		}
		if seen && h.token <= maxTok {
			rep.flag("real-time token order: lease %s on %q requested at %s got token %d, but token %d (lease %s on %q) was acknowledged at %s",
				h.lease, h.name, nsString(h.called), h.token, maxTok, maxH.lease, maxH.name, nsString(maxH.acked))
		}
	}
	return rep
}

// nsString formats a run-relative time in milliseconds.
func nsString(ns int64) string { return fmt.Sprintf("%.3fms", float64(ns)/1e6) }
