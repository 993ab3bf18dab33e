package porttest

import (
	"context"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// webhookFor builds a valid webhook created at base plus offset.
func webhookFor(id, org string, offset time.Duration) domain.Webhook {
	return domain.Webhook{
		ID:        domain.WebhookID(id),
		Org:       domain.OrgID(org),
		URL:       "https://hooks.example.com/" + org + "/" + id,
		Events:    []string{"lock.acquired", "lock.released"},
		Secret:    "secret-of-" + id,
		CreatedAt: base.Add(offset),
	}
}

// deliveryFor builds a valid pending delivery record of event seq to wh.
func deliveryFor(wh string, seq uint64) domain.Delivery {
	return domain.Delivery{
		Webhook:    domain.WebhookID(wh),
		Seq:        seq,
		Kind:       domain.EventLockAcquired,
		Attempts:   1,
		State:      domain.DeliveryPending,
		LastStatus: 503,
		LastError:  "receiver answered 503",
		NextAt:     base.Add(time.Duration(seq)*time.Second + 250*time.Microsecond),
		UpdatedAt:  base.Add(time.Duration(seq) * time.Millisecond),
	}
}

func mustPrefix(t *testing.T, s string) domain.Prefix {
	t.Helper()
	p, err := domain.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// checkWebhooks requires the snapshot's webhooks to be exactly want, in
// that order; times at millisecond precision.
func checkWebhooks(t *testing.T, s domain.Snapshot, want ...domain.Webhook) {
	t.Helper()
	if s.Webhooks == nil {
		t.Error("Load returned nil Webhooks, want a non-nil slice")
	}
	ids := func(ws []domain.Webhook) []domain.WebhookID {
		var out []domain.WebhookID
		for _, w := range ws {
			out = append(out, w.ID)
		}
		return out
	}
	if len(s.Webhooks) != len(want) {
		t.Errorf("Load returned webhooks %v, want %v", ids(s.Webhooks), ids(want))
		return
	}
	for i, w := range want {
		g := s.Webhooks[i]
		if g.ID != w.ID {
			t.Errorf("Load returned webhooks %v, want %v (sorted by org, creation time, id)", ids(s.Webhooks), ids(want))
			return
		}
		if g.Org != w.Org || g.URL != w.URL || !slices.Equal(g.Events, w.Events) || g.Prefix != w.Prefix ||
			g.Prefix.String() != w.Prefix.String() || g.Secret != w.Secret || g.Cursor != w.Cursor ||
			g.CreatedAt.UnixMilli() != w.CreatedAt.UnixMilli() {
			t.Errorf("webhook %s:\n got %+v\nwant %+v", w.ID, g, w)
		}
	}
}

// checkDeliveries requires the snapshot's delivery records to be exactly
// want, in that order; times at millisecond precision.
func checkDeliveries(t *testing.T, s domain.Snapshot, want ...domain.Delivery) {
	t.Helper()
	if s.Deliveries == nil {
		t.Error("Load returned nil Deliveries, want a non-nil slice")
	}
	keys := func(ds []domain.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.ID())
		}
		return out
	}
	if len(s.Deliveries) != len(want) {
		t.Errorf("Load returned %d deliveries %v,\nwant %d %v", len(s.Deliveries), keys(s.Deliveries), len(want), keys(want))
		return
	}
	for i, w := range want {
		g := s.Deliveries[i]
		if g.Webhook != w.Webhook || g.Seq != w.Seq {
			t.Errorf("Load returned deliveries %v,\nwant %v (sorted by webhook and seq)", keys(s.Deliveries), keys(want))
			return
		}
		if g.Kind != w.Kind || g.Attempts != w.Attempts || g.State != w.State || g.LastStatus != w.LastStatus ||
			g.LastError != w.LastError || g.NextAt.UnixMilli() != w.NextAt.UnixMilli() ||
			g.UpdatedAt.UnixMilli() != w.UpdatedAt.UnixMilli() {
			t.Errorf("delivery %s:\n got %+v\nwant %+v", w.ID(), g, w)
		}
	}
}

