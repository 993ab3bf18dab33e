package porttest

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/octostore/octostore/domain"
	"github.com/octostore/octostore/ports"
)

// configAt is version v of key k of org acme, holding value (a deletion
// when value is empty).
func configAt(k string, v uint64, value string) domain.ConfigEntry {
	e := domain.ConfigEntry{Key: domain.LockKey{Org: "acme", Name: domain.LockName(k)}, Version: v,
		At: time.UnixMilli(1_700_000_000_000 + int64(v)), By: "alice", Description: "v" + strconv.FormatUint(v, 10)}
	if value == "" {
		e.Deleted = true
	} else {
		e.Value = []byte(value)
	}
	return e
}

// configChange is the change that stores e, dropping the key's versions
// up to through.
func configChange(e domain.ConfigEntry, through uint64) domain.Change {
	if e.Deleted {
		return domain.ConfigDeleted{Entry: e, TrimThrough: through}
	}
	return domain.ConfigSaved{Entry: e, TrimThrough: through}
}

// history returns the versions ConfigHistory finds, as "v:value" (v:- for
// a deletion), newest first.
func history(t *testing.T, j ports.Journal, k string, before uint64, limit int) string {
	t.Helper()
	vs, err := j.ConfigHistory(context.Background(), domain.LockKey{Org: "acme", Name: domain.LockName(k)}, before, limit)
	if err != nil {
		t.Fatalf("ConfigHistory: %v", err)
	}
	var out []string
	for _, v := range vs {
		val := string(v.Value)
		if v.Deleted {
			val = "-"
		}
		out = append(out, fmt.Sprintf("%d:%s", v.Version, val))
	}
	return strings.Join(out, " ")
}

// testConfigRoundTrip: versions and deletions are stored as committed,
// Load returns the newest version of every key (a deletion too), in org
// and key order, and ConfigHistory reads them newest first, below a
// version and up to a limit.
func testConfigRoundTrip(t *testing.T, j ports.Journal) {
	if s := load(t, j); s.Configs == nil || len(s.Configs) != 0 {
		t.Fatalf("empty Load: Configs %v, want empty and not nil", s.Configs)
	}
	other := configAt("b", 1, `"other"`)
	other.Key.Org = "beta"
	commit(t, j, 0, configChange(configAt("b", 1, `{"x":1}`), 0), configChange(configAt("a", 1, `1`), 0), configChange(other, 0))
	commit(t, j, 0, configChange(configAt("b", 2, `[2]`), 0), configChange(configAt("b", 3, ""), 0))
	s := load(t, j)
	var got []string
	for _, e := range s.Configs {
		got = append(got, fmt.Sprintf("%s/%s@%d:%s:%v:%s:%s:%d", e.Key.Org, e.Key.Name, e.Version, e.Value, e.Deleted, e.By, e.Description, e.At.UnixMilli()))
	}
	want := []string{"acme/a@1:1:false:alice:v1:1700000000001", "acme/b@3::true:alice:v3:1700000000003", `beta/b@1:"other":false:alice:v1:1700000000001`}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("Load configs\n%v, want\n%v", got, want)
	}
	if h := history(t, j, "b", 0, 10); h != `3:- 2:[2] 1:{"x":1}` {
		t.Errorf("history of b: %s", h)
	}
	if h := history(t, j, "b", 3, 1); h != `2:[2]` {
		t.Errorf("history of b below 3, 1 of them: %s", h)
	}
	if h := history(t, j, "nope", 0, 10); h != "" {
		t.Errorf("history of an unknown key: %s", h)
	}
	// Another org's key of the same name is apart.
	if h := history(t, j, "b", 0, 0); h != "" {
		t.Errorf("limit 0: %s", h)
	}
}

