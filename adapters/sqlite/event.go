package sqlite

import (
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
