package client

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Session is an open session, as the server answered.
type Session struct {
	ID                string    `json:"session_id"`
	TTLSeconds        int       `json:"ttl_seconds"`
	ExpiresAt         time.Time `json:"expires_at"`
	KeepaliveInterval int       `json:"keepalive_interval_seconds"`
}

// OpenSession opens a session that lives ttl without a keepalive.
func (c *Client) OpenSession(ctx context.Context, ttl time.Duration) (Session, error) {
	var s Session
	err := c.do(ctx, http.MethodPost, "/sessions", map[string]any{"ttl_seconds": int(ttl / time.Second)}, &s)
	return s, err
}

// KeepAlive extends the session by its TTL and returns its new expiry.
// A session that has expired answers session_expired (410): it is never
// revived, and its ephemeral locks are gone.
func (c *Client) KeepAlive(ctx context.Context, id string) (time.Time, error) {
	var out struct {
		ExpiresAt time.Time `json:"expires_at"`
	}
	err := c.do(ctx, http.MethodPost, "/sessions/"+url.PathEscape(id)+"/keepalive", nil, &out)
	return out.ExpiresAt, err
}

// CloseSession ends the session and releases its ephemeral locks at once.
func (c *Client) CloseSession(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/sessions/"+url.PathEscape(id), nil, nil)
}

// AcquireOptions are the optional parts of an acquire.
type AcquireOptions struct {
	TTL       time.Duration // lease length (not for an ephemeral lock); the server's default when 0
	Metadata  *string
	Owner     string
	SessionID string
	Ephemeral bool
	// Wait queues the request while the lock is busy, up to the
	// server's cap (60 s).
	Wait time.Duration
}

// Lease is a grant.
type Lease struct {
	Name         string    `json:"name"`
	LeaseID      string    `json:"lease_id"`
	FencingToken uint64    `json:"fencing_token"`
	ExpiresAt    time.Time `json:"expires_at"`
	Metadata     string    `json:"metadata"`
	Holder       string    `json:"holder"`
	Owner        string    `json:"owner,omitempty"`
	SessionID    string    `json:"session_id,omitempty"`
	Ephemeral    bool      `json:"ephemeral,omitempty"`
}

// Acquire takes the lock. A busy lock answers lock_held (409) or
// lock_delayed (423), after Wait when one is given.
func (c *Client) Acquire(ctx context.Context, name string, o AcquireOptions) (Lease, error) {
	body := map[string]any{}
	if o.TTL > 0 {
		body["ttl_seconds"] = int(o.TTL / time.Second)
	}
	if o.Metadata != nil {
		body["metadata"] = *o.Metadata
	}
	if o.Owner != "" {
		body["owner"] = o.Owner
	}
	if o.SessionID != "" {
		body["session_id"] = o.SessionID
	}
	if o.Ephemeral {
		body["ephemeral"] = true
	}
	if o.Wait > 0 {
		body["wait_seconds"] = int(o.Wait / time.Second)
	}
	var l Lease
	err := c.do(ctx, http.MethodPost, lockPath(name, "/acquire"), body, &l)
	return l, err
}

// Release frees the lock held by lease.
func (c *Client) Release(ctx context.Context, name, lease string) error {
	return c.do(ctx, http.MethodPost, lockPath(name, "/release"), map[string]any{"lease_id": lease}, nil)
}

// Lock is what anyone in the org may see of a lock.
type Lock struct {
	Name         string     `json:"name"`
	Status       string     `json:"status"` // held, delayed or free
	FencingToken uint64     `json:"fencing_token,omitempty"`
	ExpiresAt    *time.Time `json:"expires_at,omitempty"`
	AvailableAt  *time.Time `json:"available_at,omitempty"`
	Metadata     string     `json:"metadata,omitempty"`
	Holder       string     `json:"holder,omitempty"`
	Owner        string     `json:"owner,omitempty"`
	SessionID    string     `json:"session_id,omitempty"`
	Ephemeral    bool       `json:"ephemeral,omitempty"`
	Waiters      int        `json:"waiters"`
}

// Get describes the lock now.
func (c *Client) Get(ctx context.Context, name string) (Lock, error) {
	var l Lock
	err := c.do(ctx, http.MethodGet, lockPath(name, ""), nil, &l)
	if l.Name == "" {
		l.Name = name
	}
	return l, err
}

// List returns every held lock whose name matches prefix (component by
// component; "" for all), in name order, reading page after page.
func (c *Client) List(ctx context.Context, prefix string) ([]Lock, error) {
	var all []Lock
	cursor := ""
	for {
		q := url.Values{"limit": {"1000"}}
		if prefix != "" {
			q.Set("prefix", prefix)
		}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		var page struct {
			Locks      []Lock `json:"locks"`
			NextCursor string `json:"next_cursor"`
		}
		if err := c.do(ctx, http.MethodGet, "/locks?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page.Locks...)
		if page.NextCursor == "" {
			return all, nil
		}
		cursor = page.NextCursor
	}
}
