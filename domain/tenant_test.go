package domain

import (
	"errors"
	"testing"
)

func TestCredentialValidate(t *testing.T) {
	hash := HashToken("0123456789abcdef")
	cases := []struct {
		name string
		p    Principal
		want string // "" for valid
	}{
		{"tenant", Principal{Org: "acme", User: "alice"}, ""},
		{"admin without org", Principal{User: "root", Admin: true}, ""},
		{"admin with valid org", Principal{Org: "acme", User: "root", Admin: true}, ""},
		{"empty user", Principal{Org: "acme"}, "user is empty"},
		{"tenant without org", Principal{User: "alice"}, "org"},
		{"tenant with invalid org", Principal{Org: "a/b", User: "alice"}, "org"},
		{"admin with invalid org", Principal{Org: "a/b", User: "root", Admin: true}, "org"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			checkRecordRule(t, Credential{Hash: hash, Principal: c.p}.Validate(), c.want)
		})
	}
}

func TestParsePrincipal(t *testing.T) {
	p, err := ParsePrincipal("acme", "ci-bot")
	if err != nil || p != (Principal{Org: "acme", User: "ci-bot"}) {
		t.Fatalf("ParsePrincipal(acme, ci-bot) = %+v, %v", p, err)
	}
	for _, c := range []struct{ org, user, code string }{
		{"", "alice", "invalid_org"},
		{"a/b", "alice", "invalid_org"},
		{"acme", "", "invalid_user"},
		{"acme", "..", "invalid_user"},
		{"acme", "a b", "invalid_user"},
	} {
		_, err := ParsePrincipal(c.org, c.user)
		var de *Error
		if !errors.As(err, &de) || de.Code != c.code || KindOf(err) != KindInvalid {
			t.Errorf("ParsePrincipal(%q, %q) = %v, want a %s error", c.org, c.user, err, c.code)
		}
	}
}
