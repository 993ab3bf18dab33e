// Package porttest holds contract suites for the interfaces in package
// ports. Every implementation runs the same suite from a two-line test, so
// the in-memory and the SQLite adapters cannot drift apart. Suites use only
// the port's methods.
package porttest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// TestJournal runs the ports.Journal contract against journals made by
// newJournal, which must return a new, empty journal for each call (it may
// use t.TempDir and t.Cleanup). Subtests run in parallel.
//
// Beyond the port's documented behaviour the suite requires that Commit
// refuses, storing nothing, a batch that Load could not read back: a nil or
// pointer change (changes are passed as values), a lock with an invalid org
// or name, an empty holder, a lease id that does not embed its token, a
// lock delay outside [0, domain.MaxLockDelay] or marked ephemeral without a
// "session:<id>" holder, a lock whose token is above the resulting counter,
// a session with an empty or over-long (128 bytes) id, an invalid org, no
// owner or a TTL under a millisecond, an event with seq 0, an empty kind or
// a seq not above every event stored or recorded before it (trimmed ones
// included), a credential whose hash is already stored, a webhook with an
// empty id, an invalid org, an empty URL, no event patterns or a cursor
// above math.MaxInt64 (also in WebhookAdvanced), and a delivery record with
// seq 0 or above math.MaxInt64, no webhook id or an unknown state. Times
// and durations are kept at millisecond precision. Of Events it requires
// that a read running while batches commit sees each batch whole or not at
// all, and that only trimmed events are missing. Config versions must be
// above the key's newest stored version, hold valid JSON (none for a
// deletion) of at most domain.MaxConfigValueBytes and keep at least one
// version.
func TestJournal(t *testing.T, newJournal func(t *testing.T) ports.Journal) {
	t.Helper()
	tests := []struct {
		name string
		f    func(t *testing.T, j ports.Journal)
	}{
		{"EmptyLoad", testEmptyLoad},
		{"RoundTrip", testRoundTrip},
		{"Delete", testDelete},
		{"Replace", testReplace},
		{"CounterNeverLowers", testCounterNeverLowers},
		{"Sessions", testSessions},
		{"EphemeralAndLockDelay", testEphemeralAndLockDelay},
		{"Events", testEvents},
		{"EventsRoundTrip", testEventsRoundTrip},
		{"EventsLimit", testEventsLimit},
		{"EventsAfterInsideBatch", testEventsAfterInsideBatch},
		{"EventsAfterEnd", testEventsAfterEnd},
		{"EventsAfterTrim", testEventsAfterTrim},
		{"EventsWhileCommitting", testEventsWhileCommitting},
		{"WebhookRoundTrip", testWebhookRoundTrip},
		{"WebhookReplace", testWebhookReplace},
		{"WebhookAdvanceNeverLowers", testWebhookAdvance},
		{"WebhookDeleteDropsDeliveries", testWebhookDelete},
		{"DeliveryRecords", testDeliveryRecords},
		{"DeliveryCap", testDeliveryCap},
		{"RefusedWebhooksAndDeliveries", testRefusedWebhooks},
		{"WebhookCopiesData", testWebhookCopiesData},
		{"QuotaRoundTrip", testQuotaRoundTrip},
		{"RefusedQuotas", testRefusedQuotas},
		{"QuotaCopiesData", testQuotaCopiesData},
		{"ConfigRoundTrip", testConfigRoundTrip},
		{"ConfigTrim", testConfigTrim},
		{"ConfigPurge", testConfigPurge},
		{"ConfigSizes", testConfigSizes},
		{"RefusedConfigs", testRefusedConfigs},
		{"ConfigCopiesData", testConfigCopiesData},
		{"ConfigEventFields", testConfigEventFields},
		{"FlagRoundTrip", testFlagRoundTrip},
		{"RefusedFlags", testRefusedFlags},
		{"FlagEvents", testFlagEvents},
		{"AliveAtNeverLowers", testAliveAt},
		{"HeartbeatOnlyBatch", testHeartbeatOnly},
		{"RefusedSessionsAndEvents", testRefusedSessionsAndEvents},
		{"BatchInOrder", testBatchInOrder},
		{"OrgsAreDistinct", testOrgsAreDistinct},
		{"RefusedBatchStoresNothing", testRefusedBatch},
		{"DuplicateCredential", testDuplicateCredential},
		{"CredentialRevoked", testCredentialRevoked},
		{"OrgsAndMembers", testOrgsAndMembers},
		{"TeamsAndACLs", testTeamsAndACLs},
		{"CanceledContext", testCanceledContext},
		{"CopiesData", testCopiesData},
		{"Ping", testPing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.f(t, newJournal(t))
		})
	}
}

