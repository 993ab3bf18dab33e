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

func TestEventFollows(t *testing.T) {
	ok := Event{Seq: 5, Kind: EventLockAcquired, Token: 3}
	if err := ok.Follows(4); err != nil {
		t.Fatalf("valid event refused: %v", err)
	}
	bad := map[string]struct {
		e     Event
		after uint64
	}{
		"not above":     {ok, 5},
		"zero seq":      {Event{Kind: EventLockAcquired}, 0},
		"seq too big":   {Event{Seq: 1 << 63, Kind: EventLockAcquired}, 0},
		"token too big": {Event{Seq: 1, Kind: EventLockAcquired, Token: 1 << 63}, 0},
	}
	for name, c := range bad {
		err := c.e.Follows(c.after)
		if err == nil || KindOf(err) != KindInternal {
			t.Errorf("%s: err = %v, want an internal error", name, err)
		}
	}
}
