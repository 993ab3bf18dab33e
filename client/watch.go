package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Frame is one frame of a watch stream: an event (Event is its type, ID its
// seq and Data its JSON), a "snapshot", a "reset" or a "lagged".
type Frame struct {
	ID    string
	Event string
	Data  json.RawMessage
}

// WatchTarget is what a watch follows: one lock, or every lock whose name
// matches Prefix (component by component; "" for the whole org).
type WatchTarget struct {
	Name   string
	Prefix string
}

func (t WatchTarget) path() string {
	if t.Name != "" {
		return lockPath(t.Name, "/watch")
	}
	if t.Prefix == "" {
		return "/watch"
	}
	return "/watch?" + url.Values{"prefix": {t.Prefix}}.Encode()
}

// Watch follows t and calls handle for every frame, in order, until ctx
// ends (it returns ctx's error) or handle returns an error (returned as
// is). It starts after lastID when that is set, else with a snapshot. When
// the stream ends — "lagged", a server restart, a network failure — it
// reconnects with Last-Event-ID set to the last id it passed on, so that
// no event is missed or repeated (the server sends "reset" and a snapshot
// when that id is no longer retained). A refusal that retrying cannot fix
// (bad token, bad name) is returned.
func (c *Client) Watch(ctx context.Context, t WatchTarget, lastID string, handle func(Frame) error) error {
	backoff := 250 * time.Millisecond
	for {
		progressed, err := c.watchOnce(ctx, t, &lastID, handle)
		var e *Error
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.As(err, &e) && e.Status != http.StatusTooManyRequests && e.Status < 500:
			return err
		case errors.Is(err, errHandler):
			return errors.Unwrap(err)
		}
		if progressed {
			backoff = 250 * time.Millisecond
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return ctx.Err()
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// errHandler wraps an error of the caller's handler.
var errHandler = errors.New("handler")

type handlerError struct{ err error }

func (h handlerError) Error() string   { return h.err.Error() }
func (h handlerError) Is(t error) bool { return t == errHandler }
func (h handlerError) Unwrap() error   { return h.err }

// watchOnce reads one connection's frames; it reports whether any came.
func (c *Client) watchOnce(ctx context.Context, t WatchTarget, lastID *string, handle func(Frame) error) (bool, error) {
	req, err := c.request(ctx, http.MethodGet, t.path(), nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	if *lastID != "" {
		req.Header.Set("Last-Event-ID", *lastID)
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return false, fmt.Errorf("watch: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return false, problem(res)
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20) // a snapshot is one line
	var f Frame
	progressed := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if f.Event == "" && f.Data == nil {
				continue
			}
			if f.Event == "" {
				f.Event = "message"
			}
			progressed = true
			if err := handle(f); err != nil {
				return true, handlerError{err}
			}
			if f.ID != "" {
				*lastID = f.ID
			}
			if f.Event == "lagged" {
				return true, nil // resume at once
			}
			f = Frame{}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id:"):
			f.ID = strings.TrimSpace(strings.TrimPrefix(line, "id:"))
		case strings.HasPrefix(line, "event:"):
			f.Event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			f.Data = append(f.Data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " ")...)
		}
	}
	if err := sc.Err(); err != nil {
		return progressed, fmt.Errorf("watch: %w", err)
	}
	return progressed, nil
}