// base is a wall-clock time with sub-millisecond digits, to check that
// storage keeps at least millisecond precision.
var base = time.Date(2025, 3, 14, 15, 9, 26, 535_897_932, time.UTC)

// lockFor builds a valid lock record granted with token.
func lockFor(org, name string, token domain.FencingToken) domain.Lock {
	acquired := base.Add(time.Duration(token) * time.Millisecond)
	return domain.Lock{
		Key:        domain.LockKey{Org: domain.OrgID(org), Name: domain.LockName(name)},
		Holder:     domain.Holder("user:" + org + "-holder"),
		Lease:      domain.NewLeaseID(token, fmt.Sprintf("nonce%d", token)),
		Token:      token,
		AcquiredAt: acquired,
		ExpiresAt:  acquired.Add(90 * time.Second),
		Metadata:   fmt.Sprintf(`{"org":%q,"name":%q}`, org, name),
	}
}

func credentialFor(org, user string, admin bool) domain.Credential {
	return domain.Credential{
		Hash:      domain.HashToken("token-of-" + org + "/" + user),
		Principal: domain.Principal{Org: domain.OrgID(org), User: user, Admin: admin},
	}
}

func commit(t *testing.T, j ports.Journal, counter domain.FencingToken, changes ...domain.Change) {
	t.Helper()
	commitBatch(t, j, domain.Batch{Changes: changes, Counter: counter})
}

func commitBatch(t *testing.T, j ports.Journal, b domain.Batch) {
	t.Helper()
	if err := j.Commit(context.Background(), b); err != nil {
		t.Fatalf("Commit: %v", err)
	}
}

func load(t *testing.T, j ports.Journal) domain.Snapshot {
	t.Helper()
	snap, err := j.Load(context.Background())
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return snap
}

// locksByKey indexes a snapshot's locks and fails on duplicate keys.
func locksByKey(t *testing.T, s domain.Snapshot) map[domain.LockKey]domain.Lock {
	t.Helper()
	m := make(map[domain.LockKey]domain.Lock, len(s.Locks))
	for _, l := range s.Locks {
		if _, dup := m[l.Key]; dup {
			t.Fatalf("Load returned lock %v twice", l.Key)
		}
		m[l.Key] = l
	}
	return m
}

// checkLock compares every field; times at millisecond precision.
func checkLock(t *testing.T, got, want domain.Lock) {
	t.Helper()
	if got.Key != want.Key || got.Holder != want.Holder || got.Lease != want.Lease ||
		got.Token != want.Token || got.Metadata != want.Metadata ||
		got.Ephemeral != want.Ephemeral || got.LockDelay != want.LockDelay {
		t.Errorf("lock %v:\n got %+v\nwant %+v", want.Key, got, want)
	}
	if got.AcquiredAt.UnixMilli() != want.AcquiredAt.UnixMilli() {
		t.Errorf("lock %v: AcquiredAt = %v, want %v (ms precision)", want.Key, got.AcquiredAt, want.AcquiredAt)
	}
	if got.ExpiresAt.UnixMilli() != want.ExpiresAt.UnixMilli() {
		t.Errorf("lock %v: ExpiresAt = %v, want %v (ms precision)", want.Key, got.ExpiresAt, want.ExpiresAt)
	}
}

// checkLocks requires the snapshot to hold exactly want.
func checkLocks(t *testing.T, s domain.Snapshot, want ...domain.Lock) {
	t.Helper()
	got := locksByKey(t, s)
	if len(got) != len(want) {
		t.Errorf("Load returned %d locks, want %d: %+v", len(got), len(want), s.Locks)
	}
	for _, w := range want {
		g, ok := got[w.Key]
		if !ok {
			t.Errorf("lock %v missing after Load", w.Key)
			continue
		}
		checkLock(t, g, w)
	}
}

