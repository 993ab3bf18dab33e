package main

import (
	"strings"
	"testing"
	"time"
)

// story builds small hand-written histories: two clients c0 and c1, the
// observer (client 2), and a time base in which each op takes 10 units.
type story struct {
	h     *History
	now   int64
	epoch int
	base  time.Time
}

func newStory(names ...string) *story {
	if len(names) == 0 {
		names = []string{"n"}
	}
	return &story{h: &History{Clients: 2, Names: names}, base: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
}

func (s *story) add(o *Op) *Op {
	o.Epoch = s.epoch
	if o.Call == 0 {
		s.now += 10
		o.Call, o.Return = s.now, s.now+5
	}
	if o.Outcome == "" {
		o.Outcome = Ok
	}
	if o.Outcome == Unknown {
		o.Return = Never
	}
	s.h.Ops = append(s.h.Ops, o)
	return o
}

func holder(c int) string { return []string{"acme/c0", "acme/c1", "acme/observer"}[c] }

func (s *story) acquire(c int, name, lease string, token uint64) *Op {
	return s.add(&Op{Client: c, Holder: holder(c), Kind: Acquire, Name: name, OutLease: lease, Token: token,
		Expires: s.base.Add(time.Duration(s.now) * time.Millisecond)})
}

func (s *story) held(c int, name string) *Op {
	return s.add(&Op{Client: c, Holder: holder(c), Kind: Acquire, Name: name, Outcome: Failed, Status: 409, Code: "lock_held"})
}

func (s *story) renew(c int, name, lease string, token uint64) *Op {
	return s.add(&Op{Client: c, Holder: holder(c), Kind: Renew, Name: name, Lease: lease, LeaseToken: token, Issued: true,
		OutLease: lease, Token: token, Expires: s.base.Add(time.Duration(s.now) * time.Millisecond)})
}

func (s *story) release(c int, name, lease string, token uint64) *Op {
	return s.add(&Op{Client: c, Holder: holder(c), Kind: Release, Name: name, Lease: lease, LeaseToken: token, Issued: true})
}

// restart starts the next epoch and records the observer's read of name:
// holder c with token, or free when c < 0.
func (s *story) restart(reads map[string][2]int) {
	s.h.Epochs++
	s.epoch = s.h.Epochs - 1
	s.now += 100
	for _, name := range s.h.Names {
		o := &Op{Client: 2, Holder: holder(2), Kind: Get, Name: name, Restart: true}
		if r, ok := reads[name]; ok && r[0] >= 0 {
			o.Held, o.OutHold, o.Token = true, holder(r[0]), uint64(r[1])
			o.Expires = s.base.Add(time.Hour)
		}
		s.add(o)
	}
}

func (s *story) check(t *testing.T) *Report {
	t.Helper()
	s.h.sortOps()
	r := Check(s.h, CheckOptions{Porcupine: "both", Timeout: 10 * time.Second})
	for _, v := range r.Violations {
		t.Log(v)
	}
	return r
}

// valid is a correct history with a handover, a restart and a lost answer.
func valid() *story {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.held(1, "n")
	s.release(0, "n", "L1-a", 1)
	s.acquire(1, "n", "L2-b", 2)
	s.renew(1, "n", "L2-b", 2)
	s.add(&Op{Client: 0, Holder: holder(0), Kind: Acquire, Name: "n", Outcome: Unknown, Err: "connection reset"})
	s.restart(map[string][2]int{"n": {1, 2}})
	s.held(0, "n")
	s.restart(map[string][2]int{"n": {1, 2}})
	return s
}

func TestCheckAcceptsValidHistory(t *testing.T) {
	r := valid().check(t)
	if len(r.Violations) != 0 || r.Porcupine["epochs"] != "Ok" || r.Porcupine["whole"] != "Ok" {
		t.Fatalf("valid history rejected: %+v", r.Porcupine)
	}
	if r.MaxToken != 2 || r.Grants != 2 {
		t.Errorf("max token %d, grants %d; want 2, 2", r.MaxToken, r.Grants)
	}
}

// TestCheckAcceptsEitherOutcomeOfLostAnswers: a request without an answer
// may or may not have happened, and the checker must accept both.
func TestCheckAcceptsEitherOutcomeOfLostAnswers(t *testing.T) {
	for _, happened := range []bool{false, true} {
		s := newStory()
		s.restart(nil)
		s.acquire(0, "n", "L1-a", 1)
		s.add(&Op{Client: 0, Holder: holder(0), Kind: Release, Name: "n", Lease: "L1-a", LeaseToken: 1, Issued: true, Outcome: Unknown, Err: "EOF"})
		s.add(&Op{Client: 1, Holder: holder(1), Kind: Acquire, Name: "n", Outcome: Unknown, Err: "EOF"})
		if happened {
			// Both took effect before the kill: c1 holds it with token 2,
			// and tells us so when it asks again.
			s.restart(map[string][2]int{"n": {1, 2}})
			s.acquire(1, "n", "L2-x", 2)
			s.release(1, "n", "L2-x", 2)
		} else {
			s.restart(map[string][2]int{"n": {0, 1}})
			s.renew(0, "n", "L1-a", 1)
		}
		if happened {
			s.restart(map[string][2]int{"n": {-1, 0}})
		} else {
			s.restart(map[string][2]int{"n": {0, 1}})
		}
		if r := s.check(t); len(r.Violations) != 0 {
			t.Errorf("happened=%v: rejected", happened)
		}
	}
}

func TestCheckReportsDuplicateToken(t *testing.T) {
	s := newStory("n", "m")
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.acquire(1, "m", "L1-b", 1) // a second grant with the same token
	s.restart(map[string][2]int{"n": {0, 1}, "m": {1, 1}})
	r := s.check(t)
	if !r.Has(CheckFencing, "token 1 issued twice") {
		t.Error("duplicate token not reported")
	}
}

func TestCheckReportsTokenGoingBackAcrossRestart(t *testing.T) {
	s := newStory("n", "m")
	s.restart(nil)
	s.acquire(0, "n", "L5-a", 5)
	s.restart(map[string][2]int{"n": {0, 5}})
	s.acquire(1, "m", "L3-b", 3) // smaller than a token acknowledged before
	s.restart(map[string][2]int{"n": {0, 5}, "m": {1, 3}})
	r := s.check(t)
	if !r.Has(CheckFencing, "token order: token 5") {
		t.Error("decreasing token not reported")
	}
}

func TestCheckReportsDoubleHolder(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.acquire(1, "n", "L2-b", 2) // told "acquired" while c0 holds it
	s.release(0, "n", "L1-a", 1)
	s.release(1, "n", "L2-b", 2)
	s.restart(nil)
	r := s.check(t)
	if !r.Has(CheckLinear, "epochs history of n@epoch0000") || !r.Has(CheckLinear, "whole history of n ") {
		t.Errorf("double holder not reported by porcupine: %v", r.Porcupine)
	}
	if len(r.Violations) != 2 {
		t.Errorf("got %d violations, want exactly the two porcupine ones", len(r.Violations))
	}
}

// TestCheckReportsDoubleHolderWithOverlap: two acquires that overlap in
// time can be ordered either way, but not both succeed.
func TestCheckReportsDoubleHolderWithOverlap(t *testing.T) {
	s := newStory()
	s.restart(nil)
	a := s.acquire(0, "n", "L1-a", 1)
	b := s.acquire(1, "n", "L2-b", 2)
	b.Call = a.Call + 1 // overlapping
	s.restart(map[string][2]int{"n": {1, 2}})
	r := s.check(t)
	if r.Porcupine["epochs"] != "Illegal" || r.Porcupine["whole"] != "Illegal" {
		t.Errorf("overlapping double grant accepted: %v", r.Porcupine)
	}
}

func TestCheckReportsReleaseUndoneAfterRestart(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.release(0, "n", "L1-a", 1)
	s.restart(map[string][2]int{"n": {0, 1}}) // held again after the restart
	r := s.check(t)
	if !r.Has(CheckDurability, "acknowledged release undone") {
		t.Error("undone release not reported by the durability check")
	}
	if r.Porcupine["epochs"] != "Illegal" {
		t.Errorf("undone release accepted by porcupine: %v", r.Porcupine)
	}
}

func TestCheckReportsLostGrant(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.restart(nil) // free after the restart, never released
	r := s.check(t)
	if !r.Has(CheckDurability, "acknowledged grant lost: token 1") {
		t.Error("lost grant not reported")
	}
	if r.Porcupine["epochs"] != "Illegal" {
		t.Errorf("lost grant accepted by porcupine: %v", r.Porcupine)
	}
}

func TestCheckReportsLostRenewal(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.renew(0, "n", "L1-a", 1).Expires = s.base.Add(2 * time.Hour)
	s.restart(map[string][2]int{"n": {0, 1}}) // expiry: base + 1h
	r := s.check(t)
	if !r.Has(CheckDurability, "acknowledged renewal lost") {
		t.Error("lost renewal not reported")
	}
}

func TestCheckReportsPhantomGrant(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.restart(map[string][2]int{"n": {1, 7}}) // c1 never asked
	r := s.check(t)
	if !r.Has(CheckDurability, "a grant appeared") || !r.Has(CheckFencing, "no acquire that could have made it") {
		t.Error("phantom grant not reported")
	}
}

func TestCheckReportsWrongErrorCode(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.release(0, "n", "L1-a", 1)
	// A release with an ended but issued lease must be answered
	// lease_not_current, not lock_not_found.
	s.add(&Op{Client: 0, Holder: holder(0), Kind: Release, Name: "n", Lease: "L1-a", LeaseToken: 1, Issued: true,
		Outcome: Failed, Status: 404, Code: "lock_not_found"})
	s.restart(nil)
	r := s.check(t)
	if r.Porcupine["epochs"] != "Illegal" {
		t.Errorf("wrong error code accepted: %v", r.Porcupine)
	}
}

// TestCheckFallbackStillCatchesDoubleHolder: an epoch checked without
// refusals and reads (after its full history timed out) still fails on two
// holders.
func TestCheckFallbackStillCatchesDoubleHolder(t *testing.T) {
	s := newStory()
	s.restart(nil)
	s.acquire(0, "n", "L1-a", 1)
	s.held(1, "n")
	s.restart(map[string][2]int{"n": {0, 1}})
	s.acquire(1, "n", "L2-b", 2) // while c0 still holds it
	s.restart(map[string][2]int{"n": {1, 2}})
	s.h.sortOps()
	r := Check(s.h, CheckOptions{Porcupine: "epochs", Timeout: 10 * time.Second, FullTimeout: time.Nanosecond})
	if !strings.HasPrefix(r.Porcupine["epochs"], "Illegal") || !r.Has(CheckLinear, "n@epoch0001") {
		t.Errorf("double holder accepted: %v %v", r.Porcupine, r.Violations)
	}
}
