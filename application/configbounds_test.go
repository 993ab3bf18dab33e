package application_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/octostore/octostore/adapters/memstore"
	"github.com/octostore/octostore/adapters/sqlite"
	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// configFixture is an engine with the given quotas and a config history of
// keep versions per key, on j.
type configFixture struct {
	clk     *fakeClock
	journal ports.Journal
	engine  *application.Engine
	cfg     *application.ConfigService
}

func startConfig(t *testing.T, j ports.Journal, clk *fakeClock, keep int, quotas domain.Limits) *configFixture {
	t.Helper()
	if clk == nil {
		clk = newFakeClock()
	}
	e := application.NewEngine(j, clk, application.EngineConfig{SweepInterval: time.Hour, Heartbeat: time.Hour,
		ConfigHistory: keep, Quotas: quotas})
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Stop(context.Background()) })
	return &configFixture{clk: clk, journal: j, engine: e, cfg: application.NewConfigService(e, nil)}
}

// value is a JSON string of exactly n bytes (n >= 2).
func value(n int) []byte { return []byte(`"` + strings.Repeat("v", n-2) + `"`) }

func (f *configFixture) put(t *testing.T, p domain.Principal, key string, n int, cond domain.ConfigWrite) (domain.ConfigEntry, error) {
	t.Helper()
	return f.cfg.Put(context.Background(), p, domain.LockName(key), application.ConfigPut{Value: value(n), Cond: cond})
}

