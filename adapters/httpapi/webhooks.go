package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// exampleWebhookID is the webhook id of the examples.
const exampleWebhookID = "wh_9f86d081884c7d65"

type webhookPath struct {
	ID string `path:"id" maxLength:"64" doc:"The id that creating the webhook (POST /webhooks) returned." example:"wh_9f86d081884c7d65"`
}

// CreateWebhookRequest is the body of creating a webhook.
type CreateWebhookRequest struct {
	URL    string   `json:"url" minLength:"1" maxLength:"2048" doc:"Where deliveries are POSTed: an absolute https:// URL without user name or password, whose address is public (checked again at every delivery). Servers started with webhook private delivery allowed also take http:// and private addresses." example:"https://hooks.example.com/octostore"`
	Events []string `json:"events" nullable:"false" maxItems:"16" doc:"The event types to deliver: lock.acquired, lock.released, lock.expired, lock.session_ended, lock.* (all lock events), flag.updated, flag.deleted, flag.* (all flag events) or * (every event)." example:"[\"lock.*\"]"`
	Prefix string   `json:"prefix,omitempty" maxLength:"257" doc:"Only events of names equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below. Empty: every lock of your org." example:"db/"`
	Secret string   `json:"secret,omitempty" maxLength:"256" doc:"Signs each delivery (X-OctoStore-Signature and webhook-signature, both HMAC-SHA256): 1-256 printable ASCII characters. Never shown again."`
}

type createWebhookInput struct {
	Body CreateWebhookRequest
}

// Webhook is a subscription as its org sees it; the secret is never shown.
type Webhook struct {
	ID        string   `json:"id" example:"wh_9f86d081884c7d65"`
	URL       string   `json:"url" example:"https://hooks.example.com/octostore"`
	Events    []string `json:"events" nullable:"false" doc:"The event types delivered." example:"[\"lock.*\"]"`
	Prefix    string   `json:"prefix" doc:"Only events of names below this path are delivered; empty: every lock of your org." example:"db/"`
	Signed    bool     `json:"signed" doc:"Whether deliveries are signed: a secret was set."`
	Owner     string   `json:"owner" doc:"The user who created it: only events of names this user may observe (ACL observe) are delivered, decided when each event is delivered. Empty for webhooks created before owners were recorded; those get only names every member may observe." example:"alice"`
	CreatedAt Time     `json:"created_at" doc:"When it was created. Only events recorded after this are delivered."`
}

type webhookOutput struct {
	Body Webhook
}

// WebhookList is every webhook of the caller's org.
type WebhookList struct {
	Webhooks []Webhook `json:"webhooks" nullable:"false" doc:"Oldest first."`
}

type webhookListOutput struct {
	Body WebhookList
}

// Delivery is the record of one event's delivery to a webhook.
type Delivery struct {
	ID            string `json:"id" doc:"The delivery's id, the same for every attempt (and across restarts): the X-OctoStore-Delivery and webhook-id headers, for receivers to drop duplicates." example:"dlv_9f86d081884c7d65_1042"`
	Seq           uint64 `json:"seq" doc:"The event's seq." example:"1042"`
	Type          string `json:"type" doc:"The event's type." example:"lock.acquired"`
	Attempts      int    `json:"attempts" doc:"Attempts made so far." example:"1"`
	State         string `json:"state" enum:"pending,delivered,failed" doc:"pending: not delivered yet, retried at next_attempt_at; delivered: the receiver answered 2xx; failed: every attempt failed, given up."`
	LastStatus    int    `json:"last_status,omitempty" doc:"HTTP status of the last attempt; absent when no answer came back." example:"200"`
	LastError     string `json:"last_error,omitempty" doc:"Why the last attempt failed, when it did."`
	NextAttemptAt *Time  `json:"next_attempt_at,omitempty" doc:"When the next attempt is due (pending deliveries only)."`
	UpdatedAt     Time   `json:"updated_at" doc:"When the last attempt was made."`
}

// DeliveryList is the newest deliveries of a webhook.
type DeliveryList struct {
	Deliveries []Delivery `json:"deliveries" nullable:"false" doc:"The newest deliveries (up to 100), newest first."`
}

type deliveryListOutput struct {
	Body DeliveryList
}

