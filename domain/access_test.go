package domain

import (
	"errors"
	"strconv"
	"testing"
	"time"
)

func mustACL(t *testing.T, prefix string, acquire, observe []string) ACL {
	t.Helper()
	a, err := NewACL("acme", prefix, acquire, observe, "alice", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestPolicyMostSpecificRuleDecides: the rule of the longest matching
// prefix (component by component) decides, whether it allows what a
// broader rule denies or denies what a broader rule allows; with no rule
// every member may do everything.
func TestPolicyMostSpecificRuleDecides(t *testing.T) {
	dba, err := NewTeam("acme", "dba", []string{"bob", "dave"}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	p := NewPolicy([]Team{dba}, []ACL{
		mustACL(t, "db", []string{"team:dba"}, nil),                           // only dba acquire; all observe
		mustACL(t, "db/scratch", []string{"org"}, nil),                        // broader deny, narrower allow
		mustACL(t, "db/secret", []string{"user:dave"}, []string{"user:dave"}), // narrower deny for bob
		mustACL(t, "jobs", []string{}, []string{}),                            // nobody
	})
	cases := []struct {
		user, name string
		action     Action
		want       bool
	}{
		{"alice", "free/x", ActionAcquire, true}, // no rule
		{"alice", "dbx", ActionAcquire, true},    // "db" does not match "dbx"
		{"alice", "db", ActionAcquire, false},
		{"alice", "db", ActionObserve, true}, // omitted list: every member
		{"bob", "db/primary", ActionAcquire, true},
		{"alice", "db/primary", ActionAcquire, false},
		{"alice", "db/scratch/t1", ActionAcquire, true}, // narrower allow beats broader deny
		{"bob", "db/secret", ActionAcquire, false},      // narrower deny beats broader allow
		{"bob", "db/secret/k", ActionObserve, false},
		{"dave", "db/secret/k", ActionObserve, true},
		{"alice", "jobs", ActionObserve, false}, // empty list: nobody
		{"alice", "jobs/nightly", ActionAcquire, false},
	}
	for _, c := range cases {
		if got := p.Allows(c.user, LockName(c.name), c.action); got != c.want {
			t.Errorf("Allows(%s, %s, %d) = %v, want %v", c.user, c.name, c.action, got, c.want)
		}
	}
	var none *Policy
	if !none.Allows("anyone", "db", ActionAcquire) {
		t.Error("a nil policy must allow everything")
	}
}

func TestGranteesAndTeamsAreValidated(t *testing.T) {
	for _, bad := range []string{"", "everyone", "user:", "team:a/b", "user:..", "org:acme"} {
		if _, err := ParseGrantee(bad); CodeOf(err) != "invalid_principal" {
			t.Errorf("ParseGrantee(%q) = %v, want invalid_principal", bad, err)
		}
	}
	if _, err := NewACL("acme", "db//x", nil, nil, "alice", time.Time{}); CodeOf(err) != "invalid_name" {
		t.Errorf("bad prefix: %v", err)
	}
	if _, err := NewTeam("acme", "a/b", nil, time.Time{}); CodeOf(err) != "invalid_team" {
		t.Errorf("bad team name: %v", err)
	}
	if _, err := NewTeam("acme", "dba", []string{"ok", "not ok"}, time.Time{}); CodeOf(err) != "invalid_user" {
		t.Errorf("bad member: %v", err)
	}
	tm, _ := NewTeam("acme", "dba", []string{"b", "a", "b"}, time.Time{})
	if len(tm.Members) != 2 || tm.Members[0] != "a" {
		t.Errorf("members not sorted and deduplicated: %v", tm.Members)
	}
	a := mustACL(t, "db", []string{"team:x", "user:a", "team:x"}, []string{"team:y"})
	if got := a.Teams(); len(got) != 2 || got[0] != "x" || got[1] != "y" {
		t.Errorf("Teams = %v", got)
	}
	err := error(&TeamInUseError{Prefixes: []LockName{"db"}})
	if KindOf(err) != KindConflict || CodeOf(err) != "team_in_use" || !errors.Is(err, errTeamInUse) {
		t.Errorf("TeamInUseError: kind %d code %s", KindOf(err), CodeOf(err))
	}
}

// BenchmarkPolicyAllows is the hot-path check with 1,000 rules in the
// org: one decides through a team, the others are siblings.
func BenchmarkPolicyAllows(b *testing.B) {
	members := make([]string, 64)
	for i := range members {
		members[i] = "c" + strconv.Itoa(i)
	}
	load, _ := NewTeam("acme", "load", members, time.Time{})
	acls := []ACL{}
	a, _ := NewACL("acme", "octobench", []string{"team:load"}, nil, "o", time.Time{})
	acls = append(acls, a)
	for i := 1; i < 1000; i++ {
		a, _ := NewACL("acme", "octobench-other/r"+strconv.Itoa(i), []string{"user:o"}, nil, "o", time.Time{})
		acls = append(acls, a)
	}
	p := NewPolicy([]Team{load}, acls)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if !p.Allows("c63", "octobench/19a2b3c4d5e6-4711/c63", ActionAcquire) {
			b.Fatal("denied")
		}
	}
}