func (f *configFixture) mustPut(t *testing.T, p domain.Principal, key string, n int) domain.ConfigEntry {
	t.Helper()
	e, err := f.put(t, p, key, n, domain.ConfigWrite{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return e
}

func (f *configFixture) mustDelete(t *testing.T, p domain.Principal, key string) domain.ConfigEntry {
	t.Helper()
	e, err := f.cfg.Delete(context.Background(), p, domain.LockName(key), domain.ConfigWrite{})
	if err != nil {
		t.Fatalf("delete %s: %v", key, err)
	}
	return e
}

// kept returns the versions of key the history shows, newest first.
func (f *configFixture) kept(t *testing.T, p domain.Principal, key string) string {
	t.Helper()
	page, err := f.cfg.History(context.Background(), p, domain.LockName(key), 0, 100)
	if errors.Is(err, domain.ErrConfigNotFound) {
		return "none"
	}
	if err != nil {
		t.Fatalf("history of %s: %v", key, err)
	}
	var vs []string
	for _, v := range page.Versions {
		vs = append(vs, strconv.FormatUint(v.Version, 10))
	}
	return strings.Join(vs, " ")
}

// journalHistory is what the journal holds of org's keys: the value bytes
// of every kept version that is not its key's newest, and the number of
// keys whose newest version is a deletion.
func journalHistory(t *testing.T, j ports.Journal, org domain.OrgID, keys []string) (bytes, tombs int) {
	t.Helper()
	for _, k := range keys {
		vs, err := j.ConfigHistory(context.Background(), domain.LockKey{Org: org, Name: domain.LockName(k)}, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vs {
			if i == 0 {
				if v.Deleted {
					tombs++
				}
				continue
			}
			bytes += len(v.Value)
		}
	}
	return bytes, tombs
}

// TestConfigHistoryTrimmedByBytes: with config_bytes 100, the older
// versions an org keeps hold at most 100 bytes of values; a write that
// takes them past it trims the written key's oldest versions (never
// another key's, never the new one), and trimmed versions are gone from
// ?version= and the history.
func TestConfigHistoryTrimmedByBytes(t *testing.T) {
	f := startConfig(t, memstore.New(), nil, 0, domain.Limits{domain.QuotaConfigBytes: 100})
	for range 4 { // versions 1-4 of 40 bytes: 1-3 make 120 bytes of history
		f.mustPut(t, alice, "a", 40)
	}
	if got := f.kept(t, alice, "a"); got != "4 3 2" {
		t.Errorf("a keeps %s, want 4 3 2 (version 1 trimmed by bytes)", got)
	}
	if _, err := f.cfg.Get(context.Background(), alice, "a", 1); !errors.Is(err, domain.ErrConfigVersionNotFound) {
		t.Errorf("get a version 1 = %v, want config_version_not_found", err)
	}
	if e, err := f.cfg.Get(context.Background(), alice, "a", 2); err != nil || e.Version != 2 {
		t.Errorf("get a version 2 = %+v, %v", e, err)
	}
	// b's first version adds no history; its second moves 30 bytes in
	// (110 in all), and b, the written key, loses its only older version;
	// a keeps 2 and 3.
	f.mustPut(t, alice, "b", 30)
	f.mustPut(t, alice, "b", 30)
	if got := f.kept(t, alice, "b"); got != "2" {
		t.Errorf("b keeps %s, want 2", got)
	}
	if got := f.kept(t, alice, "a"); got != "4 3 2" {
		t.Errorf("a keeps %s after b's writes, want 4 3 2", got)
	}
	// A deletion moves a's current value into the history (120 bytes):
	// a's oldest, 2, goes.
	f.mustDelete(t, alice, "a")
	if got := f.kept(t, alice, "a"); got != "5 4 3" {
		t.Errorf("a keeps %s after its deletion, want 5 4 3", got)
	}
	// Another org's budget is its own.
	f.mustPut(t, carol, "a", 90)
	f.mustPut(t, carol, "a", 90)
	if got := f.kept(t, carol, "a"); got != "2 1" {
		t.Errorf("globex's a keeps %s, want 2 1", got)
	}
	if hist, _, _ := f.engine.ConfigBounds("acme"); hist != 80 {
		t.Errorf("acme's history bytes = %d, want 80", hist)
	}
	if b, _ := journalHistory(t, f.journal, "acme", []string{"a", "b"}); b != 80 {
		t.Errorf("journal holds %d bytes of acme's history, want 80", b)
	}
	// The current values still count as before: 429 beyond 100 bytes.
	if _, err := f.put(t, alice, "c", 90, domain.ConfigWrite{}); !errors.Is(err, domain.ErrQuotaExceeded) {
		t.Errorf("put of 90 bytes next to 20 = %v, want quota_exceeded", err)
	}
}

// TestConfigHistoryCountStillApplies: config.history still bounds each
// key's versions when the bytes allow more.
func TestConfigHistoryCountStillApplies(t *testing.T) {
	f := startConfig(t, memstore.New(), nil, 3, nil)
	for range 5 {
		f.mustPut(t, alice, "k", 10)
	}
	if got := f.kept(t, alice, "k"); got != "5 4 3" {
		t.Errorf("k keeps %s, want 5 4 3", got)
	}
	if hist, _, _ := f.engine.ConfigBounds("acme"); hist != 20 {
		t.Errorf("history bytes = %d, want 20", hist)
	}
}

// TestConfigTombstonesPurged: with config_keys 2, a deletion that leaves
// an org three deleted keys purges the one deleted longest ago: it reads
// as never written (404 on get and history), and written again it starts
// above every version it had, so a stale If-Match cannot succeed; keys
// never written start above the floor too.
func TestConfigTombstonesPurged(t *testing.T) {
	f := startConfig(t, memstore.New(), nil, 0, domain.Limits{domain.QuotaConfigKeys: 2})
	ctx := context.Background()
	for range 3 {
		f.mustPut(t, alice, "a", 10) // versions 1-3
	}
	f.mustDelete(t, alice, "a") // version 4
	f.clk.Advance(time.Second)
	f.mustPut(t, alice, "b", 10)
	f.mustDelete(t, alice, "b")
	f.clk.Advance(time.Second)
	if _, tombs, floor := f.engine.ConfigBounds("acme"); tombs != 2 || floor != 0 {
		t.Fatalf("tombstones %d, floor %d; want 2 and 0", tombs, floor)
	}
	f.mustPut(t, alice, "c", 10)
	f.mustDelete(t, alice, "c") // the third tombstone: a goes
	if _, tombs, floor := f.engine.ConfigBounds("acme"); tombs != 2 || floor != 4 {
		t.Errorf("tombstones %d, floor %d; want 2 and 4", tombs, floor)
	}
	if got := f.kept(t, alice, "a"); got != "none" {
		t.Errorf("history of the purged key: %s, want config_not_found", got)
	}
	if _, err := f.cfg.Get(ctx, alice, "a", 0); !errors.Is(err, domain.ErrConfigNotFound) {
		t.Errorf("get of the purged key = %v, want config_not_found", err)
	}
	if _, err := f.cfg.Get(ctx, alice, "a", 3); !errors.Is(err, domain.ErrConfigNotFound) {
		t.Errorf("get of a purged version = %v, want config_not_found", err)
	}
	if got := f.kept(t, alice, "b"); got != "2 1" {
		t.Errorf("b keeps %s, want 2 1", got)
	}
	if vs, _ := f.journal.ConfigHistory(ctx, domain.LockKey{Org: "acme", Name: "a"}, 0, 100); len(vs) != 0 {
		t.Errorf("journal still holds %d versions of the purged key", len(vs))
	}
	// A stale If-Match of a's old value fails, as does expecting its
	// deletion; expecting absence works, and a goes on above 4.
	three, four, zero := uint64(3), uint64(4), uint64(0)
	for _, exp := range []*uint64{&three, &four} {
		if _, err := f.put(t, alice, "a", 10, domain.ConfigWrite{Expected: exp}); !errors.Is(err, domain.ErrVersionConflict) {
			t.Errorf("put a expecting %d = %v, want version_conflict", *exp, err)
		}
	}
	e, err := f.put(t, alice, "a", 10, domain.ConfigWrite{Expected: &zero})
	if err != nil || e.Version != 5 {
		t.Fatalf("put a again = %+v, %v; want version 5", e, err)
	}
	if _, err := f.put(t, alice, "a", 10, domain.ConfigWrite{Expected: &three}); !errors.Is(err, domain.ErrVersionConflict) {
		t.Errorf("put a expecting 3 after its recreation = %v, want version_conflict", err)
	}
	// A key never written starts above the floor too; other orgs start at 1.
	if e := f.mustPut(t, bob, "new", 10); e.Version != 5 {
		t.Errorf("a new key of acme got version %d, want 5", e.Version)
	}
	if e := f.mustPut(t, carol, "new", 10); e.Version != 1 {
		t.Errorf("a new key of globex got version %d, want 1", e.Version)
	}
}

// TestConfigPurgeOrdersByDeletionTime: the tombstone purged is the one
// deleted longest ago, not the first by name; with config_keys 0 a
// deletion purges its own key at once.
func TestConfigPurgeOrdersByDeletionTime(t *testing.T) {
	f := startConfig(t, memstore.New(), nil, 0, domain.Limits{domain.QuotaConfigKeys: 1})
	f.mustPut(t, alice, "z", 10)
	f.mustDelete(t, alice, "z")
	f.clk.Advance(time.Second)
	f.mustPut(t, alice, "a", 10)
	f.mustDelete(t, alice, "a")
	if f.kept(t, alice, "z") != "none" || f.kept(t, alice, "a") != "2 1" {
		t.Errorf("z: %s, a: %s; want z purged, a kept", f.kept(t, alice, "z"), f.kept(t, alice, "a"))
	}
	g := startConfig(t, memstore.New(), nil, 0, domain.Limits{domain.QuotaConfigKeys: 0})
	if _, err := g.put(t, alice, "x", 10, domain.ConfigWrite{}); !errors.Is(err, domain.ErrQuotaExceeded) {
		t.Fatalf("put with config_keys 0 = %v, want quota_exceeded", err)
	}
}

// TestConfigBoundsInOneBatch: many writes and deletions of one org
// decided in one batch see each other's history bytes, tombstones and
// floor: afterwards the org is within both bounds and memory agrees with
// the journal.
func TestConfigBoundsInOneBatch(t *testing.T) {
	j := &gatedJournal{Journal: memstore.New(), entered: make(chan struct{}, 1)}
	f := startConfig(t, j, nil, 0, domain.Limits{domain.QuotaConfigBytes: 100, domain.QuotaConfigKeys: 3})
	keys := []string{"k0", "k1", "k2", "k3", "k4", "k5"}
	for round := range 3 {
		gate := make(chan struct{})
		j.mu.Lock()
		j.gate = gate
		j.mu.Unlock()
		var wg sync.WaitGroup
		wg.Go(func() { f.put(t, bob, "gate", 2, domain.ConfigWrite{}) }) // holds the writer
		<-j.entered
		j.mu.Lock()
		j.gate = nil
		j.mu.Unlock()
		n := 0
		for i, k := range keys {
			for w := range 3 {
				n++
				wg.Go(func() {
					if (i+w+round)%3 == 2 {
						_, _ = f.cfg.Delete(context.Background(), alice, domain.LockName(k), domain.ConfigWrite{})
					} else {
						_, _ = f.put(t, alice, k, 5+7*((i+w)%4), domain.ConfigWrite{})
					}
				})
			}
		}
		for i := 0; f.engine.Pending() < n; i++ {
			if i > 10_000_000 {
				t.Fatalf("%d requests queued, want %d", f.engine.Pending(), n)
			}
			runtime.Gosched()
		}
		close(gate)
		wg.Wait()
		checkConfigBounds(t, f, "acme", append(keys, "gate"), 100, 3)
	}
}

// checkConfigBounds checks that org's history bytes and tombstones are
// within limits and that memory and the journal agree on them.
func checkConfigBounds(t *testing.T, f *configFixture, org domain.OrgID, keys []string, maxBytes, maxTombs int) {
	t.Helper()
	hist, tombs, _ := f.engine.ConfigBounds(org)
	jb, jt := journalHistory(t, f.journal, org, keys)
	if hist != jb || tombs != jt {
		t.Errorf("memory counts %d bytes of history and %d tombstones, the journal %d and %d", hist, tombs, jb, jt)
	}
	if hist > maxBytes || tombs > maxTombs {
		t.Errorf("%d bytes of history and %d tombstones, above %d and %d", hist, tombs, maxBytes, maxTombs)
	}
}

// TestConfigBoundsRandomAndRestart: after every step of a random sequence
// of writes and deletions over several keys (sizes, keys and order from a
// fixed seed), the org's history holds at most config_bytes and at most
// config_keys tombstones, as the journal shows; after a restart the same
// counts, floor and next version come back.
func TestConfigBoundsRandomAndRestart(t *testing.T) {
	t.Run("memstore", func(t *testing.T) {
		j := memstore.New()
		testConfigBoundsRandomAndRestart(t, func() ports.Journal { return j })
	})
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "db")
		testConfigBoundsRandomAndRestart(t, func() ports.Journal {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, sqlite.Config{Path: path})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			return sqlite.NewJournal(db)
		})
	})
}

