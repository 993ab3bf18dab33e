package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"reflect"
	"slices"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// The watch routes are huma operations whose output is a stream written
// here, not with huma's sse package: a refusal (401, 422, 429) must be an
// ordinary problem answered before any byte of the stream, a heartbeat is
// a comment line, which that package cannot send, and each write needs its
// own deadline. The OpenAPI description documents every frame as that
// package would (see watchStream).

// WatchSnapshot is the first frame of a fresh stream, and the one after
// reset: the state of the watched locks.
type WatchSnapshot struct {
	Seq   uint64        `json:"seq" doc:"The last event the state reflects (also the frame's id): the events that follow are exactly the changes since." example:"1042"`
	Locks []WatchedLock `json:"locks" nullable:"false" doc:"The watched locks that are held or delayed now, in name order; a lock not listed is free."`
}

// WatchedLock is one lock of a snapshot: what anyone in the org may see of
// it, without its metadata or its holder's session or owner.
type WatchedLock struct {
	Name string `json:"name" example:"db/primary"`
	// No enum in the schema: generated clients would rename the
	// constants of LockInfo's status, which has the same values.
	Status       string `json:"status" doc:"held, or delayed: lost without a release and in its lock delay until available_at." example:"held"`
	Holder       string `json:"holder,omitempty" doc:"The principal holding the lock, org/user (held locks only)." example:"acme/alice"`
	FencingToken uint64 `json:"fencing_token,omitempty" doc:"Token of the current grant (held locks only)." example:"42"`
	ExpiresAt    *Time  `json:"expires_at,omitempty" doc:"When the current lease runs out unless renewed (held locks only)."`
	AvailableAt  *Time  `json:"available_at,omitempty" doc:"When a delayed lock can be taken again (delayed locks only)."`
	Waiters      int    `json:"waiters" doc:"Blocking acquires queued for the lock now."`
}

// WatchReset is the data of a reset frame.
type WatchReset struct {
	Message string `json:"message" doc:"Why the stream starts over." example:"the Last-Event-ID you resumed from is no longer retained"`
}

// WatchLagged is the data of a lagged frame, the last of its stream.
type WatchLagged struct {
	LastSeq uint64 `json:"last_seq" doc:"Every event up to this seq has been sent (or was not for you); it is also the frame's id. Reconnect with it as Last-Event-ID to go on without a gap." example:"1042"`
	Message string `json:"message" doc:"What to do." example:"this stream fell too far behind and ends; reconnect with Last-Event-ID: 1042"`
}

const (
	resetMessage = "the Last-Event-ID you resumed from is no longer retained, or was never sent; " +
		"changes since then are lost to you, and the snapshot that follows is the state now"
	laggedMessage = "this stream fell too far behind the newest events and ends; reconnect with Last-Event-ID: "
)

type watchLockInput struct {
	LockNamePath
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this event: the id of the last frame you received (browsers send it when they reconnect). Without it the stream starts with a snapshot."`
}

type watchLocksInput struct {
	Prefix      string `query:"prefix" doc:"Watch the names equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below. Empty: every lock of your org." example:"db/"`
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this event: the id of the last frame you received (browsers send it when they reconnect). Without it the stream starts with a snapshot."`
}

type watchOutput struct {
	CacheControl   string `header:"Cache-Control" doc:"no-cache: a stream is never cached."`
	AccelBuffering string `header:"X-Accel-Buffering" doc:"no: asks a proxy such as nginx to pass each frame on at once."`
	Body           func(huma.Context)
}

var (
	errInvalidLastEventID = domain.Invalid("invalid_last_event_id",
		"Last-Event-ID must be the decimal id of a frame this server sent (an event's seq)")
	errLastEventID = errorDoc{http.StatusUnprocessableEntity, "`invalid_last_event_id`: Last-Event-ID is not a decimal event id.",
		atField("header.Last-Event-ID", errInvalidLastEventID)}
	errTooManyWatches = errorDoc{http.StatusTooManyRequests, "`too_many_watches`: the server, or you, have as many watch streams open as allowed; close one or retry later.",
		application.ErrTooManyWatches}
	errWatchQuota = errorDoc{http.StatusTooManyRequests, quotaCodes("watch_streams"),
		&domain.QuotaExceededError{Quota: domain.QuotaWatchStreams, Limit: 1_000}}
)

