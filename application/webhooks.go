package application

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"sync"

	"github.com/octostore/octostore/domain"
)

// maxDeliveryRecords is how many delivery records are kept per webhook.
const maxDeliveryRecords = 100

// WebhookService holds the webhook use cases: subscriptions are created
// and deleted through the writer (durable before the answer, the per-org
// cap checked atomically) and read from memory.
type WebhookService struct {
	e            *Engine
	allowPrivate bool
}

// NewWebhookService returns the webhook use cases. allowPrivate lets URLs
// be http:// and point at private addresses (self-hosted networks, tests).
func NewWebhookService(e *Engine, allowPrivate bool) *WebhookService {
	return &WebhookService{e: e, allowPrivate: allowPrivate}
}

// WebhookInput is a new subscription.
type WebhookInput struct {
	URL    string
	Events []string
	Prefix string
	Secret string
}

// Create stores a webhook for the caller's org. Only events recorded after
// it is created are delivered. Returns ErrInvalidWebhookURL,
// ErrWebhookAddressNotAllowed, ErrInvalidEventType, ErrInvalidWebhookSecret
// or a prefix error for bad input, a *domain.QuotaExceededError (matching
// ErrQuotaExceeded) at the org's webhooks quota,
// and ErrUnavailable when it could not be committed.
func (s *WebhookService) Create(ctx context.Context, p domain.Principal, in WebhookInput) (domain.Webhook, error) {
	if p.Admin {
		return domain.Webhook{}, domain.ErrAdminNotTenant
	}
	if _, err := domain.CheckWebhookURL(in.URL, s.allowPrivate); err != nil {
		return domain.Webhook{}, err
	}
	events, err := domain.CheckEventPatterns(in.Events)
	if err != nil {
		return domain.Webhook{}, err
	}
	prefix, err := domain.ParsePrefix(in.Prefix)
	if err != nil {
		return domain.Webhook{}, err
	}
	if err := domain.CheckWebhookSecret(in.Secret); err != nil {
		return domain.Webhook{}, err
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	w := domain.Webhook{ID: domain.WebhookID("wh_" + hex.EncodeToString(id[:])), Org: p.Org, URL: in.URL,
		Events: events, Prefix: prefix, Secret: in.Secret, Owner: p.User}
	return do(ctx, s.e, func(x *txn) (domain.Webhook, error) {
		if err := x.within(p.Org, domain.QuotaWebhooks, x.webhookCount(p.Org)); err != nil {
			return domain.Webhook{}, err
		}
		w.CreatedAt, w.Cursor = x.now, x.eventSeq
		x.saveWebhook(w)
		return w, nil
	})
}

// List returns the caller's webhooks, oldest first.
func (s *WebhookService) List(_ context.Context, p domain.Principal) ([]domain.Webhook, error) {
	if p.Admin {
		return nil, domain.ErrAdminNotTenant
	}
	return s.e.hooks.list(p.Org), nil
}

// Get returns one of the caller's webhooks, or ErrWebhookNotFound.
func (s *WebhookService) Get(_ context.Context, p domain.Principal, id domain.WebhookID) (domain.Webhook, error) {
	if p.Admin {
		return domain.Webhook{}, domain.ErrAdminNotTenant
	}
	w, ok := s.e.hooks.get(id)
	if !ok || w.Org != p.Org {
		return domain.Webhook{}, domain.ErrWebhookNotFound
	}
	return w, nil
}

// Delete removes one of the caller's webhooks and its delivery records;
// deliveries in progress stop. Returns ErrWebhookNotFound.
func (s *WebhookService) Delete(ctx context.Context, p domain.Principal, id domain.WebhookID) error {
	if p.Admin {
		return domain.ErrAdminNotTenant
	}
	return s.e.submit(ctx, func(x *txn) error {
		w, ok := x.webhook(id)
		if !ok || w.Org != p.Org {
			return domain.ErrWebhookNotFound
		}
		x.deleteWebhook(id)
		return nil
	})
}

// Deliveries returns the newest delivery records of one of the caller's
// webhooks, newest first. Returns ErrWebhookNotFound.
func (s *WebhookService) Deliveries(ctx context.Context, p domain.Principal, id domain.WebhookID) ([]domain.Delivery, error) {
	if _, err := s.Get(ctx, p, id); err != nil {
		return nil, err
	}
	ds := s.e.hooks.deliveries(id)
	slices.Reverse(ds)
	return ds, nil
}

// webhookTable is the committed webhooks and their newest delivery records,
// in memory. The writer changes it after a commit; everyone else reads.
type webhookTable struct {
	mu      sync.RWMutex
	byID    map[domain.WebhookID]*hookEntry
	changed chan struct{} // closed and replaced when webhooks come or go
}

type hookEntry struct {
	hook       domain.Webhook
	deliveries []domain.Delivery // ascending Seq, at most maxDeliveryRecords
}

func newWebhookTable() *webhookTable {
	return &webhookTable{byID: make(map[domain.WebhookID]*hookEntry), changed: make(chan struct{})}
}

func (t *webhookTable) restore(hooks []domain.Webhook, ds []domain.Delivery) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range hooks {
		t.byID[w.ID] = &hookEntry{hook: w}
	}
	for _, d := range ds {
		if h := t.byID[d.Webhook]; h != nil {
			h.record(d)
		}
	}
}