// testConfigBoundsRandomAndRestart runs the sequence on the journal open
// returns, and restarts on the journal a second call returns.
func testConfigBoundsRandomAndRestart(t *testing.T, open func() ports.Journal) {
	j := open()
	clk := newFakeClock()
	quotas := domain.Limits{domain.QuotaConfigBytes: 200, domain.QuotaConfigKeys: 3}
	f := startConfig(t, j, clk, 10, quotas)
	rng := rand.New(rand.NewPCG(1, 2))
	var keys []string
	for i := range 8 {
		keys = append(keys, fmt.Sprintf("k%d", i))
	}
	ctx := context.Background()
	for step := range 400 {
		k := keys[rng.IntN(len(keys))]
		if rng.IntN(4) == 0 {
			_, err := f.cfg.Delete(ctx, alice, domain.LockName(k), domain.ConfigWrite{})
			if err != nil && !errors.Is(err, domain.ErrConfigNotFound) {
				t.Fatalf("step %d: delete %s: %v", step, k, err)
			}
		} else {
			_, err := f.put(t, alice, k, 2+rng.IntN(60), domain.ConfigWrite{})
			if err != nil && !errors.Is(err, domain.ErrQuotaExceeded) {
				t.Fatalf("step %d: put %s: %v", step, k, err)
			}
		}
		clk.Advance(time.Duration(rng.IntN(3)) * time.Millisecond)
		checkConfigBounds(t, f, "acme", keys, 200, 3)
		if t.Failed() {
			t.Fatalf("step %d", step)
		}
	}
	hist, tombs, floor := f.engine.ConfigBounds("acme")
	if floor == 0 {
		t.Fatal("no key was purged; the sequence should purge some")
	}
	if err := f.engine.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	g := startConfig(t, open(), clk, 10, quotas)
	if h, tb, fl := g.engine.ConfigBounds("acme"); h != hist || tb != tombs || fl != floor {
		t.Errorf("after restart: %d bytes, %d tombstones, floor %d; before: %d, %d, %d", h, tb, fl, hist, tombs, floor)
	}
	for step := range 50 {
		k := keys[rng.IntN(len(keys))]
		_, err := g.put(t, alice, k, 2+rng.IntN(60), domain.ConfigWrite{})
		if err != nil && !errors.Is(err, domain.ErrQuotaExceeded) {
			t.Fatalf("step %d after restart: put %s: %v", step, k, err)
		}
		checkConfigBounds(t, g, "acme", keys, 200, 3)
	}
	// Room for a new key: delete the live ones (which may purge more).
	for _, k := range keys {
		_, err := g.cfg.Delete(ctx, alice, domain.LockName(k), domain.ConfigWrite{})
		if err != nil && !errors.Is(err, domain.ErrConfigNotFound) {
			t.Fatal(err)
		}
	}
	checkConfigBounds(t, g, "acme", keys, 200, 3)
	_, _, now := g.engine.ConfigBounds("acme")
	if now < floor {
		t.Errorf("floor went down from %d to %d", floor, now)
	}
	if e := g.mustPut(t, bob, "fresh", 2); e.Version != now+1 {
		t.Errorf("a new key after restart got version %d, want floor+1 = %d", e.Version, now+1)
	}
}