const watchDescription = " The answer is a stream of Server-Sent Events (`text/event-stream`); the 200 response lists its frames. " +
	"Reconnect with `Last-Event-ID` set to the id of the last frame you received, and the stream resumes after it without a gap or a duplicate, as long as that event is retained (else `reset` and a fresh `snapshot`). " +
	"A stream that falls too far behind gets `lagged` and ends; one also ends when the server stops. Either way, resume with `Last-Event-ID`. " +
	"A comment line (`: heartbeat`) keeps an idle stream open through proxies. " +
	"This page's Try it out shows a response only once it ends, which a stream never does: use `curl -N` or an EventSource."

func (s *Server) registerWatches() {
	register(s, huma.Operation{
		OperationID: "watch-lock", Method: http.MethodGet, Path: "/locks/{name}/watch",
		Summary: "Watch a lock", Tags: []string{"events"}, Security: bearer,
		Description: "Streams the changes of one lock of your org, after a first `snapshot` of its state." + watchDescription,
		Responses:   map[string]*huma.Response{"200": s.watchStream()},
	}, s.watchLock, errUnauthorized, errForbidden, errDenied, errInvalidName, errLastEventID, errTooManyWatches, errWatchQuota)

	register(s, huma.Operation{
		OperationID: "watch-locks", Method: http.MethodGet, Path: "/watch",
		Summary: "Watch locks below a prefix", Tags: []string{"events"}, Security: bearer,
		Description: "Streams the changes of every lock of your org below `prefix` (all of them without one), after a first `snapshot` of their state." + watchDescription,
		Responses:   map[string]*huma.Response{"200": s.watchStream()},
	}, s.watchLocks, errUnauthorized, errForbidden, errInvalidPrefix, errLastEventID, errTooManyWatches, errWatchQuota)
}

func (s *Server) watchLock(ctx context.Context, in *watchLockInput) (*watchOutput, error) {
	name, err := in.lockName()
	if err != nil {
		return nil, err
	}
	return s.watch(ctx, application.WatchTarget{Name: name}, in.LastEventID)
}

func (s *Server) watchLocks(ctx context.Context, in *watchLocksInput) (*watchOutput, error) {
	prefix, err := domain.ParsePrefix(in.Prefix)
	if err != nil {
		return nil, atField("query.prefix", err)
	}
	return s.watch(ctx, application.WatchTarget{Prefix: prefix}, in.LastEventID)
}

// watch opens a watch of target. Every refusal comes here, before a byte
// of the stream is written, so it is an ordinary problem.
func (s *Server) watch(ctx context.Context, target application.WatchTarget, lastEventID string) (*watchOutput, error) {
	last, err := parseLastEventID(lastEventID)
	if err != nil {
		return nil, err
	}
	// Revoking the token the stream was opened with ends the stream.
	target.Auth = domain.HashToken(bearerToken(ctx))
	w, err := s.events.Watch(ctx, principal(ctx), target, last)
	if err != nil {
		return nil, err
	}
	return s.streamOf(w, false), nil
}

// parseLastEventID reads a Last-Event-ID header (nil when not sent).
func parseLastEventID(h string) (*uint64, error) {
	if h == "" {
		return nil, nil
	}
	id, err := strconv.ParseUint(h, 10, 64)
	if err != nil {
		return nil, atField("header.Last-Event-ID", errInvalidLastEventID)
	}
	return &id, nil
}

// streamOf is the answer of an opened watch; config says it follows a
// config key (its snapshots are the key's).
func (s *Server) streamOf(w *application.Watch, config bool) *watchOutput {
	return &watchOutput{CacheControl: "no-cache", AccelBuffering: "no",
		Body: func(hctx huma.Context) { s.stream(hctx, w, config) }}
}

