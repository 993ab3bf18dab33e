package domain

import (
	"math"
	"testing"
)

func TestEventValidate(t *testing.T) {
	cases := []struct {
		name string
		e    Event
		want string // "" for valid
	}{
		{"lock event", Event{Seq: 1, Org: "acme", Kind: EventLockAcquired, Name: "db", Token: 3, At: t0}, ""},
		{"session event", Event{Seq: 2, Org: "acme", Kind: EventSessionOpened, At: t0}, ""},
		{"largest seq", Event{Seq: math.MaxUint64, Kind: EventLockReleased}, ""},
		{"zero seq", Event{Kind: EventLockAcquired}, "seq is zero"},
		{"empty kind", Event{Seq: 1}, "kind is empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRecordRule(t, c.e.Validate(), c.want)
		})
	}
}