func testEmptyLoad(t *testing.T, j ports.Journal) {
	s := load(t, j)
	if len(s.Locks) != 0 || len(s.Sessions) != 0 || s.Counter != 0 || s.EventSeq != 0 ||
		!s.AliveAt.IsZero() || len(s.Credentials) != 0 {
		t.Fatalf("Load on a new journal = %+v, want empty with counters 0 and a zero AliveAt", s)
	}
}

func testRoundTrip(t *testing.T, j ports.Journal) {
	a := lockFor("acme", "db/primary", 1)
	b := lockFor("beta", "jobs/nightly.report_v-2", 2)
	b.Metadata = ""
	alice := credentialFor("acme", "alice", false)
	root := credentialFor("", "root", true)
	commit(t, j, 2,
		domain.LockSaved{Lock: a}, domain.LockSaved{Lock: b},
		domain.CredentialAdded{Credential: alice}, domain.CredentialAdded{Credential: root})

	s := load(t, j)
	if s.Counter != 2 {
		t.Errorf("Counter = %d, want 2", s.Counter)
	}
	checkLocks(t, s, a, b)
	for _, l := range s.Locks {
		if !l.HeldAt(l.AcquiredAt) || l.HeldAt(l.ExpiresAt) {
			t.Errorf("restored lock %v: HeldAt is wrong around [%v, %v)", l.Key, l.AcquiredAt, l.ExpiresAt)
		}
	}
	if len(s.Credentials) != 2 {
		t.Fatalf("Load returned %d credentials, want 2: %+v", len(s.Credentials), s.Credentials)
	}
	for _, want := range []domain.Credential{alice, root} {
		found := false
		for _, got := range s.Credentials {
			if got.Hash.Equal(want.Hash) {
				found = true
				if got.Principal != want.Principal {
					t.Errorf("credential principal = %+v, want %+v", got.Principal, want.Principal)
				}
			}
		}
		if !found {
			t.Errorf("credential of %+v missing after Load", want.Principal)
		}
	}
}

func testDelete(t *testing.T, j ports.Journal) {
	a, b := lockFor("acme", "a", 1), lockFor("acme", "b", 2)
	commit(t, j, 2, domain.LockSaved{Lock: a}, domain.LockSaved{Lock: b})
	commit(t, j, 2, domain.LockDeleted{Key: a.Key})
	checkLocks(t, load(t, j), b)
	// Deleting a lock that has no record is not an error.
	commit(t, j, 2, domain.LockDeleted{Key: a.Key}, domain.LockDeleted{Key: domain.LockKey{Org: "zeta", Name: "none"}})
	checkLocks(t, load(t, j), b)
}

func testReplace(t *testing.T, j ports.Journal) {
	first := lockFor("acme", "db", 1)
	commit(t, j, 1, domain.LockSaved{Lock: first})
	second := lockFor("acme", "db", 2)
	second.Holder = "user:bob"
	second.Metadata = "replaced"
	commit(t, j, 2, domain.LockSaved{Lock: second})
	checkLocks(t, load(t, j), second)

	// A renewal keeps lease and token and moves the expiry.
	renewed := second
	renewed.ExpiresAt = renewed.ExpiresAt.Add(time.Hour)
	commit(t, j, 2, domain.LockSaved{Lock: renewed})
	checkLocks(t, load(t, j), renewed)
}

func testCounterNeverLowers(t *testing.T, j ports.Journal) {
	commit(t, j, 10)
	if c := load(t, j).Counter; c != 10 {
		t.Fatalf("Counter after raising to 10 = %d", c)
	}
	l := lockFor("acme", "db", 3)
	commit(t, j, 3, domain.LockSaved{Lock: l})
	commit(t, j, 0)
	s := load(t, j)
	if s.Counter != 10 {
		t.Errorf("Counter after committing 3 and 0 = %d, want 10", s.Counter)
	}
	checkLocks(t, s, l)
	commit(t, j, 11)
	if c := load(t, j).Counter; c != 11 {
		t.Errorf("Counter after raising to 11 = %d", c)
	}
}

