package domain

import "testing"

func TestHolderParts(t *testing.T) {
	alice := Principal{Org: "acme", User: "alice"}
	cases := []struct {
		h                   Holder
		user, owner         string
		session             SessionID
		retries, selfReacqs bool
	}{
		{ClientHolder(alice, ""), "alice", "", "", false, false},
		{ClientHolder(alice, "host-a:4711"), "alice", "host-a:4711", "", true, true},
		{ClientHolder(alice, "a/session:x"), "alice", "a/session:x", "", true, true},
		{Session{ID: "s1", Owner: "alice"}.Holder(), "alice", "", "s1", true, true},
		{"session:s1", "", "", "s1", true, true}, // stored by an earlier release
	}
	for _, c := range cases {
		if c.h.User() != c.user || c.h.Owner() != c.owner || c.h.SessionOf() != c.session || c.h.Retries() != c.retries {
			t.Errorf("%q: user %q owner %q session %q retries %v", c.h, c.h.User(), c.h.Owner(), c.h.SessionOf(), c.h.Retries())
		}
		if c.h.Reacquires(c.h) != c.selfReacqs {
			t.Errorf("%q re-acquires itself: %v, want %v", c.h, c.h.Reacquires(c.h), c.selfReacqs)
		}
		if err := c.h.validate(); err != nil {
			t.Errorf("%q: %v", c.h, err)
		}
	}
}

func TestHolderReacquires(t *testing.T) {
	alice, bob := Principal{Org: "acme", User: "alice"}, Principal{Org: "acme", User: "bob"}
	sess := Session{ID: "s1", Owner: "alice"}
	cases := []struct {
		name     string
		cur, req Holder
		want     bool
	}{
		{"anonymous, same user", ClientHolder(alice, ""), ClientHolder(alice, ""), false},
		{"owner, same user and owner", ClientHolder(alice, "h"), ClientHolder(alice, "h"), true},
		{"owner, same user, other owner", ClientHolder(alice, "h"), ClientHolder(alice, "g"), false},
		{"owner, same user, no owner", ClientHolder(alice, "h"), ClientHolder(alice, ""), false},
		{"owner, other user, same owner", ClientHolder(alice, "h"), ClientHolder(bob, "h"), false},
		{"session, same session", sess.Holder(), sess.Holder(), true},
		{"session, same user without it", sess.Holder(), ClientHolder(alice, ""), false},
		{"session, other session", sess.Holder(), Session{ID: "s2", Owner: "alice"}.Holder(), false},
		{"legacy session, same session", "session:s1", sess.Holder(), true},
		{"owner that looks like a session", ClientHolder(alice, "x/session:s1"), sess.Holder(), false},
	}
	for _, c := range cases {
		if got := c.cur.Reacquires(c.req); got != c.want {
			t.Errorf("%s: %q.Reacquires(%q) = %v, want %v", c.name, c.cur, c.req, got, c.want)
		}
	}
}

func TestCheckOwner(t *testing.T) {
	long := make([]byte, MaxOwnerLen+1)
	for i := range long {
		long[i] = 'a'
	}
	for owner, ok := range map[string]bool{
		"host-a:4711":              true,
		"a":                        true,
		"with space and ~!":        true,
		string(long[:MaxOwnerLen]): true,
		"":                         false,
		string(long):               false,
		"tab\there":                false,
		"caf\u00e9":                false,
		"nul\x00":                  false,
		"del\x7f":                  false,
	} {
		if err := CheckOwner(owner); (err == nil) != ok {
			t.Errorf("CheckOwner(%q) = %v, want ok=%v", owner, err, ok)
		}
	}
}

func TestCheckMetadata(t *testing.T) {
	bad := "\xff\xfe"
	big := string(make([]byte, MaxMetadataSize+1))
	if err := CheckMetadata(&bad); CodeOf(err) != "invalid_metadata" {
		t.Fatalf("invalid UTF-8: %v", err)
	}
	if err := CheckMetadata(&big); CodeOf(err) != "invalid_metadata" {
		t.Fatalf("too big: %v", err)
	}
	ok := "host-a:5432 \u2713"
	if err := CheckMetadata(&ok); err != nil {
		t.Fatal(err)
	}
}
