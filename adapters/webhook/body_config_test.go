package webhook_test

import (
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/webhook"
	"github.com/octostore/octostore/domain"
)

// TestConfigEventBody: a config event is delivered as seq, type, key,
// version, by and at, never the value.
func TestConfigEventBody(t *testing.T) {
	at := time.Date(2026, 12, 5, 8, 0, 0, 123_000_000, time.UTC)
	got := string(webhook.Body(domain.Event{Seq: 9, Org: "acme", Kind: domain.EventConfigUpdated, Name: "app/x", At: at, Version: 4, By: "alice"}))
	want := `{"seq":9,"type":"config.updated","key":"app/x","version":4,"by":"alice","at":"2026-12-05T08:00:00.123Z"}`
	if got != want {
		t.Errorf("Body = %s, want %s", got, want)
	}
}
