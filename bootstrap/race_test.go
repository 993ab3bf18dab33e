package bootstrap_test

import (
	"net/http"
	"strconv"
	"sync"
	"testing"
)

// The HTTP contract of every route is tested without TCP in
// adapters/httpapi (the contract suite). What stays here needs the real
// server: many clients racing over real connections.

// TestAcquireRace has 64 distinct principals acquire one name at once, ten
// times over: each round has exactly one winner, and the winners' fencing
// tokens strictly increase.
func TestAcquireRace(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	const name, rounds = "race/leader", 10
	var last uint64
	for round := range rounds {
		type outcome struct {
			who int
			r   *resp
			err error
		}
		results := make([]outcome, racers)
		var ready, done sync.WaitGroup
		gate := make(chan struct{})
		for i := range racers {
			ready.Add(1)
			done.Add(1)
			go func() {
				defer done.Done()
				ready.Done()
				<-gate
				r, err := s.do(req{method: http.MethodPost, path: lockPath(name, "/acquire"), token: racerToken(i), body: `{"ttl_seconds":30}`})
				results[i] = outcome{who: i, r: r, err: err}
			}()
		}
		ready.Wait()
		close(gate)
		done.Wait()

		var winners []outcome
		for _, o := range results {
			if o.err != nil {
				t.Fatalf("round %d, racer %d: %v", round, o.who, o.err)
			}
			switch o.r.status {
			case http.StatusOK:
				winners = append(winners, o)
			case http.StatusConflict:
				o.r.problem(t, http.StatusConflict, "lock_held")
				if o.r.header.Get("Retry-After") == "" {
					t.Errorf("round %d: 409 without Retry-After", round)
				}
			default:
				t.Fatalf("round %d, racer %d: %d %s", round, o.who, o.r.status, o.r.raw)
			}
		}
		if len(winners) != 1 {
			t.Fatalf("round %d: %d winners, want exactly 1", round, len(winners))
		}
		w := winners[0]
		tok := w.r.num(t, "fencing_token")
		if tok <= last {
			t.Errorf("round %d: winner's token %d does not exceed the previous winner's %d", round, tok, last)
		}
		last = tok
		g := s.get(t, aliceToken, name)
		if !heldBy(g.obj, "user:u"+strconv.Itoa(w.who)) || g.num(t, "fencing_token") != tok {
			t.Errorf("round %d: GET = %s, want held by u%d with token %d", round, g.raw, w.who, tok)
		}
		s.call(t, http.MethodPost, lockPath(name, "/release"), racerToken(w.who), map[string]string{"lease_id": w.r.str("lease_id")}).ok(t, http.StatusOK)
		s.wantFree(t, aliceToken, name)
	}
	checkSpec(t, s)
}
