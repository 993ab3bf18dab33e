package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// applyWebhookChange writes one WebhookSaved, WebhookDeleted,
// WebhookAdvanced or DeliveryRecorded change through q, inside Commit's
// transaction. They are rare, so each is a plain statement rather than a
// change-log entry.
func applyWebhookChange(ctx context.Context, q *sqlitedb.Queries, c domain.Change) error {
	switch c := c.(type) {
	case domain.WebhookSaved:
		if err := c.Webhook.Validate(); err != nil {
			return err
		}
		return q.UpsertWebhook(ctx, fromWebhook(c.Webhook))
	case domain.WebhookDeleted:
		if err := q.DeleteWebhookDeliveries(ctx, string(c.ID)); err != nil {
			return fmt.Errorf("delete deliveries of webhook %s: %w", c.ID, err)
		}
		return q.DeleteWebhook(ctx, string(c.ID))
	case domain.WebhookAdvanced:
		if c.Cursor > math.MaxInt64 {
			return fmt.Errorf("webhook %s cursor %d is out of range", c.ID, c.Cursor)
		}
		// An unknown id (deleted earlier in the batch) updates no row.
		return q.AdvanceWebhook(ctx, sqlitedb.AdvanceWebhookParams{ID: string(c.ID), Cursor: int64(c.Cursor)})
	case domain.DeliveryRecorded:
		return recordDelivery(ctx, q, c.Delivery)
	}
	return fmt.Errorf("unknown webhook change type %T", c)
}

// recordDelivery upserts the record of d and deletes the records of its
// webhook beyond the newest domain.MaxDeliveryRecords. A record for a
// webhook that is not stored (deleted earlier in the batch) is dropped.
func recordDelivery(ctx context.Context, q *sqlitedb.Queries, d domain.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	n, err := q.CountWebhook(ctx, string(d.Webhook))
	if err != nil {
		return fmt.Errorf("find webhook %s: %w", d.Webhook, err)
	}
	if n == 0 {
		return nil
	}
	if err := q.UpsertDelivery(ctx, fromDelivery(d)); err != nil {
		return fmt.Errorf("record delivery %s: %w", d.ID(), err)
	}
	err = q.TrimDeliveries(ctx, sqlitedb.TrimDeliveriesParams{WebhookID: string(d.Webhook), Keep: domain.MaxDeliveryRecords})
	if err != nil {
		return fmt.Errorf("trim deliveries of webhook %s: %w", d.Webhook, err)
	}
	return nil
}

// fromWebhook converts a webhook into the parameters of its row.
func fromWebhook(w domain.Webhook) sqlitedb.UpsertWebhookParams {
	events, _ := json.Marshal(w.Events) // a []string always encodes
	return sqlitedb.UpsertWebhookParams{
		ID:          string(w.ID),
		Org:         string(w.Org),
		Url:         w.URL,
		Events:      string(events),
		Prefix:      w.Prefix.String(),
		Secret:      w.Secret,
		CreatedAtMs: w.CreatedAt.UnixMilli(),
		Cursor:      int64(w.Cursor),
		Owner:       w.Owner,
	}
}

// webhookToDomain converts a webhooks row and checks it as Commit does.
func webhookToDomain(r sqlitedb.Webhook) (domain.Webhook, error) {
	var events []string
	if err := json.Unmarshal([]byte(r.Events), &events); err != nil {
		return domain.Webhook{}, fmt.Errorf("events: %w", err)
	}
	prefix, err := domain.ParsePrefix(r.Prefix)
	if err != nil {
		// Not %w: a stored row that breaks the grammar is corruption
		// (KindInternal), not the client's invalid input.
		return domain.Webhook{}, fmt.Errorf("prefix: %s", err)
	}
	if r.Cursor < 0 {
		return domain.Webhook{}, fmt.Errorf("cursor %d is negative", r.Cursor)
	}
	w := domain.Webhook{
		ID:        domain.WebhookID(r.ID),
		Org:       domain.OrgID(r.Org),
		URL:       r.Url,
		Events:    events,
		Prefix:    prefix,
		Secret:    r.Secret,
		Owner:     r.Owner,
		CreatedAt: time.UnixMilli(r.CreatedAtMs),
		Cursor:    uint64(r.Cursor),
	}
	return w, w.Validate()
}

// fromDelivery converts a delivery record into the parameters of its row.
func fromDelivery(d domain.Delivery) sqlitedb.UpsertDeliveryParams {
	return sqlitedb.UpsertDeliveryParams{
		WebhookID:   string(d.Webhook),
		Seq:         int64(d.Seq),
		Kind:        string(d.Kind),
		Attempts:    int64(d.Attempts),
		State:       string(d.State),
		LastStatus:  int64(d.LastStatus),
		LastError:   d.LastError,
		NextAtMs:    d.NextAt.UnixMilli(),
		UpdatedAtMs: d.UpdatedAt.UnixMilli(),
	}
}

// deliveryToDomain converts a webhook_deliveries row and checks it as
// Commit does.
func deliveryToDomain(r sqlitedb.WebhookDelivery) (domain.Delivery, error) {
	if r.Seq <= 0 {
		return domain.Delivery{}, fmt.Errorf("seq %d is not positive", r.Seq)
	}
	d := domain.Delivery{
		Webhook:    domain.WebhookID(r.WebhookID),
		Seq:        uint64(r.Seq),
		Kind:       domain.EventKind(r.Kind),
		Attempts:   int(r.Attempts),
		State:      domain.DeliveryState(r.State),
		LastStatus: int(r.LastStatus),
		LastError:  r.LastError,
		NextAt:     time.UnixMilli(r.NextAtMs),
		UpdatedAt:  time.UnixMilli(r.UpdatedAtMs),
	}
	return d, d.Validate()
}

// loadWebhooks reads every webhook, sorted by org, creation time and id,
// and every delivery record, sorted by webhook and seq. It refuses a row
// Commit would not have stored, including a record of a webhook that is
// not stored.
func loadWebhooks(ctx context.Context, q *sqlitedb.Queries) ([]domain.Webhook, []domain.Delivery, error) {
	rows, err := q.ListWebhooks(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read webhooks: %w", err)
	}
	hooks := make([]domain.Webhook, 0, len(rows))
	ids := make(map[domain.WebhookID]bool, len(rows))
	for _, r := range rows {
		w, err := webhookToDomain(r)
		if err != nil {
			return nil, nil, fmt.Errorf("webhook %q: %w", r.ID, err)
		}
		hooks = append(hooks, w)
		ids[w.ID] = true
	}
	drows, err := q.ListDeliveries(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("read webhook deliveries: %w", err)
	}
	deliveries := make([]domain.Delivery, 0, len(drows))
	for _, r := range drows {
		d, err := deliveryToDomain(r)
		if err == nil && !ids[d.Webhook] {
			err = fmt.Errorf("webhook %q is not stored", d.Webhook)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("delivery of event %d to webhook %q: %w", r.Seq, r.WebhookID, err)
		}
		deliveries = append(deliveries, d)
	}
	return hooks, deliveries, nil
}
