package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// Violation is one broken promise found in a history.
type Violation struct {
	Check string // durability, fencing or linearizability
	Msg   string
}

func (v Violation) String() string { return v.Check + ": " + v.Msg }

// The checks a violation can come from.
const (
	CheckDurability = "durability"
	CheckFencing    = "fencing"
	CheckLinear     = "linearizability"
)

// maxReported bounds the violations reported per check; the rest are
// counted.
const maxReported = 20

// Report is the outcome of a run and its checks.
type Report struct {
	Seed      uint64
	Epochs    int // server instances; kill cycles = Epochs-1
	Ops       int
	Acked     int // 2xx answers
	Failed    int // definite refusals (409, 404, 503)
	Unknown   int // no answer, or an undocumented one: may have happened
	Refused   int // the connection could not be opened: did not happen
	Anomalies []string
	Grants    int // distinct grants (fencing tokens) seen
	MaxToken  uint64

	Porcupine     map[string]string // mode -> Ok, Illegal, Unknown (timed out) or a skip reason
	PorcupineTime time.Duration
	CheckTime     time.Duration
	RunTime       time.Duration

	Violations []Violation
	Suppressed map[string]int // violations beyond maxReported, per check
}

// Inconclusive reports whether a linearizability check timed out.
func (r *Report) Inconclusive() bool {
	for _, res := range r.Porcupine {
		if strings.HasPrefix(res, "Unknown") {
			return true
		}
	}
	return false
}

// OK reports whether the run passed: no violation, no answer the API does
// not document (anomaly), and no linearizability check that timed out.
func (r *Report) OK() bool {
	return len(r.Violations) == 0 && len(r.Anomalies) == 0 && !r.Inconclusive()
}

// Has reports whether some violation of check mentions substr.
func (r *Report) Has(check, substr string) bool {
	for _, v := range r.Violations {
		if v.Check == check && strings.Contains(v.Msg, substr) {
			return true
		}
	}
	return false
}

func (r *Report) add(check, format string, args ...any) {
	n := 0
	for _, v := range r.Violations {
		if v.Check == check {
			n++
		}
	}
	if n >= maxReported {
		if r.Suppressed == nil {
			r.Suppressed = map[string]int{}
		}
		r.Suppressed[check]++
		return
	}
	r.Violations = append(r.Violations, Violation{Check: check, Msg: fmt.Sprintf(format, args...)})
}

// CheckOptions tunes Check.
type CheckOptions struct {
	Porcupine string        // epochs, whole or auto; see Config
	Timeout   time.Duration // for the linearizability search
	// FullTimeout bounds the search of one epoch's full history before it
	// is checked without refusals and reads; 0 for no fallback.
	FullTimeout time.Duration
	Dir         string // where to write visualizations of failures; "" for none
}

// Check runs every check on h.
func Check(h *History, opts CheckOptions) *Report {
	began := time.Now()
	r := &Report{Epochs: h.Epochs, Ops: len(h.Ops)}
	for _, o := range h.Ops {
		switch o.Outcome {
		case Ok:
			r.Acked++
		case Failed:
			r.Failed++
		case Unknown:
			r.Unknown++
			if strings.HasPrefix(o.Err, "unexpected") || strings.HasPrefix(o.Err, "bad 200") {
				r.Anomalies = append(r.Anomalies, o.String())
			}
		case Refused:
			r.Refused++
		}
	}
	f := newFacts(h)
	checkFencing(h, f, r)
	checkDurability(h, f, r)
	checkLinearizable(h, f, opts, r)
	r.CheckTime = time.Since(began)
	return r
}

// facts indexes what the history acknowledges.
type facts struct {
	leaseToken map[string]uint64 // lease id -> token, from acquire and renew answers
	leaseName  map[string]string // lease id -> lock name
	tokenLease map[uint64]string
	restart    map[epochName]*Op // the read of each lock right after each start
}

// epochName identifies one lock in one epoch.
type epochName struct {
	epoch int
	name  string
}

