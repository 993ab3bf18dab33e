package sqlite

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// eventRow is one event as stored in the JSON array of an event_batches row.
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

// flush inserts the rows as one event_batches row.
func (r eventRows) flush(ctx context.Context, q *sqlitedb.Queries) error {
	if len(r) == 0 {
		return nil
	}
	payload, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode events: %w", err)
	}
	return q.InsertEventBatch(ctx, sqlitedb.InsertEventBatchParams{
		FirstSeq: r[0].Seq, LastSeq: r[len(r)-1].Seq, Events: string(payload),
	})
}

// fromEvent converts an event into its row.
func fromEvent(e domain.Event) eventRow {
	return eventRow{
		Seq: int64(e.Seq), Org: string(e.Org), Kind: string(e.Kind), Name: string(e.Name),
		Token: int64(e.Token), AtMs: e.At.UnixMilli(),
	}
}