func (h *hookEntry) record(d domain.Delivery) {
	i, found := slices.BinarySearchFunc(h.deliveries, d.Seq, func(x domain.Delivery, seq uint64) int { return cmp.Compare(x.Seq, seq) })
	if found {
		h.deliveries[i] = d
		return
	}
	h.deliveries = slices.Insert(h.deliveries, i, d)
	if len(h.deliveries) > maxDeliveryRecords {
		h.deliveries = slices.Delete(h.deliveries, 0, len(h.deliveries)-maxDeliveryRecords)
	}
}

// apply folds committed webhook changes in.
func (t *webhookTable) apply(changes []domain.Change) {
	if !slices.ContainsFunc(changes, isWebhookChange) {
		return // the lock path: no webhook lock taken
	}
	comings := false
	t.mu.Lock()
	for _, c := range changes {
		switch c := c.(type) {
		case domain.WebhookSaved:
			if h := t.byID[c.Webhook.ID]; h != nil {
				h.hook = c.Webhook
			} else {
				t.byID[c.Webhook.ID] = &hookEntry{hook: c.Webhook}
				comings = true
			}
		case domain.WebhookDeleted:
			delete(t.byID, c.ID)
			comings = true
		case domain.WebhookAdvanced:
			if h := t.byID[c.ID]; h != nil {
				h.hook.Cursor = max(h.hook.Cursor, c.Cursor)
			}
		case domain.DeliveryRecorded:
			if h := t.byID[c.Delivery.Webhook]; h != nil {
				h.record(c.Delivery)
			}
		}
	}
	var ch chan struct{}
	if comings {
		ch, t.changed = t.changed, make(chan struct{})
	}
	t.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

func isWebhookChange(c domain.Change) bool {
	switch c.(type) {
	case domain.WebhookSaved, domain.WebhookDeleted, domain.WebhookAdvanced, domain.DeliveryRecorded:
		return true
	}
	return false
}

// watch returns a channel closed when webhooks are next added or removed.
func (t *webhookTable) watch() <-chan struct{} {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.changed
}

// minCursor returns the lowest cursor of any webhook: events above it may
// still have to be delivered.
func (t *webhookTable) minCursor() (uint64, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	var low uint64
	found := false
	for _, h := range t.byID {
		if !found || h.hook.Cursor < low {
			low, found = h.hook.Cursor, true
		}
	}
	return low, found
}

func (t *webhookTable) get(id domain.WebhookID) (domain.Webhook, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if h := t.byID[id]; h != nil {
		return h.hook, true
	}
	return domain.Webhook{}, false
}

// all returns every webhook, in no particular order.
func (t *webhookTable) all() []domain.Webhook {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]domain.Webhook, 0, len(t.byID))
	for _, h := range t.byID {
		out = append(out, h.hook)
	}
	return out
}

// list returns the webhooks of org, oldest first.
func (t *webhookTable) list(org domain.OrgID) []domain.Webhook {
	t.mu.RLock()
	out := []domain.Webhook{}
	for _, h := range t.byID {
		if h.hook.Org == org {
			out = append(out, h.hook)
		}
	}
	t.mu.RUnlock()
	slices.SortFunc(out, func(a, b domain.Webhook) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return out
}

func (t *webhookTable) count(org domain.OrgID) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	for _, h := range t.byID {
		if h.hook.Org == org {
			n++
		}
	}
	return n
}

// deliveries returns the delivery records of id, oldest first.
func (t *webhookTable) deliveries(id domain.WebhookID) []domain.Delivery {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if h := t.byID[id]; h != nil {
		return slices.Clone(h.deliveries)
	}
	return []domain.Delivery{}
}

// delivery returns the record of event seq for id, if one is kept.
func (t *webhookTable) delivery(id domain.WebhookID, seq uint64) (domain.Delivery, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h := t.byID[id]
	if h == nil {
		return domain.Delivery{}, false
	}
	i, found := slices.BinarySearchFunc(h.deliveries, seq, func(x domain.Delivery, seq uint64) int { return cmp.Compare(x.Seq, seq) })
	if !found {
		return domain.Delivery{}, false
	}
	return h.deliveries[i], true
}

// The writer's view of webhooks: the committed table plus what earlier
// requests of the same batch created or deleted.

func (x *txn) webhook(id domain.WebhookID) (domain.Webhook, bool) {
	if w, ok := x.hooks[id]; ok {
		return w, w.ID != ""
	}
	return x.e.hooks.get(id)
}

func (x *txn) webhookCount(org domain.OrgID) int {
	n := x.e.hooks.count(org)
	for id, w := range x.hooks {
		_, committed := x.e.hooks.get(id)
		switch {
		case w.ID != "" && !committed && w.Org == org:
			n++
		case w.ID == "" && committed:
			if c, _ := x.e.hooks.get(id); c.Org == org {
				n--
			}
		}
	}
	return n
}

func (x *txn) saveWebhook(w domain.Webhook) {
	x.hook(w.ID, w)
	x.changes = append(x.changes, domain.WebhookSaved{Webhook: w})
}

func (x *txn) deleteWebhook(id domain.WebhookID) {
	x.hook(id, domain.Webhook{})
	x.changes = append(x.changes, domain.WebhookDeleted{ID: id})
}

func (x *txn) hook(id domain.WebhookID, w domain.Webhook) {
	if x.hooks == nil {
		x.hooks = make(map[domain.WebhookID]domain.Webhook)
	}
	x.hooks[id] = w
}