func newFacts(h *History) *facts {
	f := &facts{leaseToken: map[string]uint64{}, leaseName: map[string]string{}, tokenLease: map[uint64]string{}, restart: map[epochName]*Op{}}
	for _, o := range h.Ops {
		if o.Acked() && (o.Kind == Acquire || o.Kind == Renew) {
			if _, seen := f.leaseToken[o.OutLease]; !seen {
				f.leaseToken[o.OutLease], f.leaseName[o.OutLease] = o.Token, o.Name
			}
			if _, seen := f.tokenLease[o.Token]; !seen {
				f.tokenLease[o.Token] = o.OutLease
			}
		}
		if o.Restart && o.Acked() {
			f.restart[epochName{o.Epoch, o.Name}] = o
		}
	}
	return f
}

// tokenOf is the token carried by the lease an op sent, 0 if unknown.
func (f *facts) tokenOf(o *Op) uint64 {
	if t, ok := f.leaseToken[o.Lease]; ok {
		return t
	}
	return o.LeaseToken
}

// checkDurability compares, for every restart, the state read right after
// it with what the clients had been told before the kill: an acknowledged
// grant whose lock was not released must still be held with its token and
// holder and at least its acknowledged expiry, an acknowledged release must
// not be undone, and nothing may appear that no request could have caused.
// Requests whose answer was lost may or may not have taken effect.
func checkDurability(h *History, f *facts, r *Report) {
	released := map[uint64]*Op{} // token -> acknowledged release, up to the current epoch
	byEpoch := map[epochName][]*Op{}
	releases := map[int][]*Op{} // epoch -> acknowledged releases
	for _, o := range h.Ops {
		if !o.Restart {
			k := epochName{o.Epoch, o.Name}
			byEpoch[k] = append(byEpoch[k], o)
		}
		if o.Kind == Release && o.Acked() {
			releases[o.Epoch] = append(releases[o.Epoch], o)
		}
	}
	for e := 0; e+1 < h.Epochs; e++ {
		for _, o := range releases[e] {
			if t := f.tokenOf(o); t != 0 {
				released[t] = o
			}
		}
		for _, name := range h.Names {
			init, final := f.restart[epochName{e, name}], f.restart[epochName{e + 1, name}]
			if init == nil || final == nil {
				continue
			}
			checkRestart(r, e, name, init, final, byEpoch[epochName{e, name}], released, f)
		}
	}
}

func checkRestart(r *Report, e int, name string, init, final *Op, ops []*Op, released map[uint64]*Op, f *facts) {
	type grant struct {
		holder  string
		by      *Op
		expires time.Time
		expOp   *Op
	}
	known := map[uint64]*grant{}
	note := func(token uint64, holder string, o *Op) {
		g := known[token]
		if g == nil {
			g = &grant{holder: holder, by: o}
			known[token] = g
		}
		if o.Expires.After(g.expires) {
			g.expires, g.expOp = o.Expires, o
		}
	}
	if init.Held {
		note(init.Token, init.OutHold, init)
	}
	maybeReleased := map[uint64]bool{}
	maybeAcquired := map[string]bool{}
	for _, o := range ops {
		switch {
		case o.Acked() && (o.Kind == Acquire || o.Kind == Renew):
			note(o.Token, o.Holder, o)
		case o.Acked() && o.Kind == Get && o.Held:
			note(o.Token, o.OutHold, o)
		case o.Outcome == Unknown && o.Kind == Release:
			if t := f.tokenOf(o); t != 0 {
				maybeReleased[t] = true
			}
		case o.Outcome == Unknown && o.Kind == Acquire:
			maybeAcquired[o.Holder] = true
		}
	}
	var tmax uint64
	for t := range known {
		tmax = max(tmax, t)
	}
	where := fmt.Sprintf("%s after restart %d", name, e+1)
	if final.Held {
		if rel := released[final.Token]; rel != nil {
			r.add(CheckDurability, "%s: acknowledged release undone: the lock is held again with token %d (%s), released by %s", where, final.Token, final, rel)
		}
	}
	if tmax != 0 && released[tmax] == nil {
		g := known[tmax]
		switch {
		case !final.Held && !maybeReleased[tmax]:
			r.add(CheckDurability, "%s: acknowledged grant lost: token %d of %s (%s) is free after the restart (%s)", where, tmax, g.holder, g.by, final)
		case final.Held && final.Token > tmax && !maybeReleased[tmax]:
			r.add(CheckDurability, "%s: acknowledged grant lost: token %d of %s (%s) was never released, yet %s", where, tmax, g.holder, g.by, final)
		}
	}
	if !final.Held {
		return
	}
	g := known[final.Token]
	switch {
	case final.Token < tmax:
		r.add(CheckDurability, "%s: the lock went back in time: %s, but token %d had been acknowledged (%s)", where, final, tmax, known[tmax].by)
	case g != nil && g.holder != final.OutHold:
		r.add(CheckDurability, "%s: token %d changed holder from %s (%s) to %s", where, final.Token, g.holder, g.by, final.OutHold)
	case g == nil && !maybeAcquired[final.OutHold]:
		r.add(CheckDurability, "%s: a grant appeared that no request of this epoch could have made: %s", where, final)
	case g != nil && final.Expires.Before(g.expires.Add(-time.Millisecond)):
		r.add(CheckDurability, "%s: acknowledged renewal lost: expiry %s after the restart, but %s had been acknowledged (%s)",
			where, final.Expires.Format(time.RFC3339Nano), g.expires.Format(time.RFC3339Nano), g.expOp)
	}
}