func testWebhookRoundTrip(t *testing.T, j ports.Journal) {
	s := load(t, j)
	checkWebhooks(t, s)
	checkDeliveries(t, s)

	// Within an org, by creation time at millisecond precision, then id:
	// wh_a and wh_b were created in the same millisecond.
	c := webhookFor("wh_c", "acme", time.Millisecond)
	c.Prefix, c.Events, c.Cursor = mustPrefix(t, "db"), []string{"*"}, 42
	b := webhookFor("wh_b", "acme", 2*time.Millisecond)
	b.Prefix, b.Secret = mustPrefix(t, "jobs/nightly/"), ""
	a := webhookFor("wh_a", "acme", 2*time.Millisecond+50*time.Microsecond)
	a.Events = []string{"lock.*", "lock.expired"}
	z := webhookFor("wh_0", "beta", 0)
	z.Cursor = math.MaxInt64
	commit(t, j, 0, domain.WebhookSaved{Webhook: b}, domain.WebhookSaved{Webhook: z},
		domain.WebhookSaved{Webhook: a}, domain.WebhookSaved{Webhook: c})
	d1 := deliveryFor("wh_b", 7)
	d2 := deliveryFor("wh_a", 9)
	d2.State, d2.Attempts, d2.LastStatus, d2.LastError, d2.NextAt = domain.DeliveryDelivered, 2, 204, "", time.Time{}
	d3 := deliveryFor("wh_a", 3)
	d3.State, d3.Kind, d3.Attempts, d3.LastStatus = domain.DeliveryFailed, domain.EventLockFreed, 8, 0
	d3.LastError = "dial tcp: connection refused"
	commit(t, j, 0, domain.DeliveryRecorded{Delivery: d1}, domain.DeliveryRecorded{Delivery: d2},
		domain.DeliveryRecorded{Delivery: d3})

	s = load(t, j)
	checkWebhooks(t, s, c, a, b, z)
	checkDeliveries(t, s, d3, d2, d1)
	for _, d := range s.Deliveries {
		if d.Seq == d2.Seq && !d.NextAt.IsZero() {
			t.Errorf("delivery %s: zero NextAt came back as %v", d.ID(), d.NextAt)
		}
	}
}

func testWebhookReplace(t *testing.T, j ports.Journal) {
	w := webhookFor("wh_1", "acme", 0)
	w.Cursor = 10
	commit(t, j, 0, domain.WebhookSaved{Webhook: w}, domain.DeliveryRecorded{Delivery: deliveryFor("wh_1", 10)})

	// Replacing a webhook replaces every field, its cursor included, and
	// keeps its delivery records.
	r := w
	r.URL, r.Events, r.Prefix, r.Secret, r.Cursor = "https://other.example.com/x", []string{"*"}, mustPrefix(t, "db/"), "", 4
	r.CreatedAt = base.Add(time.Hour)
	commit(t, j, 0, domain.WebhookSaved{Webhook: r})
	s := load(t, j)
	checkWebhooks(t, s, r)
	checkDeliveries(t, s, deliveryFor("wh_1", 10))

	// Within a batch the last save wins.
	last := r
	last.URL = "https://last.example.com/"
	commit(t, j, 0, domain.WebhookSaved{Webhook: w}, domain.WebhookSaved{Webhook: last})
	checkWebhooks(t, load(t, j), last)
}

func testWebhookAdvance(t *testing.T, j ports.Journal) {
	w := webhookFor("wh_1", "acme", 0)
	w.Cursor = 5
	other := webhookFor("wh_2", "acme", time.Second)
	commit(t, j, 0, domain.WebhookSaved{Webhook: w}, domain.WebhookSaved{Webhook: other})

	commit(t, j, 0, domain.WebhookAdvanced{ID: w.ID, Cursor: 10})
	w.Cursor = 10
	checkWebhooks(t, load(t, j), w, other)

	// Never lowered, within a batch or across batches.
	commit(t, j, 0, domain.WebhookAdvanced{ID: w.ID, Cursor: 7})
	commit(t, j, 0, domain.WebhookAdvanced{ID: w.ID, Cursor: 12}, domain.WebhookAdvanced{ID: w.ID, Cursor: 11},
		domain.WebhookAdvanced{ID: w.ID, Cursor: 0})
	w.Cursor = 12
	checkWebhooks(t, load(t, j), w, other)

	// An unknown webhook, or one deleted earlier in the batch, is not an
	// error and creates nothing.
	commit(t, j, 0, domain.WebhookAdvanced{ID: "wh_unknown", Cursor: 3},
		domain.WebhookDeleted{ID: other.ID}, domain.WebhookAdvanced{ID: other.ID, Cursor: 9})
	checkWebhooks(t, load(t, j), w)

	commit(t, j, 0, domain.WebhookAdvanced{ID: w.ID, Cursor: math.MaxInt64})
	w.Cursor = math.MaxInt64
	checkWebhooks(t, load(t, j), w)
}