// stream writes the frames of w until the watch ends (after lagged, or
// when the server stops), the client goes away or a write fails, and then
// closes w. A comment line goes out after WatchHeartbeat of silence.
func (s *Server) stream(hctx huma.Context, w *application.Watch, config bool) {
	defer w.Close()
	ctx := hctx.Context()
	_, rw := humago.Unwrap(hctx)
	out := &sseWriter{w: rw, rc: http.NewResponseController(rw), timeout: s.cfg.WatchWriteTimeout, config: config}
	// The last write's deadline also bounds what net/http writes after
	// the handler (the end of the chunked body); start it afresh.
	defer func() { _ = out.rc.SetWriteDeadline(time.Now().Add(out.timeout)) }()
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.WriteHeader(http.StatusOK)
	// The headers go out at once: a resumed stream may have nothing to
	// send for a while.
	err := out.send()
	for err == nil {
		next, cancel := context.WithTimeout(ctx, s.cfg.WatchHeartbeat)
		frames, nerr := w.Next(next)
		// Asked of the context, not of the error: a storage read that the
		// deadline interrupts may report it in its own words. The watch
		// has not moved then, and the next call reads again.
		idle := errors.Is(next.Err(), context.DeadlineExceeded)
		cancel()
		switch {
		case nerr == nil:
			for _, f := range frames {
				out.frame(f)
			}
		case ctx.Err() != nil || errors.Is(nerr, application.ErrWatchEnded):
			return
		case idle:
			out.heartbeat()
		default:
			s.log.ErrorContext(ctx, "watch stream failed", "request_id", RequestID(ctx), "err", nerr)
			return
		}
		err = out.send()
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		s.log.InfoContext(ctx, "watch stream cut: the client stopped reading", "request_id", RequestID(ctx), "timeout", out.timeout.String())
	}
}

// sseWriter frames a watch stream as Server-Sent Events.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	buf     []byte
	config  bool // a config key watch: snapshots are the key's
}

// maxKeptFrameBuffer keeps one large snapshot from holding its buffer for
// the rest of a long stream.
const maxKeptFrameBuffer = 64 << 10

// frame queues one frame of the watch.
func (o *sseWriter) frame(f application.Frame) {
	switch f.Kind {
	case application.FrameSnapshot:
		if o.config {
			o.add(f.Seq, true, "snapshot", configSnapshotOf(f))
		} else {
			o.add(f.Seq, true, "snapshot", snapshotOf(f))
		}
	case application.FrameEvent:
		o.add(f.Seq, true, string(f.Event.Kind), eventOf(f.Event))
	case application.FrameReset:
		o.add(0, false, "reset", WatchReset{Message: resetMessage})
	case application.FrameLagged:
		o.add(f.Seq, true, "lagged", WatchLagged{LastSeq: f.Seq, Message: laggedMessage + strconv.FormatUint(f.Seq, 10)})
	}
}

// add queues a frame: its id (when it has one), its event name and its
// data as one line of JSON (encoding/json escapes every line break).
func (o *sseWriter) add(id uint64, hasID bool, event string, data any) {
	b, err := json.Marshal(data)
	if err != nil { // the frame types always encode
		panic(err)
	}
	if hasID {
		o.buf = append(o.buf, "id: "...)
		o.buf = strconv.AppendUint(o.buf, id, 10)
		o.buf = append(o.buf, '\n')
	}
	o.buf = append(o.buf, "event: "...)
	o.buf = append(o.buf, event...)
	o.buf = append(o.buf, "\ndata: "...)
	o.buf = append(o.buf, b...)
	o.buf = append(o.buf, "\n\n"...)
}

// heartbeat queues a comment line, which clients ignore and proxies see
// as traffic.
func (o *sseWriter) heartbeat() { o.buf = append(o.buf, ": heartbeat\n\n"...) }

