package porttest

import (
	"context"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// sessionFor builds a valid session created at base.
func sessionFor(id, org, owner string) domain.Session {
	return domain.Session{
		ID:        domain.SessionID(id),
		Org:       domain.OrgID(org),
		Owner:     owner,
		TTL:       30 * time.Second,
		CreatedAt: base,
		ExpiresAt: base.Add(30 * time.Second),
	}
}

// eventFor builds a valid lock event with seq.
func eventFor(seq uint64) domain.Event {
	return domain.Event{
		Seq:   seq,
		Org:   "acme",
		Kind:  domain.EventLockAcquired,
		Name:  domain.LockName(fmt.Sprintf("db/%d", seq)),
		Token: domain.FencingToken(seq),
		At:    base.Add(time.Duration(seq) * time.Millisecond),
	}
}

// checkSessions requires the snapshot to hold exactly want, in any order;
// times at millisecond precision.
func checkSessions(t *testing.T, s domain.Snapshot, want ...domain.Session) {
	t.Helper()
	got := make(map[domain.SessionID]domain.Session, len(s.Sessions))
	for _, g := range s.Sessions {
		if _, dup := got[g.ID]; dup {
			t.Fatalf("Load returned session %q twice", g.ID)
		}
		got[g.ID] = g
	}
	if len(got) != len(want) {
		t.Errorf("Load returned %d sessions, want %d: %+v", len(got), len(want), s.Sessions)
	}
	for _, w := range want {
		g, ok := got[w.ID]
		switch {
		case !ok:
			t.Errorf("session %q missing after Load", w.ID)
		case g.Org != w.Org || g.Owner != w.Owner || g.TTL != w.TTL ||
			g.CreatedAt.UnixMilli() != w.CreatedAt.UnixMilli() || g.ExpiresAt.UnixMilli() != w.ExpiresAt.UnixMilli():
			t.Errorf("session %q:\n got %+v\nwant %+v", w.ID, g, w)
		}
	}
}

// checkAliveAt requires the stored last-alive time to be want (ms precision).
func checkAliveAt(t *testing.T, j ports.Journal, want time.Time) {
	t.Helper()
	got := load(t, j).AliveAt
	if got.IsZero() || got.UnixMilli() != want.UnixMilli() {
		t.Errorf("AliveAt = %v, want %v (ms precision)", got, want)
	}
}

func checkEventSeq(t *testing.T, j ports.Journal, want uint64) {
	t.Helper()
	if got := load(t, j).EventSeq; got != want {
		t.Errorf("EventSeq = %d, want %d", got, want)
	}
}

func testSessions(t *testing.T, j ports.Journal) {
	a := sessionFor("sess-a", "acme", "alice")
	b := sessionFor("sess-b", "beta", "bob")
	b.TTL = 5*time.Minute + 7*time.Millisecond
	long := sessionFor(strings.Repeat("x", 128), "acme", "alice")
	commit(t, j, 0, domain.SessionSaved{Session: a}, domain.SessionSaved{Session: b}, domain.SessionSaved{Session: long})
	checkSessions(t, load(t, j), a, b, long)

	// A keepalive replaces the session; a closed one is deleted.
	kept := a
	kept.ExpiresAt = kept.ExpiresAt.Add(time.Minute)
	commit(t, j, 0, domain.SessionSaved{Session: kept}, domain.SessionDeleted{ID: b.ID})
	checkSessions(t, load(t, j), kept, long)

	// Deleting an unknown session is not an error, and the last change to a
	// session in a batch wins.
	c := sessionFor("sess-c", "acme", "carol")
	commit(t, j, 0, domain.SessionDeleted{ID: "no-such-session"},
		domain.SessionSaved{Session: c}, domain.SessionDeleted{ID: c.ID},
		domain.SessionDeleted{ID: long.ID}, domain.SessionSaved{Session: long})
	checkSessions(t, load(t, j), kept, long)
}

func testEphemeralAndLockDelay(t *testing.T, j ports.Journal) {
	sess := sessionFor("sess-1", "acme", "alice")
	eph := lockFor("acme", "eph", 1)
	eph.Holder, eph.Ephemeral, eph.ExpiresAt = sess.Holder(), true, sess.ExpiresAt
	eph.LockDelay = 15*time.Second + 250*time.Millisecond
	delayed := lockFor("acme", "delayed", 2)
	delayed.LockDelay = domain.MaxLockDelay
	// Storage does not require an ephemeral lock's session to be stored.
	ghost := lockFor("acme", "ghost", 3)
	ghost.Holder, ghost.Ephemeral = "session:ghost", true
	commit(t, j, 3, domain.SessionSaved{Session: sess},
		domain.LockSaved{Lock: eph}, domain.LockSaved{Lock: delayed}, domain.LockSaved{Lock: ghost})
	s := load(t, j)
	checkLocks(t, s, eph, delayed, ghost)
	checkSessions(t, s, sess)
	for _, l := range s.Locks {
		if l.Key == eph.Key && l.AvailableAt().UnixMilli() != eph.AvailableAt().UnixMilli() {
			t.Errorf("restored AvailableAt = %v, want %v", l.AvailableAt(), eph.AvailableAt())
		}
	}

	// The session ends in the batch that orphans its lock.
	orphan := eph.Orphan(base.Add(20 * time.Second))
	commit(t, j, 3, domain.SessionDeleted{ID: sess.ID}, domain.LockSaved{Lock: orphan})
	s = load(t, j)
	checkLocks(t, s, orphan, delayed, ghost)
	checkSessions(t, s)
}

func testEvents(t *testing.T, j ports.Journal) {
	session := eventFor(3)
	session.Kind, session.Name, session.Token = domain.EventSessionOpened, "", 0
	commit(t, j, 1, domain.LockSaved{Lock: lockFor("acme", "db", 1)},
		domain.EventRecorded{Event: eventFor(1)}, domain.EventRecorded{Event: eventFor(2)},
		domain.EventRecorded{Event: session})
	checkEventSeq(t, j, 3)

	// Seqs may skip, and trimming every event leaves EventSeq alone.
	commit(t, j, 1, domain.EventRecorded{Event: eventFor(7)})
	checkEventSeq(t, j, 7)
	commit(t, j, 1, domain.EventsTrimmed{Through: 7})
	checkEventSeq(t, j, 7)

	// A trimmed seq is never reused.
	for _, seq := range []uint64{7, 5, 1} {
		b := domain.Batch{Counter: 1, Changes: []domain.Change{domain.EventRecorded{Event: eventFor(seq)}}}
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit of event %d after event 7 was trimmed = nil, want an error", seq)
		}
	}

	// Trims and records mix in one batch, in order; trimming past the last
	// seq, or nothing, is fine.
	commit(t, j, 1, domain.EventRecorded{Event: eventFor(8)}, domain.EventsTrimmed{Through: 8},
		domain.EventRecorded{Event: eventFor(9)}, domain.EventsTrimmed{Through: 0})
	checkEventSeq(t, j, 9)
	commit(t, j, 1, domain.EventsTrimmed{Through: math.MaxUint64})
	checkEventSeq(t, j, 9)
	commit(t, j, 1, domain.EventRecorded{Event: eventFor(10)})
	checkEventSeq(t, j, 10)
}

