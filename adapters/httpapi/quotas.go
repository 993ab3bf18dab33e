package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// SetQuotasRequest are the per-org overrides sent to PUT: a number sets the
// org's own limit, null or a missing field makes the quota follow the
// server-wide default.
type SetQuotasRequest struct {
	Locks        *int `json:"locks,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Lock records (held, or in their lock delay)." example:"1000"`
	Sessions     *int `json:"sessions,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Open sessions."`
	Waiters      *int `json:"waiters,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Blocking acquires queued on busy locks."`
	Webhooks     *int `json:"webhooks,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Webhook subscriptions."`
	WatchStreams *int `json:"watch_streams,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Open watch streams."`
	ConfigKeys   *int `json:"config_keys,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Config keys with a value; also how many deleted keys are kept (beyond, the one deleted longest ago is purged)."`
	ConfigBytes  *int `json:"config_bytes,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Bytes of the current config values (compact JSON); the older versions in the history hold at most as many bytes again (beyond, a write drops the oldest versions of the key written)."`
	Flags        *int `json:"flags,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Feature flags."`
	Limits       *int `json:"limits,omitempty" nullable:"true" minimum:"0" maximum:"1000000000" doc:"Rate-limit names with a counter in memory."`
}

// limits converts the body to domain limits, leaving out null fields.
func (q SetQuotasRequest) limits() domain.Limits {
	out := domain.Limits{}
	for k, v := range map[domain.Quota]*int{domain.QuotaLocks: q.Locks, domain.QuotaSessions: q.Sessions,
		domain.QuotaWaiters: q.Waiters, domain.QuotaWebhooks: q.Webhooks, domain.QuotaWatchStreams: q.WatchStreams,
		domain.QuotaConfigKeys: q.ConfigKeys, domain.QuotaConfigBytes: q.ConfigBytes, domain.QuotaFlags: q.Flags, domain.QuotaLimits: q.Limits} {
		if v != nil {
			out[k] = *v
		}
	}
	return out
}

// QuotaStatus is one quota of an org.
type QuotaStatus struct {
	Limit   int  `json:"limit" doc:"The org's limit: its own, or the server-wide default" example:"100000"`
	Default bool `json:"default" doc:"Whether the limit is the server-wide default (the org has no override for it)" example:"true"`
	Used    int  `json:"used" doc:"How much of it the org uses now" example:"3"`
}

// OrgQuotas are the quotas of one org.
type OrgQuotas struct {
	Org          string      `json:"org" example:"acme"`
	Locks        QuotaStatus `json:"locks"`
	Sessions     QuotaStatus `json:"sessions"`
	Waiters      QuotaStatus `json:"waiters"`
	Webhooks     QuotaStatus `json:"webhooks"`
	WatchStreams QuotaStatus `json:"watch_streams"`
	ConfigKeys   QuotaStatus `json:"config_keys"`
	ConfigBytes  QuotaStatus `json:"config_bytes"`
	Flags        QuotaStatus `json:"flags"`
	Limits       QuotaStatus `json:"limits"`
}

type orgPath struct {
	Org string `path:"org" maxLength:"64" doc:"An org name: 1-64 bytes of [A-Za-z0-9._-]. Any valid name may be configured, also one known only through static tokens." example:"acme"`
}

type putQuotasInput struct {
	Org  string `path:"org" maxLength:"64" doc:"An org name: 1-64 bytes of [A-Za-z0-9._-]. Any valid name may be configured, also one known only through static tokens." example:"acme"`
	Body SetQuotasRequest
}

type quotasOutput struct {
	Body OrgQuotas
}

func quotaCodes(quota string) string {
	return "`quota_exceeded`: your org has reached its `" + quota + "` quota; `quota` and `limit` name it. Nothing was changed."
}

var errQuotaInput = errorDoc{http.StatusUnprocessableEntity,
	"`validation_failed`: a field or the org name violates the schema (named in `errors[].location`); `invalid_org`: bad org name.",
	atField("path.org", domain.Invalid("invalid_org", `org "a/b": '/' is not allowed in one component`))}

func (s *Server) registerQuotas() {
	register(s, huma.Operation{
		OperationID: "get-org-quotas", Method: http.MethodGet, Path: "/admin/orgs/{org}/quotas",
		Summary: "Show an org's quotas", Tags: []string{"admin"}, Security: bearer,
		Description: "Each quota of the org: its limit (the org's own or the server-wide default) and the current usage. Needs the admin token.",
	}, s.getQuotas, errUnauthorized, errAdminOnly, errQuotaInput)
	register(s, huma.Operation{
		OperationID: "set-org-quotas", Method: http.MethodPut, Path: "/admin/orgs/{org}/quotas",
		Summary: "Set an org's quotas", Tags: []string{"admin"}, Security: bearer,
		RequestBody: requestExample("locks", "Allow acme 1,000 locks; every other quota follows the default", "",
			SetQuotasRequest{Locks: new(1000)}),
		Description: "Replaces the org's overrides: a number sets the org's own limit (0 allows none), null or a missing field makes the quota follow the server-wide default. " +
			"Lowering a limit below the usage takes nothing away; new use is refused until usage falls below it. Durable before the response. Needs the admin token.",
	}, s.putQuotas, errUnauthorized, errAdminOnly, errQuotaInput, errMalformed, errTooLarge, errMediaType, errUnavailable)
}

func (s *Server) getQuotas(ctx context.Context, in *orgPath) (*quotasOutput, error) {
	org, err := domain.ParseOrgID(in.Org)
	if err != nil {
		return nil, atField("path.org", err)
	}
	us, err := s.quotas.Get(ctx, principal(ctx), org)
	if err != nil {
		return nil, err
	}
	return &quotasOutput{Body: orgQuotas(org, us)}, nil
}

func (s *Server) putQuotas(ctx context.Context, in *putQuotasInput) (*quotasOutput, error) {
	org, err := domain.ParseOrgID(in.Org)
	if err != nil {
		return nil, atField("path.org", err)
	}
	us, err := s.quotas.Set(ctx, principal(ctx), org, in.Body.limits())
	if err != nil {
		return nil, err
	}
	return &quotasOutput{Body: orgQuotas(org, us)}, nil
}

func orgQuotas(org domain.OrgID, us []application.QuotaUsage) OrgQuotas {
	out := OrgQuotas{Org: string(org)}
	for _, u := range us {
		st := QuotaStatus{Limit: u.Limit, Default: !u.Overridden, Used: u.Used}
		switch u.Quota {
		case domain.QuotaLocks:
			out.Locks = st
		case domain.QuotaSessions:
			out.Sessions = st
		case domain.QuotaWaiters:
			out.Waiters = st
		case domain.QuotaWebhooks:
			out.Webhooks = st
		case domain.QuotaWatchStreams:
			out.WatchStreams = st
		case domain.QuotaConfigKeys:
			out.ConfigKeys = st
		case domain.QuotaConfigBytes:
			out.ConfigBytes = st
		case domain.QuotaFlags:
			out.Flags = st
		case domain.QuotaLimits:
			out.Limits = st
		}
	}
	return out
}