func testBatchInOrder(t *testing.T, j ports.Journal) {
	gone := lockFor("acme", "gone", 1)
	kept := lockFor("acme", "kept", 2)
	first := lockFor("acme", "twice", 3)
	last := lockFor("acme", "twice", 4)
	commit(t, j, 4,
		domain.LockSaved{Lock: gone}, domain.LockDeleted{Key: gone.Key},
		domain.LockDeleted{Key: kept.Key}, domain.LockSaved{Lock: kept},
		domain.LockSaved{Lock: first}, domain.LockSaved{Lock: last})
	checkLocks(t, load(t, j), kept, last)
}

func testOrgsAreDistinct(t *testing.T, j ports.Journal) {
	const n = 100
	var want []domain.Lock
	token := domain.FencingToken(0)
	for batch := range 4 {
		var changes []domain.Change
		for i := range n / 4 {
			for _, org := range []string{"acme", "beta"} {
				token++
				l := lockFor(org, fmt.Sprintf("shared/lock-%03d", batch*n/4+i), token)
				want = append(want, l)
				changes = append(changes, domain.LockSaved{Lock: l})
			}
		}
		commit(t, j, token, changes...)
	}
	s := load(t, j)
	if s.Counter != token {
		t.Errorf("Counter = %d, want %d", s.Counter, token)
	}
	checkLocks(t, s, want...)
}

func testRefusedBatch(t *testing.T, j ports.Journal) {
	stored := lockFor("acme", "stored", 1)
	commit(t, j, 1, domain.LockSaved{Lock: stored})

	fresh := lockFor("acme", "fresh", 2)
	badName := lockFor("acme", "a//b", 2)
	badOrg := lockFor("no/slash", "x", 2)
	noHolder := lockFor("acme", "x", 2)
	noHolder.Holder = ""
	foreignLease := lockFor("acme", "x", 2)
	foreignLease.Lease = "not-a-lease"
	otherToken := lockFor("acme", "x", 2)
	otherToken.Lease = domain.NewLeaseID(3, "n")
	refused := map[string]domain.Batch{
		"pointer change":       {Counter: 2, Changes: []domain.Change{&domain.LockSaved{Lock: fresh}}},
		"nil change":           {Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: fresh}, nil}},
		"token above counter":  {Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: fresh}}},
		"invalid name":         {Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: fresh}, domain.LockSaved{Lock: badName}}},
		"invalid org":          {Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: badOrg}}},
		"empty holder":         {Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: noHolder}}},
		"lease not ours":       {Counter: 2, Changes: []domain.Change{domain.LockSaved{Lock: foreignLease}}},
		"lease of other token": {Counter: 3, Changes: []domain.Change{domain.LockSaved{Lock: otherToken}}},
		"delete then refused": {Counter: 9, Changes: []domain.Change{
			domain.LockDeleted{Key: stored.Key}, domain.CredentialAdded{Credential: credentialFor("acme", "x", false)}, nil}},
	}
	for name, b := range refused {
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	s := load(t, j)
	checkLocks(t, s, stored)
	if s.Counter != 1 || len(s.Credentials) != 0 {
		t.Errorf("after refused batches: counter %d, %d credentials; want 1 and 0", s.Counter, len(s.Credentials))
	}
}

func testDuplicateCredential(t *testing.T, j ports.Journal) {
	alice := credentialFor("acme", "alice", false)
	commit(t, j, 0, domain.CredentialAdded{Credential: alice})
	l := lockFor("acme", "db", 1)
	err := j.Commit(context.Background(), domain.Batch{Counter: 1, Changes: []domain.Change{
		domain.LockSaved{Lock: l}, domain.CredentialAdded{Credential: alice}}})
	if err == nil {
		t.Fatal("Commit of an already stored credential hash = nil, want an error")
	}
	bob := credentialFor("acme", "bob", false)
	err = j.Commit(context.Background(), domain.Batch{Changes: []domain.Change{
		domain.CredentialAdded{Credential: bob}, domain.CredentialAdded{Credential: bob}}})
	if err == nil {
		t.Fatal("Commit of one credential hash twice in a batch = nil, want an error")
	}
	s := load(t, j)
	checkLocks(t, s)
	if s.Counter != 0 || len(s.Credentials) != 1 || s.Credentials[0].Principal != alice.Principal {
		t.Errorf("after refused credentials: %+v, want only alice and counter 0", s)
	}
}

