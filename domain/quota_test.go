package domain_test

import (
	"errors"
	"testing"

	"github.com/octostore/octostore/domain"
)

func TestLimitsValidate(t *testing.T) {
	for name, tt := range map[string]struct {
		l    domain.Limits
		code string // "" when valid
	}{
		"empty":         {domain.Limits{}, ""},
		"zero":          {domain.Limits{domain.QuotaLocks: 0}, ""},
		"every quota":   {domain.Limits{domain.QuotaLocks: 1, domain.QuotaSessions: 2, domain.QuotaWaiters: 3, domain.QuotaWebhooks: 4, domain.QuotaWatchStreams: domain.MaxQuotaLimit}, ""},
		"negative":      {domain.Limits{domain.QuotaSessions: -1}, "invalid_quota"},
		"too high":      {domain.Limits{domain.QuotaWaiters: domain.MaxQuotaLimit + 1}, "invalid_quota"},
		"unknown quota": {domain.Limits{"cpu": 1}, "invalid_quota"},
	} {
		err := tt.l.Validate()
		if tt.code == "" && err != nil || tt.code != "" && domain.CodeOf(err) != tt.code {
			t.Errorf("%s: Validate() = %v, want code %q", name, err, tt.code)
		}
	}
}

func TestQuotaSetValidateHasNoKind(t *testing.T) {
	for _, s := range []domain.QuotaSet{
		{Org: "no/slash", Limits: domain.Limits{domain.QuotaLocks: 1}},
		{Org: "acme", Limits: domain.Limits{domain.QuotaLocks: -1}},
	} {
		if err := s.Validate(); err == nil || domain.KindOf(err) != domain.KindInternal {
			t.Errorf("%+v: Validate() = %v (kind %v), want a kindless error", s, err, domain.KindOf(err))
		}
	}
	if err := (domain.QuotaSet{Org: "acme"}).Validate(); err != nil {
		t.Errorf("empty overrides: %v", err)
	}
}

func TestQuotaExceededError(t *testing.T) {
	err := error(&domain.QuotaExceededError{Quota: domain.QuotaSessions, Limit: 10})
	if !errors.Is(err, domain.ErrQuotaExceeded) || domain.KindOf(err) != domain.KindTooMany || domain.CodeOf(err) != "quota_exceeded" {
		t.Errorf("%v: does not match ErrQuotaExceeded as KindTooMany", err)
	}
	if got := err.Error(); got != "the org's sessions quota is reached (limit 10)" {
		t.Errorf("message %q", got)
	}
}