func testAliveAt(t *testing.T, j ports.Journal) {
	t1 := base.Add(time.Minute)
	commitBatch(t, j, domain.Batch{Counter: 1, AliveAt: t1,
		Changes: []domain.Change{domain.LockSaved{Lock: lockFor("acme", "db", 1)}}})
	checkAliveAt(t, j, t1)

	// An older or zero AliveAt leaves it alone.
	commitBatch(t, j, domain.Batch{Counter: 1, AliveAt: base})
	commitBatch(t, j, domain.Batch{Counter: 1, AliveAt: base,
		Changes: []domain.Change{domain.LockDeleted{Key: domain.LockKey{Org: "acme", Name: "db"}}}})
	commitBatch(t, j, domain.Batch{Counter: 5})
	checkAliveAt(t, j, t1)
	if s := load(t, j); len(s.Locks) != 0 || s.Counter != 5 {
		t.Errorf("batches with an older AliveAt were not applied: %+v", s)
	}

	// Batches with nothing but a newer AliveAt are the idle heartbeat.
	for i := range 3 {
		ti := t1.Add(time.Duration(i+1) * 1500 * time.Millisecond)
		commitBatch(t, j, domain.Batch{Counter: 5, AliveAt: ti})
		checkAliveAt(t, j, ti)
	}
}

func testHeartbeatOnly(t *testing.T, j ports.Journal) {
	now := base.Add(time.Hour)
	commitBatch(t, j, domain.Batch{AliveAt: now})
	s := load(t, j)
	if s.AliveAt.UnixMilli() != now.UnixMilli() || s.Counter != 0 || len(s.Locks) != 0 {
		t.Errorf("after a heartbeat on a new journal: %+v, want AliveAt %v", s, now)
	}
}