// grantInfo is one grant (one fencing token) as the answers reveal it.
type grantInfo struct {
	token        uint64
	name, holder string
	lease        string
	first        *Op   // the answer that revealed it first
	lower        int64 // the grant was made after this time
}

// checkFencing checks that no token was issued for two different grants and
// that tokens grow with real time: a grant acknowledged before another grant
// could have been made has the smaller token, across all names and restarts.
func checkFencing(h *History, f *facts, r *Report) {
	grants := map[uint64]*grantInfo{}
	leases := map[string]*Op{}
	twice := map[uint64]bool{} // tokens already reported as issued twice
	for _, o := range h.Ops {
		if !o.Acked() {
			continue
		}
		var holder, lease string
		switch {
		case o.Kind == Acquire || o.Kind == Renew:
			holder, lease = o.Holder, o.OutLease
			if prev := leases[lease]; prev != nil && prev.Token != o.Token && !twice[prev.Token] {
				twice[prev.Token] = true
				r.add(CheckFencing, "lease %s came with two tokens: %s and %s", lease, prev, o)
			} else if prev == nil {
				leases[lease] = o
			}
		case o.Kind == Get && o.Held:
			holder = o.OutHold
		default:
			continue
		}
		g := grants[o.Token]
		if g == nil {
			grants[o.Token] = &grantInfo{token: o.Token, name: o.Name, holder: holder, lease: lease, first: o}
			continue
		}
		if g.name != o.Name || g.holder != holder || (g.lease != "" && lease != "" && g.lease != lease) {
			if twice[o.Token] {
				continue
			}
			twice[o.Token] = true
			r.add(CheckFencing, "token %d issued twice: to %s on %s (%s) and to %s on %s (%s)", o.Token, g.holder, g.name, g.first, holder, o.Name, o)
			continue
		}
		if g.lease == "" {
			g.lease = lease
		}
		if o.Return < g.first.Return {
			g.first = o
		}
	}
	r.Grants = len(grants)
	for t := range grants {
		r.MaxToken = max(r.MaxToken, t)
	}

	// A grant was made after its creating acquire was called (the acquire
	// that returned it, or one by the same holder whose answer was lost),
	// and after every answer on its lock that returned before the grant was
	// first revealed, since those saw another state.
	type seen struct {
		ret, call int64
	}
	revealing := map[string][]seen{}  // name -> answers that show the lock's state, by return
	heldOut := map[[2]string][]seen{} // (name, holder) -> lock_held answers to that holder
	maybe := map[[2]string][]int64{}  // (name, holder) -> calls of acquires whose answer was lost
	acquiredAt := map[uint64]int64{}  // token -> earliest call of an acquire that returned it
	for _, o := range h.Ops {
		switch {
		case o.Acked():
			revealing[o.Name] = append(revealing[o.Name], seen{o.Return, o.Call})
			if o.Kind == Acquire {
				if c, ok := acquiredAt[o.Token]; !ok || o.Call < c {
					acquiredAt[o.Token] = o.Call
				}
			}
		case o.Outcome == Failed && o.Code == "lock_held":
			k := [2]string{o.Name, o.Holder}
			heldOut[k] = append(heldOut[k], seen{o.Return, o.Call})
		case o.Outcome == Unknown && o.Kind == Acquire:
			k := [2]string{o.Name, o.Holder}
			maybe[k] = append(maybe[k], o.Call)
		}
	}
	prefixMax := func(s []seen) []seen { // sorted by return; call becomes the running max
		sort.Slice(s, func(i, j int) bool { return s[i].ret < s[j].ret })
		for i := 1; i < len(s); i++ {
			s[i].call = max(s[i].call, s[i-1].call)
		}
		return s
	}
	for k, s := range revealing {
		revealing[k] = prefixMax(s)
	}
	for k, s := range heldOut {
		heldOut[k] = prefixMax(s)
	}
	barrier := func(s []seen, before int64) int64 { // max call of answers returned before 'before'
		i := sort.Search(len(s), func(i int) bool { return s[i].ret >= before })
		if i == 0 {
			return -1
		}
		return s[i-1].call
	}
	var list []*grantInfo
	for _, g := range grants {
		cand := int64(Never)
		if c, ok := acquiredAt[g.token]; ok && c <= g.first.Return {
			cand = c
		}
		for _, c := range maybe[[2]string{g.name, g.holder}] {
			if c <= g.first.Return {
				cand = min(cand, c)
			}
		}
		if cand == Never {
			r.add(CheckFencing, "token %d of %s on %s has no acquire that could have made it (first seen in %s)", g.token, g.holder, g.name, g.first)
			continue
		}
		g.lower = max(cand, barrier(revealing[g.name], g.first.Return), barrier(heldOut[[2]string{g.name, g.holder}], g.first.Return))
		list = append(list, g)
	}
	byReveal := append([]*grantInfo(nil), list...)
	sort.Slice(byReveal, func(i, j int) bool { return byReveal[i].first.Return < byReveal[j].first.Return })
	sort.Slice(list, func(i, j int) bool { return list[i].lower < list[j].lower })
	var top *grantInfo
	i := 0
	for _, b := range list {
		for ; i < len(byReveal) && byReveal[i].first.Return < b.lower; i++ {
			if top == nil || byReveal[i].token > top.token {
				top = byReveal[i]
			}
		}
		if top != nil && top.token >= b.token {
			r.add(CheckFencing, "token order: token %d (%s on %s, %s) was acknowledged before the grant of token %d (%s on %s, %s) could have been made, yet is not smaller",
				top.token, top.holder, top.name, top.first, b.token, b.holder, b.name, b.first)
		}
	}
}

