package sqlite

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// eventRow is one events row as InsertEvents reads it from JSON.
type eventRow struct {
	Seq   int64  `json:"seq"`
	Org   string `json:"org"`
	Kind  string `json:"kind"`
	Name  string `json:"name"`
	Token int64  `json:"token"`
	AtMs  int64  `json:"at_ms"`
}

// eventRows are the events of a batch waiting to be inserted.
type eventRows []eventRow

// flush inserts the rows with one statement.
func (r eventRows) flush(ctx context.Context, q *sqlitedb.Queries) error {
	if len(r) == 0 {
		return nil
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	return q.InsertEvents(ctx, string(payload))
}

// fromEvent converts an event into its row.
func fromEvent(e domain.Event) eventRow {
	return eventRow{
		Seq: int64(e.Seq), Org: string(e.Org), Kind: string(e.Kind), Name: string(e.Name),
		Token: int64(e.Token), AtMs: e.At.UnixMilli(),
	}
}

// checkEvent adds to Event.Validate what SQLite and the batch need: a seq
// and a token that fit in an int64 column, and a seq above after (the
// highest seq stored or recorded earlier in the batch).
func checkEvent(e domain.Event, after uint64) error {
	if err := e.Validate(); err != nil {
		return err
	}
	if e.Seq > math.MaxInt64 {
		return fmt.Errorf("event seq %d is out of range", e.Seq)
	}
	if e.Seq <= after {
		return fmt.Errorf("event seq %d is not above %d", e.Seq, after)
	}
	if e.Token > math.MaxInt64 {
		return fmt.Errorf("event token %d is out of range", e.Token)
	}
	return nil
}
