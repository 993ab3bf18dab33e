package main

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestRankIndex(t *testing.T) {
	cases := []struct {
		p    float64
		n    int
		want int
	}{
		{50, 1, 0}, {99, 1, 0}, {100, 1, 0},
		{50, 2, 0}, {51, 2, 1},
		{50, 10, 4}, {90, 10, 8}, {99, 10, 9}, {100, 10, 9},
		{50, 100, 49}, {99, 100, 98}, {99.9, 100, 99},
		{0.001, 100, 0}, // never below the first sample
		{99, 1000, 989},
	}
	for _, c := range cases {
		if got := rankIndex(c.p, c.n); got != c.want {
			t.Errorf("rankIndex(%v, %d) = %d, want %d", c.p, c.n, got, c.want)
		}
	}
}

func TestPercentile(t *testing.T) {
	var l latencies
	if got := l.percentile(99); got != 0 {
		t.Fatalf("empty: p99 = %v, want 0", got)
	}
	// 1..100 ms in random order: the p-th percentile is p ms exactly.
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(100) {
		l.add(time.Duration(i+1) * time.Millisecond)
	}
	for _, p := range []float64{1, 50, 90, 99, 100} {
		if got, want := l.percentile(p), time.Duration(p)*time.Millisecond; got != want {
			t.Errorf("p%v = %v, want %v", p, got, want)
		}
	}
	if got := l.max(); got != 100*time.Millisecond {
		t.Errorf("max = %v", got)
	}

	// Adding after a percentile re-sorts.
	l.add(time.Millisecond / 2)
	if got := l.percentile(0.5); got != time.Millisecond/2 {
		t.Errorf("after add: p0.5 = %v, want 500µs", got)
	}

	var a, b latencies
	a.add(3 * time.Millisecond)
	b.add(1 * time.Millisecond)
	b.add(2 * time.Millisecond)
	a.merge(&b)
	if a.count() != 3 || a.percentile(50) != 2*time.Millisecond {
		t.Errorf("merged: count %d p50 %v", a.count(), a.percentile(50))
	}
}

func TestSkewedPercentiles(t *testing.T) {
	// 990 fast samples and 10 slow ones: p99 is still fast, p99.1 is slow.
	var l latencies
	for range 990 {
		l.add(time.Millisecond)
	}
	for range 10 {
		l.add(time.Second)
	}
	if got := l.percentile(99); got != time.Millisecond {
		t.Errorf("p99 = %v, want 1ms", got)
	}
	if got := l.percentile(99.1); got != time.Second {
		t.Errorf("p99.1 = %v, want 1s", got)
	}
}
