package main

import (
	"strings"
	"testing"
	"time"
)

// fifoHistory is a correct history of one name under the default 5 ms
// slack. Times are in microseconds; every grant but the first waited (its
// request was written before the previous holder sent its release).
func fifoHistory() []hold {
	us := func(v float64) int64 { return int64(v * float64(time.Microsecond)) }
	h := func(client int, token uint64, called, sent, acked, released float64) hold {
		return hold{client: client, name: "a", lease: "L" + string(rune('0'+token)) + "-x", token: token,
			called: us(called), sent: us(sent), acked: us(acked), released: us(released)}
	}
	return []hold{
		h(0, 1, 0, 100, 1000, 1100), // granted at once
		h(1, 2, 500, 600, 10000, 10100),
		h(0, 3, 1200, 1300, 20000, 20100),
		h(2, 4, 8000, 8100, 30000, 30100),
		h(1, 5, 10200, 10300, 40000, 40100),
		h(3, 6, 21000, 21100, 50000, 50100),
		// Written 0.7 ms before client 3 began its acquire, yet granted
		// after it: within the slack, so not a violation.
		h(0, 8, 20200, 20300, 60000, 60100),
	}
}

func TestFIFOAcceptsCorrectHistory(t *testing.T) {
	hs := fifoHistory()
	if rep := checkHolds(hs); !rep.ok() {
		t.Fatalf("the history itself is unsafe: %v", rep.violations)
	}
	rep := checkFIFO(hs, 5*time.Millisecond)
	if !rep.ok() {
		t.Fatalf("correct history flagged: %s", rep.summary())
	}
	if rep.grants != 7 || rep.waited != 6 || rep.pairs == 0 {
		t.Errorf("grants %d, waited %d, pairs %d; want 7, 6 and some", rep.grants, rep.waited, rep.pairs)
	}
	// With no slack, client 0's acquire written 0.7 ms before client 3's
	// began counts as earlier, and the late grant is flagged.
	if rep := checkFIFO(hs, 0); rep.violationCount != 1 {
		t.Errorf("no slack: %s", rep.summary())
	}
}

func TestFIFOFlagsOvertaking(t *testing.T) {
	hs := fifoHistory()
	// Client 2 writes its acquire at 1.3 ms, client 0 begins its own at
	// 8 ms; both wait behind client 1, yet client 0 gets the lock first
	// (token 3) and client 2 only after (token 4).
	hs[2].called, hs[2].sent = hs[3].called, hs[3].sent
	hs[3].called, hs[3].sent = 1200*int64(time.Microsecond), 1300*int64(time.Microsecond)
	if rep := checkHolds(hs); !rep.ok() {
		t.Fatalf("the doctored history should still pass the safety check: %v", rep.violations)
	}
	rep := checkFIFO(hs, 5*time.Millisecond)
	if rep.ok() || rep.violationCount != 1 {
		t.Fatalf("want exactly one violation: %s", rep.summary())
	}
	if rep.waited != 6 {
		t.Errorf("waited %d, want 6", rep.waited)
	}
	want := `on "a": client 0 began its acquire at 8.000ms and got token 3 (acknowledged at 20.000ms) before 1 waiter(s) sent more than 5ms earlier, e.g. client 2, whose acquire was written at 1.300ms (6.700ms earlier) and got token 4`
	if len(rep.violations) != 1 || !strings.HasPrefix(rep.violations[0], want) {
		t.Errorf("violations %q, want one starting %q", rep.violations, want)
	}
}

func TestFIFOUsesWriteTimeOfTheEarlierAcquire(t *testing.T) {
	hs := fifoHistory()
	hs[2].called, hs[2].sent = hs[3].called, hs[3].sent
	// Client 2 began at 1.2 ms but its request was only written at
	// 4 ms, 4 ms before client 0 began: too close to call.
	hs[3].called, hs[3].sent = 1200*int64(time.Microsecond), 4000*int64(time.Microsecond)
	if rep := checkFIFO(hs, 5*time.Millisecond); !rep.ok() {
		t.Fatalf("flagged: %s", rep.summary())
	}
}

func TestFIFOSkipsGrantsThatDidNotWait(t *testing.T) {
	hs := fifoHistory()
	for i := range hs {
		// Every request written after the previous holder let go: none
		// waited, so no pair is checked however the tokens fall.
		hs[i].sent = hs[i].called
		if i > 0 {
			hs[i].called, hs[i].sent = hs[i-1].released+1, hs[i-1].released+1
		}
	}
	hs[1].token, hs[2].token = 3, 2
	if rep := checkFIFO(hs, 5*time.Millisecond); rep.waited != 0 || rep.pairs != 0 || !rep.ok() {
		t.Fatalf("%s", rep.summary())
	}
}

func TestFIFOCountsEveryOvertakenPair(t *testing.T) {
	ms := int64(time.Millisecond)
	// Granted at once at 1 ms, held until 3 ms.
	hs := []hold{{client: 0, name: "a", lease: "L1", token: 1, called: 0, sent: 1, acked: ms, released: 3 * ms}}
	// A waiter written at 0.5 ms, granted last (at 100 ms).
	hs = append(hs, hold{client: 9, name: "a", lease: "L99", token: 99, called: ms / 2, sent: ms / 2, acked: 100 * ms, released: 100 * ms})
	// Five waiters begun at 2, 12, 22, 32 and 42 ms, each before the
	// previous holder let go, granted in that order.
	for k := range 5 {
		at := int64(10*k+2) * ms
		hs = append(hs, hold{client: k + 1, name: "a", lease: "L", token: uint64(10 + k),
			called: at, sent: at + 1, acked: at + 3*ms, released: at + 13*ms})
	}
	rep := checkFIFO(hs, 5*time.Millisecond)
	if rep.waited != 6 {
		t.Errorf("waited %d, want 6", rep.waited)
	}
	// The one written at 0.5 ms was overtaken by those begun at 12, 22,
	// 32 and 42 ms; the one begun at 2 ms is too close to call.
	if rep.violationCount != 4 || len(rep.violations) != 4 {
		t.Fatalf("want 4 violations: %s", rep.summary())
	}
}