func testWebhookDelete(t *testing.T, j ports.Journal) {
	a, b := webhookFor("wh_a", "acme", 0), webhookFor("wh_b", "acme", time.Second)
	commit(t, j, 0, domain.WebhookSaved{Webhook: a}, domain.WebhookSaved{Webhook: b},
		domain.DeliveryRecorded{Delivery: deliveryFor("wh_a", 1)}, domain.DeliveryRecorded{Delivery: deliveryFor("wh_a", 2)},
		domain.DeliveryRecorded{Delivery: deliveryFor("wh_b", 1)})

	commit(t, j, 0, domain.WebhookDeleted{ID: a.ID})
	s := load(t, j)
	checkWebhooks(t, s, b)
	checkDeliveries(t, s, deliveryFor("wh_b", 1))

	// Deleting an unknown webhook is not an error; a webhook created again
	// with the same id starts without records.
	commit(t, j, 0, domain.WebhookDeleted{ID: "wh_unknown"}, domain.WebhookDeleted{ID: a.ID})
	commit(t, j, 0, domain.WebhookSaved{Webhook: a})
	s = load(t, j)
	checkWebhooks(t, s, a, b)
	checkDeliveries(t, s, deliveryFor("wh_b", 1))

	// Saved and deleted in one batch: nothing stays.
	c := webhookFor("wh_c", "acme", 2*time.Second)
	commit(t, j, 0, domain.WebhookSaved{Webhook: c}, domain.DeliveryRecorded{Delivery: deliveryFor("wh_c", 1)},
		domain.WebhookDeleted{ID: c.ID})
	commit(t, j, 0, domain.WebhookDeleted{ID: b.ID})
	s = load(t, j)
	checkWebhooks(t, s, a)
	checkDeliveries(t, s)
}

func testDeliveryRecords(t *testing.T, j ports.Journal) {
	w := webhookFor("wh_1", "acme", 0)
	first := deliveryFor("wh_1", 4)
	commit(t, j, 0, domain.WebhookSaved{Webhook: w}, domain.DeliveryRecorded{Delivery: first})
	checkDeliveries(t, load(t, j), first)

	// A record is keyed by webhook and seq: the next attempt replaces it.
	retried := first
	retried.Attempts, retried.LastStatus, retried.LastError = 2, 0, "timeout"
	retried.NextAt, retried.UpdatedAt = first.NextAt.Add(time.Minute), first.UpdatedAt.Add(time.Second)
	commit(t, j, 0, domain.DeliveryRecorded{Delivery: retried})
	checkDeliveries(t, load(t, j), retried)

	done := retried
	done.Attempts, done.State, done.LastStatus, done.LastError, done.NextAt = 3, domain.DeliveryDelivered, 200, "", time.Time{}
	later := deliveryFor("wh_1", 5)
	commit(t, j, 0, domain.DeliveryRecorded{Delivery: later}, domain.DeliveryRecorded{Delivery: retried},
		domain.DeliveryRecorded{Delivery: done})
	checkDeliveries(t, load(t, j), done, later)

	// A record for an unknown webhook, or one deleted earlier in the batch,
	// is dropped without an error.
	gone := webhookFor("wh_gone", "acme", time.Second)
	commit(t, j, 0, domain.DeliveryRecorded{Delivery: deliveryFor("wh_unknown", 1)},
		domain.WebhookSaved{Webhook: gone}, domain.WebhookDeleted{ID: gone.ID},
		domain.DeliveryRecorded{Delivery: deliveryFor("wh_gone", 2)})
	s := load(t, j)
	checkWebhooks(t, s, w)
	checkDeliveries(t, s, done, later)
}

func testDeliveryCap(t *testing.T, j ports.Journal) {
	a, b := webhookFor("wh_a", "acme", 0), webhookFor("wh_b", "acme", time.Second)
	commit(t, j, 0, domain.WebhookSaved{Webhook: a}, domain.WebhookSaved{Webhook: b},
		domain.DeliveryRecorded{Delivery: deliveryFor("wh_b", 1)})

	// 130 records for wh_a, out of order and in batches of 40; each
	// webhook keeps its newest 100 by seq.
	seqs := make([]uint64, 0, 130)
	for i := range uint64(130) {
		seqs = append(seqs, (i*37)%130+1)
	}
	for len(seqs) > 0 {
		n := min(40, len(seqs))
		var changes []domain.Change
		for _, seq := range seqs[:n] {
			changes = append(changes, domain.DeliveryRecorded{Delivery: deliveryFor("wh_a", seq)})
		}
		commit(t, j, 0, changes...)
		seqs = seqs[n:]
	}
	var want []domain.Delivery
	for seq := uint64(31); seq <= 130; seq++ {
		want = append(want, deliveryFor("wh_a", seq))
	}
	want = append(want, deliveryFor("wh_b", 1))
	checkDeliveries(t, load(t, j), want...)

	// A record older than the newest 100 does not stay; a newer one pushes
	// the oldest out.
	commit(t, j, 0, domain.DeliveryRecorded{Delivery: deliveryFor("wh_a", 10)},
		domain.DeliveryRecorded{Delivery: deliveryFor("wh_a", 200)})
	want = append(want[1:100:100], deliveryFor("wh_a", 200), deliveryFor("wh_b", 1))
	checkDeliveries(t, load(t, j), want...)

	// More than 100 in one batch.
	var changes []domain.Change
	for seq := uint64(1000); seq < 1150; seq++ {
		changes = append(changes, domain.DeliveryRecorded{Delivery: deliveryFor("wh_b", seq)})
	}
	commit(t, j, 0, changes...)
	want = want[:100]
	for seq := uint64(1050); seq < 1150; seq++ {
		want = append(want, deliveryFor("wh_b", seq))
	}
	checkDeliveries(t, load(t, j), want...)
}

