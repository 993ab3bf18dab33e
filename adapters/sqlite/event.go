package sqlite

import (
	"errors"
	"fmt"
	"math"

	"github.com/octostore/octostore/adapters/sqlite/sqlitedb"
	"github.com/octostore/octostore/domain"
)

// fromEvent converts an event into the parameters of its row.
func fromEvent(e domain.Event) sqlitedb.InsertEventParams {
	return sqlitedb.InsertEventParams{
		Seq:          int64(e.Seq),
		Org:          string(e.Org),
		Kind:         string(e.Kind),
		Name:         string(e.Name),
		FencingToken: int64(e.Token),
		AtMs:         e.At.UnixMilli(),
	}
}

// checkEvent requires a seq above after (the highest seq stored or recorded
// earlier in the batch) that fits in SQLite, a kind, and a token that fits.
func checkEvent(e domain.Event, after uint64) error {
	if e.Seq == 0 || e.Seq > math.MaxInt64 {
		return fmt.Errorf("event seq %d is out of range", e.Seq)
	}
	if e.Seq <= after {
		return fmt.Errorf("event seq %d is not above %d", e.Seq, after)
	}
	if e.Kind == "" {
		return errors.New("event kind is empty")
	}
	if e.Token > math.MaxInt64 {
		return fmt.Errorf("event token %d is out of range", e.Token)
	}
	return nil
}