func testRefusedSessionsAndEvents(t *testing.T, j ports.Journal) {
	sess := sessionFor("sess-1", "acme", "alice")
	stored := lockFor("acme", "stored", 1)
	t1 := base.Add(time.Minute)
	commitBatch(t, j, domain.Batch{Counter: 1, AliveAt: t1, Changes: []domain.Change{
		domain.SessionSaved{Session: sess}, domain.LockSaved{Lock: stored},
		domain.EventRecorded{Event: eventFor(5)}}})

	badSession := func(f func(s *domain.Session)) domain.Change {
		s := sessionFor("sess-x", "acme", "bob")
		f(&s)
		return domain.SessionSaved{Session: s}
	}
	badEvent := func(seq uint64, f func(e *domain.Event)) domain.Change {
		e := eventFor(seq)
		f(&e)
		return domain.EventRecorded{Event: e}
	}
	badLock := func(f func(l *domain.Lock)) domain.Change {
		l := lockFor("acme", "x", 2)
		f(&l)
		return domain.LockSaved{Lock: l}
	}
	nop := func(*domain.Event) {}
	refused := map[string][]domain.Change{
		"session id empty":     {badSession(func(s *domain.Session) { s.ID = "" })},
		"session id too long":  {badSession(func(s *domain.Session) { s.ID = domain.SessionID(strings.Repeat("x", 129)) })},
		"session org invalid":  {badSession(func(s *domain.Session) { s.Org = "no/slash" })},
		"session org empty":    {badSession(func(s *domain.Session) { s.Org = "" })},
		"session owner empty":  {badSession(func(s *domain.Session) { s.Owner = "" })},
		"session ttl zero":     {badSession(func(s *domain.Session) { s.TTL = 0 })},
		"session ttl negative": {badSession(func(s *domain.Session) { s.TTL = -time.Second })},
		"session ttl sub-ms":   {badSession(func(s *domain.Session) { s.TTL = 999 * time.Microsecond })},
		"event seq zero":       {badEvent(0, nop)},
		"event seq too big":    {badEvent(math.MaxInt64+1, nop)},
		"event kind empty":     {badEvent(6, func(e *domain.Event) { e.Kind = "" })},
		"event seq stored":     {badEvent(5, nop)},
		"event seq below":      {badEvent(4, nop)},
		"event seq repeated":   {badEvent(6, nop), badEvent(6, nop)},
		"event seq decreasing": {badEvent(8, nop), badEvent(7, nop)},
		"event after trim":     {domain.EventsTrimmed{Through: 5}, badEvent(5, nop)},
		"ephemeral user lock":  {badLock(func(l *domain.Lock) { l.Ephemeral = true })},
		"ephemeral empty id":   {badLock(func(l *domain.Lock) { l.Ephemeral, l.Holder = true, "session:" })},
		"lock delay negative":  {badLock(func(l *domain.Lock) { l.LockDelay = -time.Millisecond })},
		"lock delay too long":  {badLock(func(l *domain.Lock) { l.LockDelay = domain.MaxLockDelay + time.Millisecond })},
	}
	for name, bad := range refused {
		// Valid changes around the bad one show that nothing is applied.
		changes := append([]domain.Change{
			domain.SessionSaved{Session: sessionFor("sess-new", "acme", "carol")},
			domain.SessionDeleted{ID: sess.ID},
			domain.LockDeleted{Key: stored.Key},
			domain.EventsTrimmed{Through: 5},
		}, bad...)
		changes = append(changes, domain.LockSaved{Lock: lockFor("acme", "after", 2)})
		b := domain.Batch{Counter: 2, AliveAt: t1.Add(time.Hour), Changes: changes}
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	s := load(t, j)
	checkSessions(t, s, sess)
	checkLocks(t, s, stored)
	if s.Counter != 1 || s.EventSeq != 5 || s.AliveAt.UnixMilli() != t1.UnixMilli() {
		t.Errorf("after refused batches: counter %d, event seq %d, alive at %v; want 1, 5 and %v",
			s.Counter, s.EventSeq, s.AliveAt, t1)
	}
	// The refused batches left no trace in the sequence either.
	commit(t, j, 1, domain.EventRecorded{Event: eventFor(6)})
	checkEventSeq(t, j, 6)
}