// TestConfigFloorInOneBatch: a key first written in the batch that
// purged a tombstone starts above the floor that purge raised.
func TestConfigFloorInOneBatch(t *testing.T) {
	j := &gatedJournal{Journal: memstore.New(), entered: make(chan struct{}, 1)}
	f := startConfig(t, j, nil, 0, domain.Limits{domain.QuotaConfigKeys: 2})
	for range 4 {
		f.mustPut(t, alice, "a", 10)
	}
	f.mustDelete(t, alice, "a") // version 5
	f.clk.Advance(time.Second)
	f.mustPut(t, alice, "b", 10)
	f.mustDelete(t, alice, "b")
	f.clk.Advance(time.Second)
	f.mustPut(t, alice, "c", 10)

	gate := make(chan struct{})
	j.mu.Lock()
	j.gate = gate
	j.mu.Unlock()
	var wg sync.WaitGroup
	wg.Go(func() { f.put(t, bob, "gate", 2, domain.ConfigWrite{}) })
	<-j.entered
	j.mu.Lock()
	j.gate = nil
	j.mu.Unlock()
	// In arrival order: c's deletion purges a (floor 5), then d is new.
	var got domain.ConfigEntry
	var errs [2]error
	wg.Go(func() { _, errs[0] = f.cfg.Delete(context.Background(), alice, "c", domain.ConfigWrite{}) })
	for i := 0; f.engine.Pending() < 1; i++ {
		if i > 10_000_000 {
			t.Fatal("the deletion did not queue")
		}
		runtime.Gosched()
	}
	wg.Go(func() { got, errs[1] = f.put(t, alice, "d", 10, domain.ConfigWrite{}) })
	for i := 0; f.engine.Pending() < 2; i++ {
		if i > 10_000_000 {
			t.Fatal("the write did not queue")
		}
		runtime.Gosched()
	}
	close(gate)
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if got.Version != 6 {
		t.Errorf("d, new in the batch that purged a at version 5, got version %d, want 6", got.Version)
	}
	if f.kept(t, alice, "a") != "none" {
		t.Errorf("a not purged: %s", f.kept(t, alice, "a"))
	}
}