// Summary writes the human-readable summary of r.
func (r *Report) Summary(w io.Writer) {
	fmt.Fprintf(w, "octocrash: seed %d, %d kill cycles (%d server starts), run %s, checks %s\n",
		r.Seed, max(r.Epochs-1, 0), r.Epochs, r.RunTime.Round(time.Millisecond), r.CheckTime.Round(time.Millisecond))
	fmt.Fprintf(w, "operations: %d (acknowledged %d, failed %d, unknown %d, refused %d); anomalies %d\n",
		r.Ops, r.Acked, r.Failed, r.Unknown, r.Refused, len(r.Anomalies))
	fmt.Fprintf(w, "grants: %d, max fencing token %d\n", r.Grants, r.MaxToken)
	modes := make([]string, 0, len(r.Porcupine))
	for m := range r.Porcupine {
		modes = append(modes, m)
	}
	sort.Strings(modes)
	for _, m := range modes {
		fmt.Fprintf(w, "porcupine (%s): %s\n", m, r.Porcupine[m])
	}
	fmt.Fprintf(w, "porcupine time: %s\n", r.PorcupineTime.Round(time.Millisecond))
	for i, a := range r.Anomalies {
		if i == 10 {
			fmt.Fprintf(w, "  … %d more anomalies\n", len(r.Anomalies)-i)
			break
		}
		fmt.Fprintf(w, "anomaly: %s\n", a)
	}
	if len(r.Violations) == 0 {
		fmt.Fprintln(w, "violations: none")
		return
	}
	fmt.Fprintf(w, "VIOLATIONS: %d\n", len(r.Violations))
	for _, v := range r.Violations {
		fmt.Fprintf(w, "  %s\n", v)
	}
	for c, n := range r.Suppressed {
		fmt.Fprintf(w, "  … and %d more %s violations\n", n, c)
	}
}
