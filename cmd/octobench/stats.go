package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
)

// op is one kind of request a workload sends.
type op int

const (
	opAcquire op = iota
	opRelease
	opStatus
	numOps
)

func (o op) String() string {
	return [...]string{"acquire", "release", "status"}[o]
}

// latencies holds every measured latency of one operation type. Recording
// each sample and sorting once is exact and cheap at these sizes (a few
// million samples at most), so no histogram is needed.
type latencies struct {
	samples []time.Duration
	sorted  bool
}

func (l *latencies) add(d time.Duration) {
	l.samples = append(l.samples, d)
	l.sorted = false
}

func (l *latencies) merge(o *latencies) {
	l.samples = append(l.samples, o.samples...)
	l.sorted = false
}

func (l *latencies) count() int { return len(l.samples) }

// percentile returns the nearest-rank p-th percentile (0 < p <= 100): the
// smallest sample with at least p % of the samples at or below it. It
// returns 0 when there are no samples.
func (l *latencies) percentile(p float64) time.Duration {
	if len(l.samples) == 0 {
		return 0
	}
	if !l.sorted {
		slices.Sort(l.samples)
		l.sorted = true
	}
	return l.samples[rankIndex(p, len(l.samples))]
}

// rankIndex is the 0-based index of the nearest-rank p-th percentile among n
// sorted samples.
func rankIndex(p float64, n int) int {
	rank := int(math.Ceil(p / 100 * float64(n)))
	return min(max(rank, 1), n) - 1
}

func (l *latencies) max() time.Duration { return l.percentile(100) }

// opStats is the merged outcome of one operation type over a run.
type opStats struct {
	lat    latencies
	errors int64
}

// result is the outcome of one run of a workload against a target.
type result struct {
	target, workload string
	clients          int
	names            int           // contended, blocking: the shared lock names
	window           time.Duration // the measured interval
	ops              [numOps]opStats
	cycles           int64 // acquire+release pairs completed inside the window
	grants           int64 // successful acquires over the whole run
	winGrants        int64 // successful acquires acknowledged inside the window
	conflicts        int64 // acquires answered lock_held over the whole run
	checked          bool  // whether the safety checker ran
	check            checkReport
	fifo             *fifoReport // blocking, when checked
	fifoEnforced     bool        // whether a FIFO violation fails the run (OctoStore's promise, not etcd's)
	firstErr         error
}

func (r *result) rate(n int64) float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(n) / r.window.Seconds()
}

func (r *result) cyclesPerSec() float64 { return r.rate(r.cycles) }

func (r *result) grantsPerSec() float64 { return r.rate(r.winGrants) }

// failed reports whether a checker found a violation.
func (r *result) failed() bool { return r.checkError() != nil }

// checkError says which checkers found violations, or is nil.
func (r *result) checkError() error {
	var errs []error
	if r.checked && !r.check.ok() {
		errs = append(errs, fmt.Errorf("safety check failed (%d violations)", r.check.violationCount))
	}
	if r.fifo != nil && !r.fifo.ok() && r.fifoEnforced {
		errs = append(errs, fmt.Errorf("FIFO check failed (%d pairs out of order)", r.fifo.violationCount))
	}
	return errors.Join(errs...)
}

func (r *result) totalErrors() int64 {
	var n int64
	for i := range r.ops {
		n += r.ops[i].errors
	}
	return n
}

// ms formats a latency in milliseconds.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 1 {
		return fmt.Sprintf("%.3f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// write prints the per-operation table and the run's summary lines.
func (r *result) write(w io.Writer) {
	if r.workload == "blocking" {
		fmt.Fprintf(w, "target=%s workload=%s clients=%d names=%d measured=%s\n\n", r.target, r.workload, r.clients, r.names, r.window)
	} else {
		fmt.Fprintf(w, "target=%s workload=%s clients=%d measured=%s\n\n", r.target, r.workload, r.clients, r.window)
	}
	fmt.Fprintln(w, "| op | count | ops/s | p50 ms | p90 ms | p99 ms | max ms | errors |")
	fmt.Fprintln(w, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for o := range numOps {
		s := &r.ops[o]
		if s.lat.count() == 0 && s.errors == 0 {
			continue
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %s | %s | %s | %s | %d |\n", o, s.lat.count(), r.rate(int64(s.lat.count())),
			ms(s.lat.percentile(50)), ms(s.lat.percentile(90)), ms(s.lat.percentile(99)), ms(s.lat.max()), s.errors)
	}
	fmt.Fprintln(w)
	if r.cycles > 0 {
		fmt.Fprintf(w, "cycles/s: %.0f (%d cycles)\n", r.cyclesPerSec(), r.cycles)
	}
	if r.workload == "blocking" {
		acq := &r.ops[opAcquire].lat
		fmt.Fprintf(w, "grants/s: %.0f (%d grants acknowledged in the window; %d in the whole run)\n", r.grantsPerSec(), r.winGrants, r.grants)
		fmt.Fprintf(w, "wait (acquire sent to grant received): p50 %s ms, p99 %s ms, max %s ms\n",
			ms(acq.percentile(50)), ms(acq.percentile(99)), ms(acq.max()))
	}
	if r.workload == "contended" || r.conflicts > 0 {
		fmt.Fprintf(w, "grants: %d, conflicts: %d (whole run, warm-up included)\n", r.grants, r.conflicts)
	}
	if r.checked {
		fmt.Fprintf(w, "safety check: %s\n", r.check.summary())
	} else if r.workload == "blocking" {
		fmt.Fprintln(w, "safety and FIFO checks: not run (the grants carry no tokens)")
	}
	if r.fifo != nil {
		note := ""
		if !r.fifoEnforced {
			note = " [for reference: does not fail the run]"
		}
		fmt.Fprintf(w, "FIFO check%s: %s\n", note, r.fifo.summary())
	}
	if r.firstErr != nil {
		fmt.Fprintf(w, "first error: %v\n", r.firstErr)
	}
}

// summary is a one-line account of the checker's findings.
func (c checkReport) summary() string {
	var b strings.Builder
	if c.ok() {
		b.WriteString("ok")
	} else {
		fmt.Fprintf(&b, "FAILED, %d violation(s)", c.violationCount)
	}
	if c.notUnique {
		fmt.Fprintf(&b, " (%d grants on %d names: holder intervals disjoint, tokens increasing per name and in real time)", c.grants, c.names)
	} else {
		fmt.Fprintf(&b, " (%d grants on %d names: holder intervals disjoint, tokens increasing per name and in real time, unique)", c.grants, c.names)
	}
	for _, v := range c.violations {
		b.WriteString("\n  - " + v)
	}
	return b.String()
}