func testCanceledContext(t *testing.T, j ports.Journal) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := j.Commit(ctx, domain.Batch{Counter: 1, Changes: []domain.Change{domain.LockSaved{Lock: lockFor("acme", "db", 1)}}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Commit with a canceled context = %v, want context.Canceled", err)
	}
	s := load(t, j)
	if len(s.Locks) != 0 || s.Counter != 0 {
		t.Errorf("after a canceled Commit: %+v, want empty", s)
	}
	if _, err := j.Load(ctx); err == nil {
		t.Error("Load with a canceled context = nil error")
	}
}

func testCopiesData(t *testing.T, j ports.Journal) {
	l := lockFor("acme", "db", 1)
	changes := []domain.Change{domain.LockSaved{Lock: l}}
	commit(t, j, 1, changes...)
	changes[0] = domain.LockDeleted{Key: l.Key}

	sess := sessionFor("sess-1", "acme", "alice")
	commit(t, j, 1, domain.SessionSaved{Session: sess})

	s := load(t, j)
	s.Locks[0].Holder = "user:mallory"
	s.Locks = append(s.Locks[:0], lockFor("acme", "other", 1))
	s.Sessions[0].Owner = "mallory"
	checkLocks(t, load(t, j), l)
	checkSessions(t, load(t, j), sess)
}

