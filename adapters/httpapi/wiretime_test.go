package httpapi

import (
	"encoding/json"
	"testing"
	"time"
)

func TestWireTimeHasThreeDigitMilliseconds(t *testing.T) {
	for in, want := range map[time.Time]string{
		time.Date(2026, 11, 26, 10, 0, 30, 0, time.UTC):                              `"2026-11-26T10:00:30.000Z"`,
		time.Date(2026, 11, 26, 10, 0, 30, 120_000_000, time.UTC):                    `"2026-11-26T10:00:30.120Z"`,
		time.Date(2026, 11, 26, 11, 0, 30, 123_456_789, time.FixedZone("CET", 3600)): `"2026-11-26T10:00:30.123Z"`,
	} {
		b, err := json.Marshal(wireTime(in))
		if err != nil || string(b) != want {
			t.Errorf("wire time of %v = %s (%v), want %s", in, b, err, want)
		}
		var back Time
		if err := json.Unmarshal(b, &back); err != nil || !back.Equal(in.Truncate(time.Millisecond)) {
			t.Errorf("round trip of %s = %v (%v)", b, back, err)
		}
	}
}