func testRefusedWebhooks(t *testing.T, j ports.Journal) {
	stored := webhookFor("wh_1", "acme", 0)
	stored.Cursor = 3
	kept := deliveryFor("wh_1", 3)
	commit(t, j, 1, domain.WebhookSaved{Webhook: stored}, domain.DeliveryRecorded{Delivery: kept},
		domain.LockSaved{Lock: lockFor("acme", "db", 1)})

	badWebhook := func(f func(w *domain.Webhook)) domain.Change {
		w := webhookFor("wh_new", "acme", time.Second)
		f(&w)
		return domain.WebhookSaved{Webhook: w}
	}
	badDelivery := func(f func(d *domain.Delivery)) domain.Change {
		d := deliveryFor("wh_1", 4)
		f(&d)
		return domain.DeliveryRecorded{Delivery: d}
	}
	refused := map[string]domain.Change{
		"webhook id empty":        badWebhook(func(w *domain.Webhook) { w.ID = "" }),
		"webhook org empty":       badWebhook(func(w *domain.Webhook) { w.Org = "" }),
		"webhook org invalid":     badWebhook(func(w *domain.Webhook) { w.Org = "no/slash" }),
		"webhook url empty":       badWebhook(func(w *domain.Webhook) { w.URL = "" }),
		"webhook events nil":      badWebhook(func(w *domain.Webhook) { w.Events = nil }),
		"webhook events empty":    badWebhook(func(w *domain.Webhook) { w.Events = []string{} }),
		"webhook cursor too big":  badWebhook(func(w *domain.Webhook) { w.Cursor = math.MaxInt64 + 1 }),
		"advance cursor too big":  domain.WebhookAdvanced{ID: stored.ID, Cursor: math.MaxInt64 + 1},
		"delivery seq zero":       badDelivery(func(d *domain.Delivery) { d.Seq = 0 }),
		"delivery seq too big":    badDelivery(func(d *domain.Delivery) { d.Seq = math.MaxInt64 + 1 }),
		"delivery webhook empty":  badDelivery(func(d *domain.Delivery) { d.Webhook = "" }),
		"delivery state empty":    badDelivery(func(d *domain.Delivery) { d.State = "" }),
		"delivery state unknown":  badDelivery(func(d *domain.Delivery) { d.State = "lost" }),
		"webhook saved (pointer)": &domain.WebhookSaved{Webhook: webhookFor("wh_new", "acme", 0)},
	}
	for name, bad := range refused {
		// Valid changes around the bad one show that nothing is applied.
		changes := []domain.Change{
			domain.WebhookSaved{Webhook: webhookFor("wh_2", "acme", time.Minute)},
			domain.DeliveryRecorded{Delivery: deliveryFor("wh_1", 5)},
			domain.WebhookAdvanced{ID: stored.ID, Cursor: 9},
			domain.LockDeleted{Key: domain.LockKey{Org: "acme", Name: "db"}},
			bad,
			domain.WebhookDeleted{ID: stored.ID},
			domain.EventRecorded{Event: eventFor(1)},
		}
		if err := j.Commit(context.Background(), domain.Batch{Counter: 2, Changes: changes}); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	s := load(t, j)
	checkWebhooks(t, s, stored)
	checkDeliveries(t, s, kept)
	checkLocks(t, s, lockFor("acme", "db", 1))
	if s.Counter != 1 || s.EventSeq != 0 {
		t.Errorf("after refused batches: counter %d, event seq %d; want 1 and 0", s.Counter, s.EventSeq)
	}
}

func testWebhookCopiesData(t *testing.T, j ports.Journal) {
	w := webhookFor("wh_1", "acme", 0)
	events := []string{"lock.acquired", "lock.released"}
	w.Events = events
	commit(t, j, 0, domain.WebhookSaved{Webhook: w}, domain.DeliveryRecorded{Delivery: deliveryFor("wh_1", 1)})
	want := w
	want.Events = slices.Clone(events)
	events[0] = "*"

	s := load(t, j)
	s.Webhooks[0].Events[1] = "lock.expired"
	s.Webhooks[0].URL = "https://mallory.example.com/"
	s.Deliveries[0].State = domain.DeliveryFailed
	s = load(t, j)
	checkWebhooks(t, s, want)
	checkDeliveries(t, s, deliveryFor("wh_1", 1))
}
