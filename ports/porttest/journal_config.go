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

// configChange is the change that stores e, keeping keep versions.
func configChange(e domain.ConfigEntry, keep int) domain.Change {
	if e.Deleted {
		return domain.ConfigDeleted{Entry: e, Keep: keep}
	}
	return domain.ConfigSaved{Entry: e, Keep: keep}
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
	commit(t, j, 0, configChange(configAt("b", 1, `{"x":1}`), 10), configChange(configAt("a", 1, `1`), 10), configChange(other, 10))
	commit(t, j, 0, configChange(configAt("b", 2, `[2]`), 10), configChange(configAt("b", 3, ""), 10))
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

// testConfigTrim: a version keeps its key's Keep newest versions and drops
// older ones in the same commit; Keep may change from one write to the
// next.
func testConfigTrim(t *testing.T, j ports.Journal) {
	for v := uint64(1); v <= 5; v++ {
		commit(t, j, 0, configChange(configAt("k", v, strconv.FormatUint(v, 10)), 3))
	}
	if h := history(t, j, "k", 0, 100); h != "5:5 4:4 3:3" {
		t.Errorf("after 5 versions kept 3: %s", h)
	}
	commit(t, j, 0, configChange(configAt("k", 6, ""), 1))
	if h := history(t, j, "k", 0, 100); h != "6:-" {
		t.Errorf("after a deletion keeping 1: %s", h)
	}
	if s := load(t, j); len(s.Configs) != 1 || !s.Configs[0].Deleted || s.Configs[0].Version != 6 {
		t.Errorf("Load: %+v", s.Configs)
	}
}

// testRefusedConfigs: a version not above the key's newest (also one added
// earlier in the batch), an invalid entry, Keep below 1, or a change whose
// Deleted does not match its type fails the whole batch.
func testRefusedConfigs(t *testing.T, j ports.Journal) {
	commit(t, j, 0, configChange(configAt("k", 2, `1`), 10))
	badOrg := configAt("k", 3, `1`)
	badOrg.Key.Org = "a/b"
	notJSON := configAt("k", 3, `{`)
	big := configAt("k", 3, `"`+strings.Repeat("x", domain.MaxConfigValueBytes)+`"`)
	for name, c := range map[string]domain.Change{
		"same version":      configChange(configAt("k", 2, `2`), 10),
		"lower version":     configChange(configAt("k", 1, `2`), 10),
		"version 0":         configChange(configAt("j", 0, `2`), 10),
		"bad org":           configChange(badOrg, 10),
		"bad key":           configChange(configAt("a//b", 1, `1`), 10),
		"not JSON":          configChange(notJSON, 10),
		"too large":         configChange(big, 10),
		"keep 0":            configChange(configAt("k", 3, `1`), 0),
		"saved deletion":    domain.ConfigSaved{Entry: configAt("k", 3, ""), Keep: 10},
		"deleted with data": domain.ConfigDeleted{Entry: configAt("k", 3, `1`), Keep: 10},
	} {
		b := domain.Batch{Changes: []domain.Change{configChange(configAt("other", 1, `1`), 10), c}}
		if err := j.Commit(context.Background(), b); err == nil {
			t.Errorf("Commit(%s) = nil, want an error", name)
		}
	}
	twice := domain.Batch{Changes: []domain.Change{configChange(configAt("k", 3, `3`), 10), configChange(configAt("k", 3, `4`), 10)}}
	if err := j.Commit(context.Background(), twice); err == nil {
		t.Error("Commit of one version twice in a batch = nil, want an error")
	}
	if s := load(t, j); len(s.Configs) != 1 || s.Configs[0].Version != 2 {
		t.Errorf("Load after refused batches: %+v", s.Configs)
	}
}

// testConfigCopiesData: the journal keeps its own copy of a value.
func testConfigCopiesData(t *testing.T, j ports.Journal) {
	e := configAt("k", 1, `"abc"`)
	commit(t, j, 0, configChange(e, 10))
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