// testConfigTrim: a version drops its key's versions up to its
// TrimThrough in the same commit (0: none), whatever they were; versions
// above stay.
func testConfigTrim(t *testing.T, j ports.Journal) {
	for v := uint64(1); v <= 5; v++ {
		commit(t, j, 0, configChange(configAt("k", v, strconv.FormatUint(v, 10)), 0))
	}
	if h := history(t, j, "k", 0, 100); h != "5:5 4:4 3:3 2:2 1:1" {
		t.Errorf("after 5 versions trimming none: %s", h)
	}
	commit(t, j, 0, configChange(configAt("k", 6, `6`), 2))
	if h := history(t, j, "k", 0, 100); h != "6:6 5:5 4:4 3:3" {
		t.Errorf("after a version trimming through 2: %s", h)
	}
	// A trim through versions already gone drops nothing more.
	commit(t, j, 0, configChange(configAt("k", 7, `7`), 1))
	if h := history(t, j, "k", 0, 100); h != "7:7 6:6 5:5 4:4 3:3" {
		t.Errorf("after a trim through 1: %s", h)
	}
	commit(t, j, 0, configChange(configAt("k", 8, ""), 7))
	if h := history(t, j, "k", 0, 100); h != "8:-" {
		t.Errorf("after a deletion trimming through 7: %s", h)
	}
	if s := load(t, j); len(s.Configs) != 1 || !s.Configs[0].Deleted || s.Configs[0].Version != 8 {
		t.Errorf("Load: %+v", s.Configs)
	}
}

// testConfigPurge: a purge drops every version of its key, other keys
// stay; the org's floor rises to the purge's Floor and never goes down;
// the key can be written again (any version) in the same or a later
// batch.
func testConfigPurge(t *testing.T, j ports.Journal) {
	commit(t, j, 0, configChange(configAt("gone", 1, `1`), 0), configChange(configAt("gone", 2, `"two"`), 0),
		configChange(configAt("gone", 3, ""), 0), configChange(configAt("kept", 1, `1`), 0))
	commit(t, j, 0, domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "gone"}, Floor: 5})
	if h := history(t, j, "gone", 0, 100); h != "" {
		t.Errorf("history of a purged key: %s", h)
	}
	if h := history(t, j, "kept", 0, 100); h != "1:1" {
		t.Errorf("history of another key: %s", h)
	}
	s := load(t, j)
	if len(s.Configs) != 1 || s.Configs[0].Key.Name != "kept" {
		t.Errorf("Load configs after the purge: %+v", s.Configs)
	}
	if fmt.Sprint(s.ConfigFloors) != "[{acme 5}]" {
		t.Errorf("floors = %v, want acme at 5", s.ConfigFloors)
	}
	// Written again, purged again with a lower floor in one batch: the
	// floor stays at 5.
	commit(t, j, 0, configChange(configAt("gone", 2, `2`), 0), configChange(configAt("gone", 3, ""), 0),
		domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "gone"}, Floor: 3},
		configChange(configAt("gone", 1, `"again"`), 0))
	s = load(t, j)
	if fmt.Sprint(s.ConfigFloors) != "[{acme 5}]" {
		t.Errorf("floors after a lower purge = %v, want acme still at 5", s.ConfigFloors)
	}
	if h := history(t, j, "gone", 0, 100); h != `1:"again"` {
		t.Errorf("history of the key written after its purge: %s", h)
	}
	other := domain.LockKey{Org: "beta", Name: "x"}
	commit(t, j, 0, domain.ConfigPurged{Key: other, Floor: 9}, domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "never"}, Floor: 7})
	if s := load(t, j); fmt.Sprint(s.ConfigFloors) != "[{acme 7} {beta 9}]" {
		t.Errorf("floors = %v, want acme at 7 and beta at 9 in org order", s.ConfigFloors)
	}
}

// testConfigSizes: Load gives the size in bytes of every kept version
// of every key (0 for a deletion; bytes, not characters), contiguous from
// the oldest kept, by org and key.
func testConfigSizes(t *testing.T, j ports.Journal) {
	if s := load(t, j); s.ConfigSizes == nil || len(s.ConfigSizes) != 0 || s.ConfigFloors == nil || len(s.ConfigFloors) != 0 {
		t.Fatalf("empty Load: sizes %v floors %v, want empty and not nil", s.ConfigSizes, s.ConfigFloors)
	}
	other := configAt("a", 1, `"x"`)
	other.Key.Org = "beta"
	commit(t, j, 0, configChange(configAt("b", 1, `"é"`), 0), configChange(configAt("b", 2, `[1,2]`), 0),
		configChange(configAt("a", 1, `1`), 0), configChange(other, 0))
	commit(t, j, 0, configChange(configAt("b", 3, ""), 0), configChange(configAt("b", 4, `"日本"`), 1))
	var got []string
	for _, c := range load(t, j).ConfigSizes {
		got = append(got, fmt.Sprintf("%s/%s@%d:%v", c.Key.Org, c.Key.Name, c.First, c.Sizes))
	}
	if want := "acme/a@1:[1] acme/b@2:[5 0 8] beta/a@1:[3]"; strings.Join(got, " ") != want {
		t.Errorf("ConfigSizes = %v, want %s", got, want)
	}
}

