package sqlite

import (
	"math"
	"testing"
)

// TestLogReaderRoundTrip: what logWriter encodes, logReader decodes,
// negative and extreme integers included; a truncated buffer is an error.
func TestLogReaderRoundTrip(t *testing.T) {
	var w logWriter
	ints := []int64{0, 1, -1, 63, -64, 1 << 40, math.MaxInt64, math.MinInt64}
	for _, v := range ints {
		w.int(v)
	}
	w.str("")
	w.str("héllo\xff")
	r := logReader{buf: w.buf}
	for _, want := range ints {
		if got := r.int(); got != want {
			t.Errorf("int = %d, want %d", got, want)
		}
	}
	if a, b := r.str(), r.str(); a != "" || b != "héllo\xff" || r.err != nil || len(r.buf) != 0 {
		t.Errorf("strings %q %q, err %v, %d bytes left", a, b, r.err, len(r.buf))
	}
	w.buf = w.buf[:0]
	w.str("truncated")
	r = logReader{buf: w.buf[:4]}
	if s := r.str(); s != "" || r.err == nil {
		t.Errorf("truncated string = %q, %v; want an error", s, r.err)
	}
}