// send writes what is queued and flushes it to the client, within the
// write timeout: a client that stops reading cannot hold the stream's
// goroutine beyond it.
func (o *sseWriter) send() error {
	if err := o.rc.SetWriteDeadline(time.Now().Add(o.timeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return err
	}
	if len(o.buf) > 0 {
		if _, err := o.w.Write(o.buf); err != nil {
			return err
		}
		o.buf = o.buf[:0]
		if cap(o.buf) > maxKeptFrameBuffer {
			o.buf = nil
		}
	}
	return o.rc.Flush()
}

// snapshotOf converts a snapshot frame for the wire.
func snapshotOf(f application.Frame) WatchSnapshot {
	out := WatchSnapshot{Seq: f.Seq, Locks: make([]WatchedLock, 0, len(f.Locks))}
	for _, v := range f.Locks {
		l := WatchedLock{Name: string(v.Lock.Key.Name), Status: string(v.Status), Waiters: v.Waiters}
		switch v.Status {
		case application.StatusHeld:
			l.Holder, l.FencingToken, l.ExpiresAt = holderOf(v.Lock), uint64(v.Lock.Token), wireTimeRef(v.Lock.ExpiresAt)
		case application.StatusDelayed:
			l.AvailableAt = wireTimeRef(v.AvailableAt)
		}
		out.Locks = append(out.Locks, l)
	}
	return out
}

// watchStream documents the 200 answer of a watch: a text/event-stream
// whose possible frames are listed, each with its event name, whether it
// has an id, and the schema of its data (the form huma's sse package gives
// a stream: an array of the frames). The list is one component, WatchStream,
// that both watch operations refer to.
func (s *Server) watchStream() *huma.Response {
	schemas := s.api.OpenAPI().Components.Schemas
	if _, ok := schemas.Map()["WatchStream"]; !ok {
		schemas.Map()["WatchStream"] = watchFrames(schemas)
	}
	return &huma.Response{
		Description: "A stream of Server-Sent Events, one frame at a time: `id: <seq>`, `event: <name>`, `data: <one line of JSON>`, then an empty line.\n\n" +
			"- `snapshot` comes first (and after `reset`): the watched locks that are held or delayed, as of the event in its id.\n" +
			"- `lock.acquired`, `lock.released`, `lock.expired`, `lock.session_ended`: one change each, in seq order; the id is the event's seq.\n" +
			"- `config.updated`, `config.deleted` (prefix watches only): a config key below the prefix changed; never its value.\n" +
			"- `flag.updated`, `flag.deleted` (`GET /watch` only, for flags whose names match its prefix): one flag change each, `{seq, type, flag, version, by, at}`.\n" +
			"- `reset` (no id): the Last-Event-ID is no longer retained, or was never sent; a fresh `snapshot` follows.\n" +
			"- `lagged`: the stream fell too far behind and ends after it; resume with its id as Last-Event-ID.\n" +
			"- `: heartbeat`, a comment line, when nothing else was sent for a while (15 seconds by default), so that proxies keep the stream open.\n\n" +
			"Example:\n\n```\nid: 1041\nevent: snapshot\ndata: {\"seq\":1041,\"locks\":[]}\n\nid: 1042\nevent: lock.acquired\n" +
			"data: {\"seq\":1042,\"type\":\"lock.acquired\",\"name\":\"db/primary\",\"fencing_token\":42,\"holder\":\"acme/alice\",\"at\":\"2026-11-26T10:00:30.123Z\"}\n\n: heartbeat\n\n```",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Ref: "#/components/schemas/WatchStream"}}},
	}
}

