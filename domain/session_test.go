package domain

import (
	"strings"
	"testing"
	"time"
)

func TestSessionValidate(t *testing.T) {
	valid := Session{ID: "s1", Org: "acme", Owner: "alice", TTL: time.Minute, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute)}
	cases := []struct {
		name string
		edit func(s *Session)
		want string // "" for valid
	}{
		{"valid", func(*Session) {}, ""},
		{"longest id", func(s *Session) { s.ID = SessionID(strings.Repeat("x", MaxSessionIDLen)) }, ""},
		{"ttl outside the open limits", func(s *Session) { s.TTL = time.Nanosecond }, ""},
		{"empty id", func(s *Session) { s.ID = "" }, "session id is empty"},
		{"id too long", func(s *Session) { s.ID = SessionID(strings.Repeat("x", MaxSessionIDLen+1)) }, "more than 128"},
		{"empty org", func(s *Session) { s.Org = "" }, "session org"},
		{"invalid org", func(s *Session) { s.Org = "a/b" }, "session org"},
		{"empty owner", func(s *Session) { s.Owner = "" }, "owner is empty"},
		{"zero ttl", func(s *Session) { s.TTL = 0 }, "not positive"},
		{"negative ttl", func(s *Session) { s.TTL = -time.Second }, "not positive"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := valid
			c.edit(&s)
			checkRecordRule(t, s.Validate(), c.want)
		})
	}
}