var (
	errWebhookInvalid = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`); " +
		"`invalid_webhook_url`: not an absolute https:// URL, or with credentials; `webhook_address_not_allowed`: the URL names a loopback, private, link-local or other non-public address; " +
		"`invalid_event_type`: no event type, or an unknown one; `invalid_webhook_secret`: not 1-256 printable ASCII characters; `invalid_name`: bad prefix.",
		atField("body.url", domain.ErrWebhookAddressNotAllowed)}
	errWebhookID = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: the webhook id is longer than 64 bytes (`errors[].location` is `path.id`).",
		&Problem{Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Code: "validation_failed",
			Detail: humaDetails[http.StatusUnprocessableEntity], Errors: []*FieldError{{Location: "path.id", Message: "expected length <= 64"}}}}
	errWebhookNotFound = errorDoc{http.StatusNotFound, "`webhook_not_found`: no webhook with this id in your org.", domain.ErrWebhookNotFound}
)

func (s *Server) registerWebhooks() {
	register(s, huma.Operation{
		OperationID: "create-webhook", Method: http.MethodPost, Path: "/webhooks", DefaultStatus: http.StatusCreated,
		Summary: "Create a webhook", Tags: []string{"events"}, Security: bearer,
		RequestBody: requestExample("lock-events", "Deliver every lock event below db/, signed",
			"Replace url with your receiver's.",
			CreateWebhookRequest{URL: "https://hooks.example.com/octostore", Events: []string{"lock.*"}, Prefix: "db/", Secret: "a-long-random-secret"}),
		Description: "Subscribes a URL to the events of your org that `events` and `prefix` select; only events recorded after it is created are delivered. " +
			"Each event is POSTed as JSON (the `Event` schema) with `X-OctoStore-Event` and `X-OctoStore-Delivery`, and, with a secret, `X-OctoStore-Signature: sha256=<hex HMAC-SHA256(secret, body)>` and the Standard Webhooks headers `webhook-id`, `webhook-timestamp` and `webhook-signature`. " +
			"Delivery is at least once, in seq order per webhook, retried with backoff when the receiver does not answer 2xx. An org has at most as many webhooks as its `webhooks` quota allows (25 by default).",
	}, s.createWebhook, errUnauthorized, errForbidden, errWebhookInvalid, errMalformed, errTooLarge, errMediaType, errUnavailable,
		errorDoc{http.StatusTooManyRequests, quotaCodes("webhooks"), &domain.QuotaExceededError{Quota: domain.QuotaWebhooks, Limit: 25}})

	register(s, huma.Operation{
		OperationID: "list-webhooks", Method: http.MethodGet, Path: "/webhooks",
		Summary: "List webhooks", Tags: []string{"events"}, Security: bearer,
		Description: "Lists the webhooks of your org, oldest first. Secrets are never shown.",
	}, s.listWebhooks, errUnauthorized, errForbidden)

	register(s, huma.Operation{
		OperationID: "get-webhook", Method: http.MethodGet, Path: "/webhooks/{id}",
		Summary: "Describe a webhook", Tags: []string{"events"}, Security: bearer,
		Description: "One webhook of your org. Its secret is never shown.",
	}, s.getWebhook, errUnauthorized, errForbidden, errWebhookID, errWebhookNotFound)

	register(s, huma.Operation{
		OperationID: "delete-webhook", Method: http.MethodDelete, Path: "/webhooks/{id}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete a webhook", Tags: []string{"events"}, Security: bearer,
		Description: "Removes the webhook and its delivery records; deliveries in progress stop.",
	}, s.deleteWebhook, errUnauthorized, errForbidden, errWebhookID, errWebhookNotFound, errUnavailable)

	register(s, huma.Operation{
		OperationID: "list-webhook-deliveries", Method: http.MethodGet, Path: "/webhooks/{id}/deliveries",
		Summary: "List a webhook's deliveries", Tags: []string{"events"}, Security: bearer,
		Description: "The newest deliveries of the webhook, newest first: attempts, the last status or error, the next attempt of a pending one.",
	}, s.listDeliveries, errUnauthorized, errForbidden, errWebhookID, errWebhookNotFound)
}

func (s *Server) createWebhook(ctx context.Context, in *createWebhookInput) (*webhookOutput, error) {
	b := in.Body
	// The prefix is parsed here too, so that an error names the field.
	if _, err := domain.ParsePrefix(b.Prefix); err != nil {
		return nil, atField("body.prefix", err)
	}
	w, err := s.webhooks.Create(ctx, principal(ctx), application.WebhookInput{URL: b.URL, Events: b.Events, Prefix: b.Prefix, Secret: b.Secret})
	if err != nil {
		return nil, err
	}
	return &webhookOutput{Body: webhookOf(w)}, nil
}

func (s *Server) listWebhooks(ctx context.Context, _ *struct{}) (*webhookListOutput, error) {
	hooks, err := s.webhooks.List(ctx, principal(ctx))
	if err != nil {
		return nil, err
	}
	out := &webhookListOutput{Body: WebhookList{Webhooks: make([]Webhook, 0, len(hooks))}}
	for _, w := range hooks {
		out.Body.Webhooks = append(out.Body.Webhooks, webhookOf(w))
	}
	return out, nil
}

func (s *Server) getWebhook(ctx context.Context, in *webhookPath) (*webhookOutput, error) {
	w, err := s.webhooks.Get(ctx, principal(ctx), domain.WebhookID(in.ID))
	if err != nil {
		return nil, err
	}
	return &webhookOutput{Body: webhookOf(w)}, nil
}

func (s *Server) deleteWebhook(ctx context.Context, in *webhookPath) (*struct{}, error) {
	return nil, s.webhooks.Delete(ctx, principal(ctx), domain.WebhookID(in.ID))
}

func (s *Server) listDeliveries(ctx context.Context, in *webhookPath) (*deliveryListOutput, error) {
	ds, err := s.webhooks.Deliveries(ctx, principal(ctx), domain.WebhookID(in.ID))
	if err != nil {
		return nil, err
	}
	out := &deliveryListOutput{Body: DeliveryList{Deliveries: make([]Delivery, 0, len(ds))}}
	for _, d := range ds {
		out.Body.Deliveries = append(out.Body.Deliveries, deliveryOf(d))
	}
	return out, nil
}

func webhookOf(w domain.Webhook) Webhook {
	return Webhook{ID: string(w.ID), URL: w.URL, Events: w.Events, Prefix: w.Prefix.String(),
		Signed: w.Secret != "", Owner: w.Owner, CreatedAt: wireTime(w.CreatedAt)}
}

func deliveryOf(d domain.Delivery) Delivery {
	out := Delivery{ID: d.ID(), Seq: d.Seq, Type: string(d.Kind), Attempts: d.Attempts, State: string(d.State),
		LastStatus: d.LastStatus, LastError: d.LastError, UpdatedAt: wireTime(d.UpdatedAt)}
	if d.State == domain.DeliveryPending && !d.NextAt.IsZero() {
		out.NextAttemptAt = wireTimeRef(d.NextAt)
	}
	return out
}
