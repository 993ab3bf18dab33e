package domain

import (
	"math"
	"testing"
)

func TestWebhookValidate(t *testing.T) {
	valid := Webhook{ID: "wh_1", Org: "acme", URL: "https://example.com/hook", Events: []string{"*"}}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid webhook: %v", err)
	}
	for name, f := range map[string]func(w *Webhook){
		"empty id":      func(w *Webhook) { w.ID = "" },
		"empty org":     func(w *Webhook) { w.Org = "" },
		"invalid org":   func(w *Webhook) { w.Org = "a/b" },
		"empty url":     func(w *Webhook) { w.URL = "" },
		"no patterns":   func(w *Webhook) { w.Events = nil },
		"cursor bigger": func(w *Webhook) { w.Cursor = math.MaxInt64 + 1 },
	} {
		w := valid
		f(&w)
		err := w.Validate()
		if err == nil {
			t.Errorf("%s: Validate = nil", name)
		} else if KindOf(err) != KindInternal {
			t.Errorf("%s: kind %v, want KindInternal", name, KindOf(err))
		}
	}
}

func TestDeliveryValidate(t *testing.T) {
	valid := Delivery{Webhook: "wh_1", Seq: 1, Kind: EventLockAcquired, State: DeliveryPending}
	if err := valid.Validate(); err != nil {
		t.Fatalf("valid delivery: %v", err)
	}
	for _, s := range []DeliveryState{DeliveryDelivered, DeliveryFailed} {
		d := valid
		d.State = s
		if err := d.Validate(); err != nil {
			t.Errorf("state %s: %v", s, err)
		}
	}
	for name, f := range map[string]func(d *Delivery){
		"empty webhook": func(d *Delivery) { d.Webhook = "" },
		"seq zero":      func(d *Delivery) { d.Seq = 0 },
		"seq too big":   func(d *Delivery) { d.Seq = math.MaxInt64 + 1 },
		"empty state":   func(d *Delivery) { d.State = "" },
		"unknown state": func(d *Delivery) { d.State = "lost" },
	} {
		d := valid
		f(&d)
		if err := d.Validate(); err == nil {
			t.Errorf("%s: Validate = nil", name)
		}
	}
}
