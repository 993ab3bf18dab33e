package domain

import (
	"strings"
	"testing"
)

func TestParseLockName(t *testing.T) {
	long := strings.Repeat("a", 64)
	cases := []struct {
		in string
		ok bool
	}{
		{"a", true},
		{"db/primary", true},
		{"A-Z_a.z/0-9", true},
		{long, true},
		{strings.Repeat(long+"/", 3) + strings.Repeat("b", 61), true}, // 256 bytes
		{strings.Repeat(long+"/", 3) + strings.Repeat("b", 62), false},
		{long + "a", false},
		{"", false},
		{"/a", false},
		{"a/", false},
		{"a//b", false},
		{".", false},
		{"..", false},
		{"a/../b", false},
		{"a/./b", false},
		{"...", true},
		{"a b", false},
		{"é", false},
		{"a%2Fb", false},
	}
	for _, c := range cases {
		_, err := ParseLockName(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseLockName(%q) error = %v, want ok=%v", c.in, err, c.ok)
		}
		if err != nil && CodeOf(err) != "invalid_name" {
			t.Errorf("ParseLockName(%q) code = %s", c.in, CodeOf(err))
		}
	}
}

func TestPrefixMatchesComponentwise(t *testing.T) {
	cases := []struct {
		prefix, name string
		want         bool
	}{
		{"", "anything/at/all", true},
		{"db", "db", true},
		{"db", "db/x", true},
		{"db", "dbx", false},
		{"db", "db-x", false},
		{"db/", "db", false},
		{"db/", "db/x", true},
		{"db/x", "db/x/y", true},
		{"db/x", "db/xy", false},
	}
	for _, c := range cases {
		p, err := ParsePrefix(c.prefix)
		if err != nil {
			t.Fatalf("ParsePrefix(%q): %v", c.prefix, err)
		}
		if got := p.Matches(LockName(c.name)); got != c.want {
			t.Errorf("prefix %q matches %q = %v, want %v", c.prefix, c.name, got, c.want)
		}
	}
	for _, bad := range []string{"/", "db//", "a//b", "..", "x y"} {
		if _, err := ParsePrefix(bad); err == nil {
			t.Errorf("ParsePrefix(%q) accepted", bad)
		}
	}
}

func TestPrefixStringRoundTrip(t *testing.T) {
	for _, in := range []string{"", "db", "db/", "db/x", "db/x/", "a.b_c-d/e"} {
		p, err := ParsePrefix(in)
		if err != nil {
			t.Fatalf("ParsePrefix(%q): %v", in, err)
		}
		if got := p.String(); got != in {
			t.Errorf("ParsePrefix(%q).String() = %q", in, got)
		}
		again, err := ParsePrefix(p.String())
		if err != nil || again != p {
			t.Errorf("ParsePrefix(%q) = %+v, %v; want %+v", p.String(), again, err, p)
		}
	}
	if got := (Prefix{}).String(); got != "" {
		t.Errorf("zero Prefix String() = %q, want empty", got)
	}
}

func TestParseStaticToken(t *testing.T) {
	cases := []struct {
		entry, org, user string
		code             string
	}{
		{"acme/alice:0123456789abcdef", "acme", "alice", ""},
		{"bob:0123456789abcdef", "default", "bob", ""},
		{"acme/alice:short", "", "", "token_too_short"},
		{"no-colon", "", "", "invalid_token_entry"},
		{"a b/alice:0123456789abcdef", "", "", "invalid_org"},
		{"acme/:0123456789abcdef", "", "", "invalid_user"},
	}
	for _, c := range cases {
		p, tok, err := ParseStaticToken(c.entry)
		if c.code != "" {
			if CodeOf(err) != c.code {
				t.Errorf("%q: code %q, want %q", c.entry, CodeOf(err), c.code)
			}
			if err != nil && strings.Contains(err.Error(), "short") && strings.Contains(err.Error(), ":short") {
				t.Errorf("%q: error leaks the token: %v", c.entry, err)
			}
			continue
		}
		if err != nil || string(p.Org) != c.org || p.User != c.user || tok != "0123456789abcdef" {
			t.Errorf("%q: got %+v %q %v", c.entry, p, tok, err)
		}
	}
}

func TestTokenHashEqual(t *testing.T) {
	a, b := HashToken("x"), HashToken("y")
	if !a.Equal(HashToken("x")) || a.Equal(b) {
		t.Fatal("hash equality is wrong")
	}
}
