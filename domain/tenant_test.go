package domain

import "testing"

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