// configWatchStream documents the 200 answer of a config key watch, as
// watchStream does for locks; its frames are the ConfigWatchStream
// component.
func (s *Server) configWatchStream() *huma.Response {
	schemas := s.api.OpenAPI().Components.Schemas
	if _, ok := schemas.Map()["ConfigWatchStream"]; !ok {
		schemas.Map()["ConfigWatchStream"] = streamFrames(schemas,
			ConfigWatchSnapshot{}, "First frame of a fresh stream, and the one after reset: the key's newest version, as of the event in id.",
			domain.ConfigEventKinds, "One change of the watched key (never its value).")
	}
	return &huma.Response{
		Description: "A stream of Server-Sent Events, one frame at a time: `id: <seq>`, `event: <name>`, `data: <one line of JSON>`, then an empty line.\n\n" +
			"- `snapshot` comes first (and after `reset`): the key's newest version (0 if never written), as of the event in its id.\n" +
			"- `config.updated`, `config.deleted`: one change each, in seq order; the id is the event's seq. Read the value with GET /config/{key}?version=N.\n" +
			"- `reset` (no id): the Last-Event-ID is no longer retained, or was never sent; a fresh `snapshot` follows.\n" +
			"- `lagged`: the stream fell too far behind and ends after it; resume with its id as Last-Event-ID.\n" +
			"- `: heartbeat`, a comment line, when nothing else was sent for a while.\n\n" +
			"Example:\n\n```\nid: 1041\nevent: snapshot\ndata: {\"seq\":1041,\"key\":\"app/feature-x\",\"version\":3,\"deleted\":false,\"updated_at\":\"2026-11-26T10:00:00.000Z\",\"updated_by\":\"alice\"}\n\n" +
			"id: 1042\nevent: config.updated\ndata: {\"seq\":1042,\"type\":\"config.updated\",\"key\":\"app/feature-x\",\"version\":4,\"by\":\"alice\",\"at\":\"2026-11-26T10:00:30.123Z\"}\n\n```",
		Content: map[string]*huma.MediaType{"text/event-stream": {Schema: &huma.Schema{Ref: "#/components/schemas/ConfigWatchStream"}}},
	}
}

// watchFrames is the schema of a lock watch stream.
func watchFrames(reg huma.Registry) *huma.Schema {
	return streamFrames(reg, WatchSnapshot{}, "First frame of a fresh stream, and the one after reset: the held or delayed locks watched, as of the event in id.",
		slices.Concat(domain.LockEventKinds, domain.ConfigEventKinds), "One change of a watched lock, or (on a prefix watch) of a config key below the prefix.")
}

// streamFrames is the schema of a watch stream whose snapshot frame
// carries snapshot and whose event frames are kinds.
func streamFrames(reg huma.Registry, snapshot any, snapshotDoc string, kinds []domain.EventKind, eventDoc string) *huma.Schema {
	frame := func(event string, withID bool, data any, doc string) *huma.Schema {
		f := &huma.Schema{
			Title: "Event " + event, Description: doc, Type: huma.TypeObject,
			Properties: map[string]*huma.Schema{
				"event": {Type: huma.TypeString, Enum: []any{event}, Description: "The event name."},
				"data":  reg.Schema(reflect.TypeOf(data), true, ""),
			},
			Required:             []string{"event", "data"},
			AdditionalProperties: false,
		}
		if withID {
			f.Properties["id"] = &huma.Schema{Type: huma.TypeInteger, Format: "int64", Description: "The event's seq; send it back as Last-Event-ID to resume after it."}
			f.Required = append([]string{"id"}, f.Required...)
		}
		return f
	}
	frames := []*huma.Schema{frame("snapshot", true, snapshot, snapshotDoc)}
	for _, k := range kinds {
		frames = append(frames, frame(string(k), true, Event{}, eventDoc))
	}
	for _, k := range domain.FlagEventKinds {
		frames = append(frames, frame(string(k), true, Event{}, "One change of a feature flag whose name matches the prefix (GET /watch only)."))
	}
	frames = append(frames,
		frame("reset", false, WatchReset{}, "The Last-Event-ID you resumed from is no longer retained (or was never sent): a snapshot follows. Changes in between are lost to you; the snapshot is the state now."),
		frame("lagged", true, WatchLagged{}, "The stream fell too far behind the newest events; it ends after this frame. Reconnect with Last-Event-ID set to its id."),
	)
	return &huma.Schema{
		Title:       "Server Sent Events",
		Description: "A watch stream. Each item of oneOf is one possible frame, sent as UTF-8 text in the form of the Server-Sent Events specification.",
		Type:        huma.TypeArray,
		Items:       &huma.Schema{OneOf: frames},
	}
}
