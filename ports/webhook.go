package ports

import (
	"context"
	"time"

	"github.com/octostore/octostore/domain"
)

// WebhookSender makes one delivery attempt: an HTTP POST of the event to
// the webhook's URL.
type WebhookSender interface {
	// Send POSTs the event as JSON to r.URL with the delivery headers
	// (signed when r.Secret is set) and returns the receiver's status
	// code. It returns an error, and status 0, when no response came
	// back: the address was refused (not public, unless private delivery
	// is allowed), the connection failed, or the attempt timed out. A
	// non-2xx status is not an error; the caller decides what it means.
	Send(ctx context.Context, r WebhookRequest) (status int, err error)
}

// WebhookRequest is one delivery attempt.
type WebhookRequest struct {
	URL        string
	Secret     string
	DeliveryID string // the same for every attempt of one delivery
	Event      domain.Event
	At         time.Time // the attempt's time, signed as webhook-timestamp
}
