package main

import (
	"strings"
	"testing"
)

// serial is a correct history: two names, grants handed over cleanly,
// tokens increasing globally.
func serial() []hold {
	return []hold{
		{client: 0, name: "a", lease: "L1-x", token: 1, called: 0, acked: 10, released: 20},
		{client: 1, name: "b", lease: "L2-x", token: 2, called: 5, acked: 12, released: 30},
		{client: 1, name: "a", lease: "L3-x", token: 3, called: 15, acked: 25, released: 40},
		// Requested before token 3 was acknowledged, so a smaller token
		// would also have been fine; requested after 1 and 2 were.
		{client: 2, name: "b", lease: "L4-x", token: 4, called: 24, acked: 35, released: 50},
		{client: 0, name: "a", lease: "L5-x", token: 5, called: 41, acked: 45, released: 60},
	}
}

func TestCheckAcceptsCorrectHistory(t *testing.T) {
	rep := checkHolds(serial())
	if !rep.ok() {
		t.Fatalf("correct history flagged: %v", rep.violations)
	}
	if rep.grants != 5 || rep.names != 2 {
		t.Errorf("grants %d names %d, want 5 and 2", rep.grants, rep.names)
	}
}

func TestCheckAcceptsConcurrentReordering(t *testing.T) {
	// Two grants on different names that overlap in time may carry their
	// tokens in either order: the server may answer the later one first.
	hs := []hold{
		{client: 0, name: "a", lease: "L2-x", token: 2, called: 0, acked: 10, released: 11},
		{client: 1, name: "b", lease: "L1-x", token: 1, called: 1, acked: 12, released: 13},
	}
	if rep := checkHolds(hs); !rep.ok() {
		t.Fatalf("flagged: %v", rep.violations)
	}
}

func TestCheckFlagsDoctoredHistories(t *testing.T) {
	cases := []struct {
		name   string
		doctor func([]hold) []hold
		want   string
	}{
		{"overlap", func(h []hold) []hold {
			h[2].acked = 18 // client 1 gets "a" before client 0 let go at 20
			return h
		}, "overlap on \"a\""},
		{"overlap with a long earlier holder", func(h []hold) []hold {
			// Client 0 keeps "a" until 100: both later holders of "a"
			// overlap it, though the last one does not overlap the middle
			// one (released at 40); only the running maximum catches it.
			h[0].released = 100
			return h
		}, "got lease L5-x (token 5) at 0.000ms while client 0 held lease L1-x (token 1) until 0.000ms"},
		{"token decreases on a name", func(h []hold) []hold {
			h[2].token, h[2].lease = 0, "L0-x"
			return h
		}, "token order on \"a\""},
		{"token reused", func(h []hold) []hold {
			h[4].token = 2 // same token as the lease on "b"
			return h
		}, "token 2 issued twice"},
		{"real-time order", func(h []hold) []hold {
			// The lease on "b" is requested at 26, after token 4 (on "a")
			// was acknowledged at 25, yet gets the smaller token 3. Each
			// name on its own still looks fine.
			h[2].token = 4
			h[3].called, h[3].token = 26, 3
			return h
		}, "real-time token order"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep := checkHolds(c.doctor(serial()))
			if rep.ok() {
				t.Fatal("doctored history passed the check")
			}
			if !strings.Contains(strings.Join(rep.violations, "\n"), c.want) {
				t.Errorf("violations %q do not mention %q", rep.violations, c.want)
			}
		})
	}
}

func TestCheckSkipsUnfencedHolds(t *testing.T) {
	hs := []hold{
		{name: "a", acked: 10, released: 20},
		{name: "a", acked: 15, released: 25},
	}
	if rep := checkHolds(hs); !rep.ok() || rep.grants != 0 {
		t.Fatalf("holds without a lease were checked: %+v", rep)
	}
}

func TestCheckCapsViolations(t *testing.T) {
	var hs []hold
	for i := range 50 {
		hs = append(hs, hold{name: "a", lease: "L" + string(rune('A'+i)), token: 7, acked: int64(i), released: 1000})
	}
	rep := checkHolds(hs)
	if rep.violationCount <= maxViolations || len(rep.violations) != maxViolations {
		t.Fatalf("count %d, listed %d", rep.violationCount, len(rep.violations))
	}
}
