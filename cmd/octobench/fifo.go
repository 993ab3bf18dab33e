package main

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// defaultFIFOSlack is how much earlier one acquire must have been sent than
// another for the FIFO check to require that it be granted first.
const defaultFIFOSlack = 10 * time.Millisecond

// fifoReport is what checkFIFO found.
type fifoReport struct {
	slack          time.Duration
	grants         int   // grants looked at
	waited         int   // of those, the ones that waited (and so were checked)
	pairs          int64 // pairs of waiting grants sent more than slack apart
	violationCount int64 // of those pairs, the ones granted out of order
	violations     []string
}

func (f fifoReport) ok() bool { return f.violationCount == 0 }

func (f fifoReport) summary() string {
	var b strings.Builder
	if f.ok() {
		b.WriteString("ok")
	} else {
		fmt.Fprintf(&b, "FAILED, %d pair(s) out of order", f.violationCount)
	}
	fmt.Fprintf(&b, " (%d of %d grants waited; %d pairs of waiting acquires on one name sent more than %s apart: the earlier one must be granted first)",
		f.waited, f.grants, f.pairs, f.slack)
	for _, v := range f.violations {
		b.WriteString("\n  - " + v)
	}
	return b.String()
}

// checkFIFO checks first-come-first-served hand-off from client-side
// observations. When a request was sent is only approximately its place in
// the server's queue, so it checks a weaker property that a FIFO server
// must nevertheless satisfy:
//
//	for any two acquires A and B of the same name that both waited, if A
//	was sent more than slack before B, A was granted before B (A's token is
//	smaller).
//
// "A was sent more than slack before B" is judged conservatively: A's
// request had been written to its connection (sentAt, an upper bound) more
// than slack before B's client even began its request (called, a lower
// bound). So delays inside the client do not count; the slack absorbs
// those between the write and the server queueing the request: a request
// written slack earlier is taken to be queued earlier.
//
// An acquire waited if its request had been written before the previous
// grant of its name (in acknowledgement order) was released. The lock was
// then busy when the request arrived — held by that predecessor, or about
// to be: granting the newcomer at once would have put it before its
// predecessor — so the server queued it. (As with the slack, this takes
// the request to arrive about when it was written.) The first grant of a
// name never waited.
//
// Tokens only need to increase per name in grant order (checkHolds or
// checkOrder verify that). Holds with an empty lease are skipped.
func checkFIFO(holds []hold, slack time.Duration) fifoReport {
	rep := fifoReport{slack: slack}
	byName := map[string][]hold{}
	for _, h := range holds {
		if h.lease == "" {
			continue
		}
		byName[h.name] = append(byName[h.name], h)
		rep.grants++
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		hs := byName[n]
		slices.SortStableFunc(hs, func(a, b hold) int { return cmp.Compare(a.acked, b.acked) })
		var waited []hold
		for i := 1; i < len(hs); i++ {
			if hs[i].sentAt() < hs[i-1].released {
				waited = append(waited, hs[i])
			}
		}
		rep.waited += len(waited)
		checkFIFOName(&rep, n, waited, int64(slack))
	}
	return rep
}

// checkFIFOName counts the pairs (A, B) of waited with A sent more than
// slack before B and A's token not below B's, in O(n log n): B by B in
// order of called, every A sent early enough goes into a Fenwick tree over
// the token ranks, which then counts the ones with a token at or above B's.
func checkFIFOName(rep *fifoReport, name string, waited []hold, slack int64) {
	if len(waited) < 2 {
		return
	}
	bySent := slices.Clone(waited)
	slices.SortStableFunc(bySent, func(a, b hold) int { return cmp.Compare(a.sentAt(), b.sentAt()) })
	byCalled := waited
	slices.SortStableFunc(byCalled, func(a, b hold) int { return cmp.Compare(a.called, b.called) })
	toks := make([]uint64, len(waited))
	for i, h := range waited {
		toks[i] = h.token
	}
	slices.Sort(toks)
	toks = slices.Compact(toks)
	rank := func(t uint64) int { // 1-based
		i, _ := slices.BinarySearch(toks, t)
		return i + 1
	}
	tree := make([]int64, len(toks)+1)
	add := func(i int) {
		for ; i < len(tree); i += i & -i {
			tree[i]++
		}
	}
	below := func(i int) int64 { // how many added have a rank < i
		var n int64
		for i--; i > 0; i -= i & -i {
			n += tree[i]
		}
		return n
	}
	var (
		j   int  // bySent[:j] are in the tree
		top hold // the one in the tree with the largest token
	)
	for _, b := range byCalled {
		// A.sentAt() >= A.called, so b itself never qualifies.
		for j < len(bySent) && bySent[j].sentAt() < b.called-slack {
			a := bySent[j]
			add(rank(a.token))
			if j == 0 || a.token > top.token {
				top = a
			}
			j++
		}
		rep.pairs += int64(j)
		if j == 0 {
			continue
		}
		if late := int64(j) - below(rank(b.token)); late > 0 {
			rep.violationCount += late
			if len(rep.violations) < maxViolations {
				rep.violations = append(rep.violations, fmt.Sprintf(
					"on %q: client %d began its acquire at %s and got token %d (acknowledged at %s) before %d waiter(s) sent more than %s earlier, e.g. client %d, whose acquire was written at %s (%s earlier) and got token %d (acknowledged at %s)",
					name, b.client, nsString(b.called), b.token, nsString(b.acked), late, time.Duration(slack),
					top.client, nsString(top.sentAt()), nsString(b.called-top.sentAt()), top.token, nsString(top.acked)))
			}
		}
	}
}
