package domain

import (
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFlagBucketVectors pins the documented hash: the expected buckets were
// computed outside Go, with
//
//	printf '%s' 'new-checkout:user-1' | sha256sum | cut -c1-16
//
// and the first 16 hex digits taken modulo 10,000.
func TestFlagBucketVectors(t *testing.T) {
	for _, v := range []struct {
		name, subject string
		bucket        int
	}{
		{"new-checkout", "user-1", 2648},  // c3da359359dfed38
		{"new-checkout", "user-2", 1359},  // fcc970794235667f
		{"billing/v2", "acme-corp", 9483}, // 25f4d525ec5b0aeb
		{"dark-mode", "42", 3160},         // c5ac0fe0c96d0868
		{"a", "", 2626},                   // bfc622d4a6d410f2
	} {
		if got := FlagBucket(FlagName(v.name), v.subject); got != v.bucket {
			t.Errorf("FlagBucket(%q, %q) = %d, want %d", v.name, v.subject, got, v.bucket)
		}
	}
	f := Flag{Key: FlagKey{Org: "acme", Name: "new-checkout"}, Enabled: true, Percentage: 27, Version: 1}
	if !f.EnabledFor("user-1") { // bucket 2648 < 2700
		t.Error("user-1 (bucket 2648) is not in a 27 % rollout")
	}
	f.Percentage = 26
	if f.EnabledFor("user-1") {
		t.Error("user-1 (bucket 2648) is in a 26 % rollout")
	}
	f.Percentage, f.Enabled = 100, false
	if f.EnabledFor("user-1") {
		t.Error("a disabled flag is on")
	}
}

// TestFlagDistribution: over 100,000 subjects the share in the rollout is
// within 1.5 percentage points of the percentage.
func TestFlagDistribution(t *testing.T) {
	const n = 100_000
	for _, pct := range []int{1, 10, 25, 50, 90} {
		f := Flag{Key: FlagKey{Org: "acme", Name: "rollout/" + FlagName(strconv.Itoa(pct))}, Enabled: true, Percentage: pct}
		in := 0
		for i := range n {
			if f.EnabledFor("user-" + strconv.Itoa(i)) {
				in++
			}
		}
		if share := float64(in) * 100 / n; math.Abs(share-float64(pct)) > 1.5 {
			t.Errorf("percentage %d: %.2f %% of subjects are in", pct, share)
		}
	}
}

// TestFlagRolloutMonotonic: raising the percentage never removes a subject.
func TestFlagRolloutMonotonic(t *testing.T) {
	for i := range 2_000 {
		subject := "host-" + strconv.Itoa(i)
		b := FlagBucket("monotonic", subject)
		in := false
		for pct := 0; pct <= 100; pct++ {
			now := InRollout(b, pct)
			if in && !now {
				t.Fatalf("subject %s (bucket %d) leaves the rollout at %d %%", subject, b, pct)
			}
			in = now
		}
		if !in {
			t.Fatalf("subject %s is not in a 100 %% rollout", subject)
		}
	}
	if InRollout(0, 0) {
		t.Error("bucket 0 is in a 0 % rollout")
	}
}

func TestFlagSettingsCheck(t *testing.T) {
	for _, c := range []struct {
		s    FlagSettings
		code string
	}{
		{FlagSettings{Percentage: 0}, ""},
		{FlagSettings{Percentage: 100, Description: strings.Repeat("é", MaxFlagDescriptionBytes/2)}, ""},
		{FlagSettings{Percentage: -1}, "invalid_percentage"},
		{FlagSettings{Percentage: 101}, "invalid_percentage"},
		{FlagSettings{Percentage: 5, Description: strings.Repeat("x", MaxFlagDescriptionBytes+1)}, "invalid_description"},
		{FlagSettings{Percentage: 5, Description: "\xff"}, "invalid_description"},
	} {
		err := c.s.Check()
		if got := ""; err != nil {
			got = CodeOf(err)
			if got != c.code {
				t.Errorf("%+v: %v, want %s", c.s, err, c.code)
			}
		} else if c.code != "" {
			t.Errorf("%+v: nil, want %s", c.s, c.code)
		}
	}
	for s, ok := range map[string]bool{"u": true, strings.Repeat("s", MaxSubjectBytes): true, "": false,
		strings.Repeat("s", MaxSubjectBytes+1): false, "\xff": false} {
		if err := CheckSubject(s); (err == nil) != ok {
			t.Errorf("CheckSubject(%.10q) = %v", s, err)
		}
	}
	if _, err := ParseFlagName("a//b"); CodeOf(err) != "invalid_name" || !strings.Contains(err.Error(), "flag name") {
		t.Errorf("ParseFlagName(a//b) = %v", err)
	}
}

func TestFlagWriteAndValidate(t *testing.T) {
	now := time.UnixMilli(1_700_000_000_000)
	key := FlagKey{Org: "acme", Name: "checkout"}
	f := Flag{}.Write(key, FlagSettings{Enabled: true, Percentage: 10}, "alice", now)
	if f.Version != 1 || !f.Exists() || f.UpdatedBy != "alice" || !f.UpdatedAt.Equal(now) {
		t.Fatalf("first write: %+v", f)
	}
	if g := f.Write(key, FlagSettings{}, "bob", now); g.Version != 2 || g.Enabled || g.UpdatedBy != "bob" {
		t.Fatalf("second write: %+v", g)
	}
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	for name, bad := range map[string]Flag{
		"org":        {Key: FlagKey{Org: "a/b", Name: "x"}, Version: 1, UpdatedBy: "u"},
		"name":       {Key: FlagKey{Org: "acme", Name: "x//y"}, Version: 1, UpdatedBy: "u"},
		"percentage": {Key: key, Percentage: 101, Version: 1, UpdatedBy: "u"},
		"version 0":  {Key: key, UpdatedBy: "u"},
		"version":    {Key: key, Version: math.MaxUint64, UpdatedBy: "u"},
		"writer":     {Key: key, Version: 1},
	} {
		err := bad.Validate()
		if err == nil || KindOf(err) != KindInternal {
			t.Errorf("%s: Validate = %v, want a kindless error", name, err)
		}
	}
}

func TestFlagEventPatterns(t *testing.T) {
	for _, ok := range [][]string{{"flag.*"}, {"flag.updated", "flag.deleted"}, {"lock.*", "flag.*"}} {
		if _, err := CheckEventPatterns(ok); err != nil {
			t.Errorf("CheckEventPatterns(%v) = %v", ok, err)
		}
	}
	for _, bad := range [][]string{{"flags.*"}, {"flag."}, {".*"}, {"session.*"}} {
		if _, err := CheckEventPatterns(bad); err == nil {
			t.Errorf("CheckEventPatterns(%v) = nil", bad)
		}
	}
	w := Webhook{Org: "acme", Events: []string{"flag.*"}}
	if !w.Wants(Event{Org: "acme", Kind: EventFlagDeleted, Name: "x"}) || w.Wants(Event{Org: "acme", Kind: EventLockAcquired, Name: "x"}) {
		t.Error("flag.* selects the wrong events")
	}
}