func testPing(t *testing.T, j ports.Journal) {
	if err := j.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

// testCredentialRevoked: a credential keeps its creation time (at ms
// precision); a revoked one is gone at once and its hash may be stored
// again; revoking an unknown hash changes nothing.
func testCredentialRevoked(t *testing.T, j ports.Journal) {
	a, b := credentialFor("acme", "alice", false), credentialFor("acme", "bob", false)
	a.CreatedAt = base.Add(1500 * time.Microsecond)
	commit(t, j, 1, domain.CredentialAdded{Credential: a}, domain.CredentialAdded{Credential: b})
	snap := load(t, j)
	want := time.UnixMilli(a.CreatedAt.UnixMilli())
	if len(snap.Credentials) != 2 || !snap.Credentials[0].CreatedAt.Equal(want) || !snap.Credentials[1].CreatedAt.IsZero() {
		t.Fatalf("credentials = %+v, want a created at %v and b without a time", snap.Credentials, want)
	}
	commit(t, j, 1, domain.CredentialRevoked{Hash: a.Hash}, domain.CredentialRevoked{Hash: domain.HashToken("never stored")})
	if snap := load(t, j); len(snap.Credentials) != 1 || snap.Credentials[0].Hash != b.Hash {
		t.Fatalf("after revoking a: %+v", snap.Credentials)
	}
	commit(t, j, 1, domain.CredentialAdded{Credential: a})
	if snap := load(t, j); len(snap.Credentials) != 2 {
		t.Fatalf("a stored again: %+v", snap.Credentials)
	}
}

// testOrgsAndMembers: registered orgs and members round-trip (sorted, ms
// precision); saving a member again changes its role; a second org of one
// name, a bad org or a bad role refuses the whole batch.
func testOrgsAndMembers(t *testing.T, j ports.Journal) {
	commit(t, j, 0, domain.OrgCreated{Org: domain.Org{ID: "globex", CreatedAt: base}},
		domain.OrgCreated{Org: domain.Org{ID: "acme", CreatedAt: base}},
		domain.MemberSaved{Member: domain.Member{Org: "acme", User: "bob", Role: domain.RoleMember, AddedAt: base}},
		domain.MemberSaved{Member: domain.Member{Org: "acme", User: "alice", Role: domain.RoleMember, AddedAt: base}})
	commit(t, j, 0, domain.MemberSaved{Member: domain.Member{Org: "acme", User: "alice", Role: domain.RoleOwner, AddedAt: base.Add(time.Hour)}})
	for _, bad := range []domain.Change{
		domain.OrgCreated{Org: domain.Org{ID: "acme", CreatedAt: base}},
		domain.OrgCreated{Org: domain.Org{ID: "a/b", CreatedAt: base}},
		domain.MemberSaved{Member: domain.Member{Org: "acme", User: "carol", Role: "king", AddedAt: base}},
	} {
		err := j.Commit(context.Background(), domain.Batch{Changes: []domain.Change{
			domain.MemberSaved{Member: domain.Member{Org: "acme", User: "dave", Role: domain.RoleMember, AddedAt: base}}, bad}})
		if err == nil {
			t.Errorf("a batch with %+v was stored", bad)
		}
	}
	snap := load(t, j)
	ms := time.UnixMilli(base.UnixMilli())
	if len(snap.Orgs) != 2 || snap.Orgs[0].ID != "acme" || snap.Orgs[1].ID != "globex" || !snap.Orgs[0].CreatedAt.Equal(ms) {
		t.Errorf("orgs = %+v", snap.Orgs)
	}
	if len(snap.Members) != 2 || snap.Members[0].User != "alice" || snap.Members[0].Role != domain.RoleOwner ||
		!snap.Members[0].AddedAt.Equal(ms) || snap.Members[1].User != "bob" {
		t.Errorf("members = %+v (alice owner, added first; bob; no dave)", snap.Members)
	}
}

// testTeamsAndACLs: teams and ACL rules round-trip (sorted by org and
// name or prefix, ms precision, empty lists kept empty); saving again
// replaces, deleting removes; a bad team or rule refuses the whole batch.
func testTeamsAndACLs(t *testing.T, j ports.Journal) {
	team := func(org, name string, members ...string) domain.Team {
		tm, err := domain.NewTeam(domain.OrgID(org), name, members, base)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	acl := func(org, prefix string, acquire, observe []string) domain.ACL {
		a, err := domain.NewACL(domain.OrgID(org), prefix, acquire, observe, "alice", base)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	commit(t, j, 0,
		domain.TeamSaved{Team: team("globex", "ops", "carol")},
		domain.TeamSaved{Team: team("acme", "dba", "bob", "alice")},
		domain.TeamSaved{Team: team("acme", "gone")},
		domain.ACLSaved{ACL: acl("acme", "db/primary", []string{"team:dba"}, []string{})},
		domain.ACLSaved{ACL: acl("acme", "db", nil, []string{"user:bob"})},
		domain.ACLSaved{ACL: acl("acme", "jobs", nil, nil)})
	commit(t, j, 0,
		domain.TeamSaved{Team: team("acme", "dba", "dave")},
		domain.TeamDeleted{Org: "acme", Name: "gone"},
		domain.ACLDeleted{Org: "acme", Prefix: "jobs"})
	for _, bad := range []domain.Change{
		domain.TeamSaved{Team: domain.Team{Org: "acme", Name: "a/b", UpdatedAt: base}},
		domain.ACLSaved{ACL: domain.ACL{Org: "acme", Prefix: "db//x", UpdatedAt: base}},
		domain.ACLSaved{ACL: domain.ACL{Org: "acme", Prefix: "db", Acquire: []domain.Grantee{"everyone"}, UpdatedAt: base}},
	} {
		err := j.Commit(context.Background(), domain.Batch{Changes: []domain.Change{
			domain.TeamSaved{Team: team("acme", "extra")}, bad}})
		if err == nil {
			t.Errorf("a batch with %+v was stored", bad)
		}
	}
	snap := load(t, j)
	ms := time.UnixMilli(base.UnixMilli())
	wantTeams := []domain.Team{
		{Org: "acme", Name: "dba", Members: []string{"dave"}, UpdatedAt: ms},
		{Org: "globex", Name: "ops", Members: []string{"carol"}, UpdatedAt: ms},
	}
	if fmt.Sprint(snap.Teams) != fmt.Sprint(wantTeams) {
		t.Errorf("teams = %+v, want %+v", snap.Teams, wantTeams)
	}
	if len(snap.ACLs) != 2 {
		t.Fatalf("acls = %+v, want db and db/primary", snap.ACLs)
	}
	db, primary := snap.ACLs[0], snap.ACLs[1]
	if db.Prefix != "db" || fmt.Sprint(db.Acquire) != "[org]" || fmt.Sprint(db.Observe) != "[user:bob]" ||
		db.UpdatedBy != "alice" || !db.UpdatedAt.Equal(ms) {
		t.Errorf("acl db = %+v", db)
	}
	if primary.Prefix != "db/primary" || fmt.Sprint(primary.Acquire) != "[team:dba]" || primary.Observe == nil || len(primary.Observe) != 0 {
		t.Errorf("acl db/primary = %+v (observe must stay an empty list)", primary)
	}
}
