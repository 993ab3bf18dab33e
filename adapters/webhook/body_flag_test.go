package webhook

import (
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
)

// TestFlagBody: a flag event is delivered as seq, type, flag, version, by
// and at, without the flag's settings.
func TestFlagBody(t *testing.T) {
	e := domain.Event{Seq: 43, Org: "acme", Kind: domain.EventFlagUpdated, Name: "new-checkout", Version: 3, By: "alice",
		At: time.Date(2026, 12, 5, 8, 0, 0, 123_000_000, time.UTC)}
	const want = `{"seq":43,"type":"flag.updated","flag":"new-checkout","version":3,"by":"alice","at":"2026-12-05T08:00:00.123Z"}`
	if got := string(Body(e)); got != want {
		t.Errorf("Body = %s, want %s", got, want)
	}
}
