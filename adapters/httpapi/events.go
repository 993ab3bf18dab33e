package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// Event is one change of a lock or a flag as a reader of the org sees it:
// on the events page, on watch streams and in webhook deliveries. A lock
// event is {seq, type, name, fencing_token, holder, at}; a flag event is
// {seq, type, flag, version, by, at}. Nothing in it lets a reader act as
// the holder (no lease or session id, no metadata), and a flag event never
// carries the flag's settings.
type Event struct {
	Seq          uint64 `json:"seq" doc:"Orders every event of the server; never reused. It is the event's id on watch streams (Last-Event-ID) and the after of the events page." example:"1042"`
	Type         string `json:"type" doc:"lock.acquired; lock.released (an explicit release); lock.expired (its TTL ran out); lock.session_ended (its session expired or was closed); config.updated, config.deleted (a config key's change); flag.updated (a flag was created or changed); flag.deleted. A renewal or keepalive is no event. Other types may be added later, namespaced the same way." example:"lock.acquired"`
	Name         string `json:"name,omitempty" doc:"The lock's name (lock events)." example:"db/primary"`
	FencingToken uint64 `json:"fencing_token,omitempty" doc:"The token of the grant that began or ended (lock events)." example:"42"`
	Holder       string `json:"holder,omitempty" doc:"The principal that holds (or held) the lock, org/user (lock events)." example:"acme/alice"`
	Key          string `json:"key,omitempty" doc:"The config key (config events)." example:"app/feature-x"`
	Flag         string `json:"flag,omitempty" doc:"The flag's name (flag events)." example:"new-checkout"`
	Version      uint64 `json:"version,omitempty" doc:"The version the change made (config and flag events; a flag's last version before a deletion); read a config value with GET /config/{key}?version=N." example:"4"`
	By           string `json:"by,omitempty" doc:"The user of your org that made the change (config and flag events)." example:"alice"`
	At           Time   `json:"at" doc:"When it happened (server clock)."`
	ForcedBy     string `json:"forced_by,omitempty" doc:"Only on a lock.released that the holder did not ask for: admin when an operator force-released the lock (POST /admin/orgs/{org}/locks/{name}/release). The holder's lease and fencing token stopped being valid at that moment." example:"admin"`
}

// eventOf converts a domain event for the wire: a lock event names its lock,
// token and holder; a config event its key, version and user, never the
// value.
func eventOf(e domain.Event) Event {
	switch {
	case e.Kind.Family() == "config":
		return Event{Seq: e.Seq, Type: string(e.Kind), Key: string(e.Name), Version: e.Version, By: e.By, At: wireTime(e.At)}
	case e.Kind.IsFlag():
		return Event{Seq: e.Seq, Type: string(e.Kind), Flag: string(e.Name), Version: e.Version, By: e.By, At: wireTime(e.At)}
	}
	return Event{Seq: e.Seq, Type: string(e.Kind), Name: string(e.Name), FencingToken: uint64(e.Token),
		Holder: holderName(e.Org, e.Holder), At: wireTime(e.At), ForcedBy: e.ForcedBy}
}

type eventsInput struct {
	After  uint64 `query:"after" doc:"Return events after this seq: the previous page's next_after, or 0 to start at the oldest retained event (with reset when older ones were trimmed)."`
	Prefix string `query:"prefix" doc:"Only events of names equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below." example:"db/"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size."`
}

// EventPage is one page of the event stream.
type EventPage struct {
	Events    []Event `json:"events" nullable:"false" doc:"Events of your org, oldest first. A page can be short, even empty, while next_after moves on: each request looks at a bounded number of events."`
	NextAfter uint64  `json:"next_after" doc:"Pass as after to get the next page: the last event looked at, shown or not. When it does not move, you have read everything for now." example:"1042"`
	Reset     bool    `json:"reset" doc:"True when after was older than the retained events (or newer than any): the page starts at the oldest retained event, and changes in between are lost to you. Re-read the state (GET /locks) before going on."`
}

type eventsOutput struct {
	Body EventPage
}

// errInvalidPrefix documents a bad prefix in the query.
var errInvalidPrefix = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_name`: bad prefix.",
	atField("query.prefix", examplePrefixError)}

// examplePrefixError is what a prefix with an empty component produces.
var _, examplePrefixError = domain.ParsePrefix("db//")

func (s *Server) registerEvents() {
	register(s, huma.Operation{
		OperationID: "list-events", Method: http.MethodGet, Path: "/events",
		Summary: "Read the event stream", Tags: []string{"events"}, Security: bearer,
		Description: "Returns the retained events of your org after a seq, oldest first, a page at a time: the same events that watches stream and webhooks deliver, for scripts and clients without SSE. " +
			"Every lock change is an event, recorded in the same commit as the change. " +
			"`reset: true` says that events you asked for are no longer retained (or that after is newer than any event): re-read the state, then go on from next_after.",
	}, s.listEvents, errUnauthorized, errForbidden, errInvalidPrefix)
}

func (s *Server) listEvents(ctx context.Context, in *eventsInput) (*eventsOutput, error) {
	prefix, err := domain.ParsePrefix(in.Prefix)
	if err != nil {
		return nil, atField("query.prefix", err)
	}
	page, err := s.events.Page(ctx, principal(ctx), in.After, prefix, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &eventsOutput{Body: EventPage{Events: make([]Event, 0, len(page.Events)), NextAfter: page.NextAfter, Reset: page.Reset}}
	for _, e := range page.Events {
		out.Body.Events = append(out.Body.Events, eventOf(e))
	}
	return out, nil
}
