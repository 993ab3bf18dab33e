package httpapi

import (
	"fmt"
	"time"

	"github.com/danielgtaylor/huma/v2"
)

// wireLayout is the one format of times on the wire: UTC, always three
// digits of milliseconds (the precision times are stored with), so that
// clients can compare and parse them as fixed-width strings.
const wireLayout = "2006-01-02T15:04:05.000Z07:00"

// Time is a time as it leaves the server, e.g. 2026-11-26T10:00:30.120Z.
type Time struct{ time.Time }

// wireTime converts t for the wire.
func wireTime(t time.Time) Time { return Time{t.UTC().Truncate(time.Millisecond)} }

// wireTimeRef is wireTime for optional fields.
func wireTimeRef(t time.Time) *Time {
	w := wireTime(t)
	return &w
}

// MarshalJSON writes the time in wireLayout (one allocation: it is on
// every lease and lock answer).
func (t Time) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(wireLayout)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, wireLayout)
	return append(b, '"'), nil
}

// UnmarshalJSON reads any RFC 3339 time, for clients and tests.
func (t *Time) UnmarshalJSON(b []byte) error {
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return fmt.Errorf("time %s is not a JSON string", b)
	}
	v, err := time.Parse(time.RFC3339Nano, string(b[1:len(b)-1]))
	if err != nil {
		return err
	}
	t.Time = v
	return nil
}

// Schema documents the format for huma.
func (Time) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: huma.TypeString, Format: "date-time",
		Description: "UTC with three digits of milliseconds", Examples: []any{"2026-11-26T10:00:30.120Z"}}
}