// testRefusedConfigs: a version not above the key's newest (also one added
// earlier in the batch), an invalid entry, a trim through the version
// itself, a change whose Deleted does not match its type, or a purge with
// an invalid key, a floor of 0 or above math.MaxInt64, or below the key's
// newest version (also one added earlier in the batch) fails the whole
// batch.
func testRefusedConfigs(t *testing.T, j ports.Journal) {
	commit(t, j, 0, configChange(configAt("k", 2, `1`), 0))
	badOrg := configAt("k", 3, `1`)
	badOrg.Key.Org = "a/b"
	notJSON := configAt("k", 3, `{`)
	big := configAt("k", 3, `"`+strings.Repeat("x", domain.MaxConfigValueBytes)+`"`)
	for name, c := range map[string]domain.Change{
		"same version":      configChange(configAt("k", 2, `2`), 0),
		"lower version":     configChange(configAt("k", 1, `2`), 0),
		"version 0":         configChange(configAt("j", 0, `2`), 0),
		"bad org":           configChange(badOrg, 0),
		"bad key":           configChange(configAt("a//b", 1, `1`), 0),
		"not JSON":          configChange(notJSON, 0),
		"too large":         configChange(big, 0),
		"trims itself":      configChange(configAt("k", 3, `1`), 3),
		"trims above":       configChange(configAt("k", 3, ""), 4),
		"saved deletion":    domain.ConfigSaved{Entry: configAt("k", 3, "")},
		"deleted with data": domain.ConfigDeleted{Entry: configAt("k", 3, `1`)},
		"purge floor 0":     domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "j"}},
		"purge floor big":   domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "j"}, Floor: 1 << 63},
		"purge below":       domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "k"}, Floor: 1},
		"purge bad key":     domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "a//b"}, Floor: 1},
		"purge bad org":     domain.ConfigPurged{Key: domain.LockKey{Org: "a/b", Name: "k"}, Floor: 9},
	} {
		b := domain.Batch{Changes: []domain.Change{configChange(configAt("other", 1, `1`), 0), c}}
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	twice := domain.Batch{Changes: []domain.Change{configChange(configAt("k", 3, `3`), 0), configChange(configAt("k", 3, `4`), 0)}}
	if err := j.Commit(context.Background(), twice); err == nil {
		t.Error("Commit of one version twice in a batch = nil, want an error")
	}
	below := domain.Batch{Changes: []domain.Change{configChange(configAt("k", 3, `3`), 0),
		domain.ConfigPurged{Key: domain.LockKey{Org: "acme", Name: "k"}, Floor: 2}}}
	if err := j.Commit(context.Background(), below); err == nil {
		t.Error("Commit of a purge below a version added earlier in the batch = nil, want an error")
	}
	if s := load(t, j); len(s.Configs) != 1 || s.Configs[0].Version != 2 {
		t.Errorf("Load after refused batches: %+v", s.Configs)
	}
}

// testConfigCopiesData: the journal keeps its own copy of a value.
func testConfigCopiesData(t *testing.T, j ports.Journal) {
	e := configAt("k", 1, `"abc"`)
	commit(t, j, 0, configChange(e, 0))
	e.Value[1] = 'X'
	s := load(t, j)
	if string(s.Configs[0].Value) != `"abc"` {
		t.Fatalf("stored value changed with the caller's slice: %s", s.Configs[0].Value)
	}
	s.Configs[0].Value[1] = 'Y'
	if h := history(t, j, "k", 0, 1); h != `1:"abc"` {
		t.Errorf("stored value changed with Load's slice: %s", h)
	}
}

// testConfigEventFields: an event's Version and By are stored and read
// back by Events.
func testConfigEventFields(t *testing.T, j ports.Journal) {
	at := time.UnixMilli(1_700_000_000_123)
	ev := domain.Event{Seq: 1, Org: "acme", Kind: domain.EventConfigUpdated, Name: "app/x", At: at, Version: 7, By: "alice"}
	commit(t, j, 0, domain.EventRecorded{Event: ev})
	evs, err := j.Events(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Version != 7 || evs[0].By != "alice" || evs[0].Kind != domain.EventConfigUpdated || !evs[0].At.Equal(at) {
		t.Errorf("Events = %+v, want %+v", evs, ev)
	}
}
