package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"time"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// eventRow is one event as stored in the JSON array of an event_batches row.
type eventRow struct {
	Seq  int64  `json:"seq"`
	Org  string `json:"org"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Holder is absent from rows written before events named it.
	Holder string `json:"holder,omitempty"`
	Token  int64  `json:"token"`
	AtMs   int64  `json:"at_ms"`
	// ForcedBy is absent from every row but a forced release's.
	ForcedBy string `json:"forced_by,omitempty"`
	// Version and By are set for config and flag events only.
	Version uint64 `json:"version,omitempty"`
	By      string `json:"by,omitempty"`
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
		Holder: string(e.Holder), Token: int64(e.Token), AtMs: e.At.UnixMilli(), ForcedBy: e.ForcedBy,
		Version: e.Version, By: e.By,
	}
}

// event converts a row back.
func (r eventRow) event() domain.Event {
	return domain.Event{
		Seq: uint64(r.Seq), Org: domain.OrgID(r.Org), Kind: domain.EventKind(r.Kind), Name: domain.LockName(r.Name),
		Holder: domain.Holder(r.Holder), Token: domain.FencingToken(r.Token), At: time.UnixMilli(r.AtMs),
		ForcedBy: r.ForcedBy, Version: r.Version, By: r.By,
	}
}

// Events reads event batch rows from the Reader until it has limit events
// above after (or there are no more). The pages of rows are read in one
// read transaction, so a trim committed meanwhile cannot open a gap in the
// middle of the result, where a caller checking only the first seq would
// miss it.
func (j *Journal) Events(ctx context.Context, after uint64, limit int) ([]domain.Event, error) {
	if limit <= 0 || after >= math.MaxInt64 {
		return nil, nil
	}
	tx, err := j.db.Reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read events after %d: %w", after, err)
	}
	defer tx.Rollback() //nolint:errcheck // read-only; nothing to undo
	q := sqlitedb.New(tx)
	var out []domain.Event
	for len(out) < limit {
		rows, err := q.EventBatchesAfter(ctx, sqlitedb.EventBatchesAfterParams{After: int64(after), MaxRows: 64})
		if err != nil {
			return nil, fmt.Errorf("read events after %d: %w", after, err)
		}
		for _, b := range rows {
			var evs eventRows
			if err := json.Unmarshal([]byte(b.Events), &evs); err != nil {
				return nil, fmt.Errorf("decode events %d-%d: %w", b.FirstSeq, b.LastSeq, err)
			}
			for _, r := range evs {
				if uint64(r.Seq) > after && len(out) < limit {
					out = append(out, r.event())
				}
			}
			after = uint64(b.LastSeq)
		}
		if len(rows) < 64 {
			break
		}
	}
	return out, nil
}
