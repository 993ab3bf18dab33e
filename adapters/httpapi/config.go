package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/application"
	"github.com/octostore/octostore/domain"
)

// exampleConfigKey is the config key of the examples.
const exampleConfigKey = "app/feature-x"

// ConfigKeyPath is the config key path parameter. Keys follow the lock-name
// rules; validation is the domain's.
type ConfigKeyPath struct {
	Key string `path:"key" doc:"Config key: '/'-separated components of [A-Za-z0-9._-], 1-64 bytes each, 1-256 bytes in all (the lock-name rules). A client encodes the value as one path segment, so '/' is sent as %2F (/config/app%2Ffeature-x)." example:"app/feature-x"`
}

// configKey parses the path's key; its error names the parameter.
func (p ConfigKeyPath) configKey() (domain.LockName, error) {
	key, err := domain.ParseLockName(p.Key)
	if err != nil {
		return "", &fieldError{loc: "path.key", hint: "; inside a URL a '/' of a key is sent as %2F", err: err}
	}
	return key, nil
}

// ConfigFence makes a write conditional on holding a lock.
type ConfigFence struct {
	Lock         string `json:"lock" minLength:"1" maxLength:"256" doc:"A lock of your org." example:"leader/app"`
	FencingToken uint64 `json:"fencing_token" minimum:"1" doc:"Your grant's fencing token: the write succeeds only while it is the token of the lock's current, unexpired holder." example:"42"`
}

// PutConfigRequest is the body of a config write.
type PutConfigRequest struct {
	Value           json.RawMessage `json:"value" doc:"Any JSON value (object, array, string, number, true, false or null), at most 262144 bytes once insignificant whitespace is removed; it is stored in that compact form."`
	Description     string          `json:"description,omitempty" maxLength:"1024" doc:"Free text stored with this version (at most 1024 bytes)." example:"rollout of feature x"`
	ExpectedVersion *uint64         `json:"expected_version,omitempty" doc:"Compare-and-set: write only if the key is at this version now (0: only if it has no value). Same as If-Match." example:"3"`
	Fence           *ConfigFence    `json:"fence,omitempty" doc:"Write only while you hold this lock with this fencing token."`
}

// DeleteConfigRequest is the optional body of a config deletion.
type DeleteConfigRequest struct {
	ExpectedVersion *uint64      `json:"expected_version,omitempty" doc:"Delete only if the key is at this version now. Same as If-Match." example:"3"`
	Fence           *ConfigFence `json:"fence,omitempty" doc:"Delete only while you hold this lock with this fencing token."`
}

type putConfigInput struct {
	ConfigKeyPath
	IfMatch     string `header:"If-Match" doc:"Compare-and-set: the version the key must be at now, as an entity tag (\"3\"). 412 version_conflict otherwise."`
	IfNoneMatch string `header:"If-None-Match" doc:"* writes only if the key has no value now (create only). 412 version_conflict otherwise."`
	ContentType string `header:"Content-Type" hidden:"true"`
	// RawBody is a PutConfigRequest, decoded by decodeConfigWrite.
	RawBody []byte
}

type deleteConfigInput struct {
	ConfigKeyPath
	IfMatch string               `header:"If-Match" doc:"Delete only if the key is at this version now, as an entity tag (\"3\")."`
	Body    *DeleteConfigRequest `required:"false"`
}

type getConfigInput struct {
	ConfigKeyPath
	Version uint64 `query:"version" doc:"A kept older version to read instead of the current value (e.g. 2)."`
}

type configHistoryInput struct {
	ConfigKeyPath
	Limit  int    `query:"limit" minimum:"1" maximum:"100" default:"20" doc:"Page size. A page also ends early once its values pass 1 MiB."`
	Cursor string `query:"cursor" maxLength:"20" doc:"next_cursor from the previous page."`
}

type listConfigInput struct {
	Prefix string `query:"prefix" doc:"Only keys equal to or below this path, matched component by component (app matches app and app/x, not appx); a trailing / keeps only keys strictly below." example:"app/"`
	Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Page size. A page also ends early once its values pass 1 MiB."`
	Cursor string `query:"cursor" maxLength:"512" doc:"next_cursor from the previous page."`
}

type watchConfigInput struct {
	ConfigKeyPath
	LastEventID string `header:"Last-Event-ID" doc:"Resume after this event: the id of the last frame you received (browsers send it when they reconnect). Without it the stream starts with a snapshot."`
}

// ConfigValue is a config key's value at one version.
type ConfigValue struct {
	Key         string          `json:"key" example:"app/feature-x"`
	Value       json.RawMessage `json:"value" doc:"The value, as compact JSON."`
	Version     uint64          `json:"version" doc:"1 for the first write of the key, one more for each write or deletion after it." example:"3"`
	UpdatedAt   Time            `json:"updated_at" doc:"When this version was written (server clock)."`
	UpdatedBy   string          `json:"updated_by" doc:"The user of your org that wrote it." example:"alice"`
	Description string          `json:"description" doc:"The description written with this version (empty if none)."`
}

type configOutput struct {
	ETag string `header:"ETag" doc:"The version as an entity tag (\"3\"), for If-Match."`
	Body ConfigValue
}

// ConfigDeletion is the answer to a deletion.
type ConfigDeletion struct {
	Key       string `json:"key" example:"app/feature-x"`
	Version   uint64 `json:"version" doc:"The version the deletion was recorded as; a later write gets the next one." example:"4"`
	Deleted   bool   `json:"deleted" doc:"Always true."`
	UpdatedAt Time   `json:"updated_at" doc:"When it was deleted (server clock)."`
	UpdatedBy string `json:"updated_by" doc:"The user of your org that deleted it." example:"alice"`
}

type deleteConfigOutput struct {
	Body ConfigDeletion
}

// ConfigVersion is one entry of a key's history.
type ConfigVersion struct {
	Version     uint64          `json:"version" example:"3"`
	Deleted     bool            `json:"deleted" doc:"True when this version is the key's deletion (then there is no value)."`
	Value       json.RawMessage `json:"value,omitempty" doc:"The value written (absent for a deletion)."`
	UpdatedAt   Time            `json:"updated_at" doc:"When (server clock)."`
	UpdatedBy   string          `json:"updated_by" doc:"Who: the user of your org." example:"alice"`
	Description string          `json:"description" doc:"The description written with it."`
}

// ConfigHistory is one page of a key's history, newest first.
type ConfigHistory struct {
	Key        string          `json:"key" example:"app/feature-x"`
	Versions   []ConfigVersion `json:"versions" nullable:"false" doc:"Kept versions, newest first, deletions included. The server keeps the newest config.history versions of each key (100 by default), and the older versions of an org's keys hold at most its config_bytes quota of values: a write that passes it drops the oldest versions of the key written."`
	NextCursor string          `json:"next_cursor,omitempty" doc:"Pass as cursor to get older versions; absent on the last page."`
}

type configHistoryOutput struct {
	Body ConfigHistory
}

// ConfigList is one page of the keys of an org.
type ConfigList struct {
	Configs    []ConfigValue `json:"configs" nullable:"false" doc:"Keys with a value, in key order, with their current values."`
	NextCursor string        `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
}

type listConfigOutput struct {
	Body ConfigList
}

// ConfigWatchSnapshot is the first frame of a key watch, and the one after
// reset: the key's current version (never its value).
type ConfigWatchSnapshot struct {
	Seq       uint64 `json:"seq" doc:"The last event the state reflects (also the frame's id)." example:"1042"`
	Key       string `json:"key" example:"app/feature-x"`
	Version   uint64 `json:"version" doc:"The key's newest version; 0 when it was never written." example:"3"`
	Deleted   bool   `json:"deleted" doc:"True when the newest version is a deletion (the key has no value)."`
	UpdatedAt *Time  `json:"updated_at,omitempty" doc:"When the newest version was written."`
	UpdatedBy string `json:"updated_by,omitempty" doc:"Who wrote it." example:"alice"`
}

var (
	errConfigNotFound = errorDoc{http.StatusNotFound, "`config_not_found`: the key has no value in your org (never written, or deleted); `config_version_not_found`: that version is not kept (trimmed, never written, or a deletion).",
		domain.ErrConfigNotFound}
	errVersionConflict = errorDoc{http.StatusPreconditionFailed, "`version_conflict`: If-Match, If-None-Match or expected_version does not hold; the detail names the current version. Nothing was changed.",
		&domain.VersionConflictError{Key: exampleConfigKey, Current: 4}}
	errFenceRejected = errorDoc{http.StatusConflict, "`fence_rejected`: the fence's token is not the current holder's of its lock (released, expired or taken over). Nothing was changed.",
		domain.ErrFenceRejected}
	errValueTooLarge = errorDoc{http.StatusRequestEntityTooLarge, "`value_too_large`: the value is larger than 262144 bytes of compact JSON. Nothing was stored.",
		&domain.ValueTooLargeError{Size: 262145}}
	errConfigInvalid = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`); `invalid_name`: bad key or fence lock; `invalid_value`, `invalid_description`; `invalid_precondition`: a bad If-Match, If-None-Match other than *, or an If-Match that disagrees with expected_version.",
		atField("header.If-Match", errInvalidPrecondition)}
	errConfigKey = errorDoc{http.StatusUnprocessableEntity, "`invalid_name`: bad key.",
		&fieldError{loc: "path.key", err: exampleNameError}}
	errConfigQuery = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_name`: bad key or prefix; `invalid_cursor`.",
		atField("query.cursor", errInvalidCursor)}

	errInvalidPrecondition = domain.Invalid("invalid_precondition",
		`If-Match must be one version as an entity tag ("3"), If-None-Match must be *, and If-Match must agree with expected_version`)
)

func (s *Server) registerConfig() {
	writes := []errorDoc{errUnauthorized, errForbidden, errDenied, errConfigInvalid, errMalformed, errTooLarge, errMediaType, errUnavailable,
		errVersionConflict, errFenceRejected}
	reads := []errorDoc{errUnauthorized, errForbidden, errDenied, errConfigKey, errConfigNotFound}

	register(s, huma.Operation{
		OperationID: "put-config", Method: http.MethodPut, Path: "/config/{key}",
		Summary: "Write a config value", Tags: []string{"config"}, Security: bearer,
		RequestBody: requestExample("value", "Write a value", "Any JSON value; add If-Match or expected_version for a compare-and-set.",
			PutConfigRequest{Value: json.RawMessage(`{"enabled":true,"limit":10}`), Description: "rollout of feature x"}),
		Description: "Stores a new version of the key in your org: one more than its newest version (a deletion counts), or for a key with no record one above the highest version your org purged (1 if it never purged a key), so versions of a key never repeat. " +
			"Compare-and-set with `If-Match: \"<version>\"` or `expected_version`, create-only with `If-None-Match: *`, and fence the write on a lock you hold with `fence`. " +
			"The version is on disk before the response is sent, and a `config.updated` event (without the value) goes to watches, the events page and webhooks.",
	}, s.putConfig, append(writes, errValueTooLarge,
		errorDoc{http.StatusTooManyRequests, quotaCodes("config_keys` (a new key) or `config_bytes` (the values' bytes"),
			&domain.QuotaExceededError{Quota: domain.QuotaConfigKeys, Limit: 10_000}}, errConfigRateLimited)...)
	s.documentConfigWriteBody(s.api.OpenAPI().Paths["/config/{key}"].Put)

	register(s, huma.Operation{
		OperationID: "delete-config", Method: http.MethodDelete, Path: "/config/{key}",
		Summary: "Delete a config value", Tags: []string{"config"}, Security: bearer,
		RequestBody: requestExample("cas", "Delete version 1 only", "The body is optional; without it the key is deleted whatever its version.",
			DeleteConfigRequest{ExpectedVersion: new(uint64(1))}),
		Description: "Deletes the key's value, recorded in its history as a deletion with the next version; a later write goes on from there. " +
			"When your org then has more deleted keys than its `config_keys` quota, the one deleted longest ago is purged with its history: it reads as never written, and written again it starts above every version it had. " +
			"Takes the same `If-Match`, `expected_version` and `fence` as a write. A `config.deleted` event follows.",
	}, s.deleteConfig, append(writes, errorDoc{http.StatusNotFound, "`config_not_found`: the key has no value in your org.", domain.ErrConfigNotFound})...)

	register(s, huma.Operation{
		OperationID: "get-config", Method: http.MethodGet, Path: "/config/{key}",
		Summary: "Read a config value", Tags: []string{"config"}, Security: bearer,
		Description: "Returns the key's current value, or with `version` a kept older one. The current value is served from memory and is always the newest committed one.",
	}, s.getConfig, reads...)

	register(s, huma.Operation{
		OperationID: "config-history", Method: http.MethodGet, Path: "/config/{key}/history",
		Summary: "Read a key's history", Tags: []string{"config"}, Security: bearer,
		Description: "Returns the kept versions of the key, newest first, each with its value, who wrote it and when; deletions are listed too. The history of a deleted key can still be read until the key is purged (see the deletion).",
	}, s.configHistory, errUnauthorized, errForbidden, errDenied, errConfigNotFound,
		errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a parameter violates the schema; `invalid_name`: bad key; `invalid_cursor`.",
			atField("query.cursor", errInvalidCursor)})

	register(s, huma.Operation{
		OperationID: "list-config", Method: http.MethodGet, Path: "/config",
		Summary: "List config values", Tags: []string{"config"}, Security: bearer,
		Description: "Lists the keys of your org that have a value, in key order, optionally below a prefix, with their current values, a page at a time.",
	}, s.listConfig, errUnauthorized, errForbidden, errConfigQuery)

	register(s, huma.Operation{
		OperationID: "watch-config", Method: http.MethodGet, Path: "/config/{key}/watch",
		Summary: "Watch a config key", Tags: []string{"config", "events"}, Security: bearer,
		Description: "Streams the changes of one config key of your org (`config.updated`, `config.deleted`; never the value: read it with GET), after a first `snapshot` of its newest version." + watchDescription,
		Responses:   map[string]*huma.Response{"200": s.configWatchStream()},
	}, s.watchConfig, errUnauthorized, errForbidden, errDenied, errConfigKey, errLastEventID, errTooManyWatches, errWatchQuota)
}

// configWrite reads the preconditions of a write from its headers and
// body: If-Match and expected_version must agree when both are sent.
func configWrite(ifMatch, ifNoneMatch string, expected *uint64, fence *ConfigFence) (domain.ConfigWrite, error) {
	var w domain.ConfigWrite
	if ifMatch != "" {
		v, err := parseETag(ifMatch)
		if err != nil || expected != nil && *expected != v {
			return w, atField("header.If-Match", errInvalidPrecondition)
		}
		expected = &v
	}
	switch strings.TrimSpace(ifNoneMatch) {
	case "":
	case "*":
		w.IfAbsent = true
	default:
		return w, atField("header.If-None-Match", errInvalidPrecondition)
	}
	w.Expected = expected
	if fence != nil {
		lock, err := domain.ParseLockName(fence.Lock)
		if err != nil {
			return w, atField("body.fence.lock", err)
		}
		w.Fence = &domain.Fence{Lock: lock, Token: domain.FencingToken(fence.FencingToken)}
	}
	return w, nil
}

// parseETag reads a version sent as an entity tag: "3" (a bare 3 is taken
// too). A weak tag or a list is refused.
func parseETag(s string) (uint64, error) {
	s = strings.TrimSpace(s)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	return strconv.ParseUint(s, 10, 64)
}

func etag(version uint64) string { return `"` + strconv.FormatUint(version, 10) + `"` }

func (s *Server) putConfig(ctx context.Context, in *putConfigInput) (*configOutput, error) {
	if p := principal(ctx); !p.Admin {
		if wait, ok := s.configWrites.allowN(string(p.Org), len(in.RawBody), s.cfg.Now()); !ok {
			return nil, configRateLimitedProblem(wait)
		}
	}
	release, err := s.takeTurn(ctx, len(in.RawBody))
	if err != nil {
		return nil, err
	}
	defer release()
	body, err := s.decodeConfigWrite(in.ContentType, in.RawBody)
	if err != nil {
		return nil, err
	}
	key, err := in.configKey()
	if err != nil {
		return nil, err
	}
	cond, err := configWrite(in.IfMatch, in.IfNoneMatch, body.ExpectedVersion, body.Fence)
	if err != nil {
		return nil, err
	}
	e, err := s.config.Put(ctx, principal(ctx), key, application.ConfigPut{Value: body.Value, Description: body.Description, Cond: cond})
	if err != nil {
		return nil, err
	}
	return &configOutput{ETag: etag(e.Version), Body: configValueOf(e)}, nil
}

func (s *Server) deleteConfig(ctx context.Context, in *deleteConfigInput) (*deleteConfigOutput, error) {
	key, err := in.configKey()
	if err != nil {
		return nil, err
	}
	var body DeleteConfigRequest
	if in.Body != nil {
		body = *in.Body
	}
	cond, err := configWrite(in.IfMatch, "", body.ExpectedVersion, body.Fence)
	if err != nil {
		return nil, err
	}
	e, err := s.config.Delete(ctx, principal(ctx), key, cond)
	if err != nil {
		return nil, err
	}
	return &deleteConfigOutput{Body: ConfigDeletion{Key: string(key), Version: e.Version, Deleted: true,
		UpdatedAt: wireTime(e.At), UpdatedBy: e.By}}, nil
}

func (s *Server) getConfig(ctx context.Context, in *getConfigInput) (*configOutput, error) {
	key, err := in.configKey()
	if err != nil {
		return nil, err
	}
	e, err := s.config.Get(ctx, principal(ctx), key, in.Version)
	if err != nil {
		return nil, err
	}
	return &configOutput{ETag: etag(e.Version), Body: configValueOf(e)}, nil
}

func (s *Server) configHistory(ctx context.Context, in *configHistoryInput) (*configHistoryOutput, error) {
	key, err := in.configKey()
	if err != nil {
		return nil, err
	}
	var before uint64
	if in.Cursor != "" {
		if before, err = strconv.ParseUint(in.Cursor, 10, 64); err != nil || before == 0 {
			return nil, atField("query.cursor", errInvalidCursor)
		}
	}
	page, err := s.config.History(ctx, principal(ctx), key, before, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &configHistoryOutput{Body: ConfigHistory{Key: string(key), Versions: make([]ConfigVersion, 0, len(page.Versions))}}
	for _, v := range page.Versions {
		out.Body.Versions = append(out.Body.Versions, ConfigVersion{Version: v.Version, Deleted: v.Deleted, Value: v.Value,
			UpdatedAt: wireTime(v.At), UpdatedBy: v.By, Description: v.Description})
	}
	if page.Next != 0 {
		out.Body.NextCursor = strconv.FormatUint(page.Next, 10)
	}
	return out, nil
}

func (s *Server) listConfig(ctx context.Context, in *listConfigInput) (*listConfigOutput, error) {
	prefix, after, err := pageQuery(in.Prefix, in.Cursor)
	if err != nil {
		return nil, err
	}
	page, err := s.config.List(ctx, principal(ctx), prefix, after, in.Limit)
	if err != nil {
		return nil, err
	}
	out := &listConfigOutput{Body: ConfigList{Configs: make([]ConfigValue, 0, len(page.Entries))}}
	for _, e := range page.Entries {
		out.Body.Configs = append(out.Body.Configs, configValueOf(e))
	}
	if page.More && len(page.Entries) > 0 {
		out.Body.NextCursor = encodeCursor(page.Entries[len(page.Entries)-1].Key.Name)
	}
	return out, nil
}

func (s *Server) watchConfig(ctx context.Context, in *watchConfigInput) (*watchOutput, error) {
	key, err := in.configKey()
	if err != nil {
		return nil, err
	}
	last, err := parseLastEventID(in.LastEventID)
	if err != nil {
		return nil, err
	}
	w, err := s.config.Watch(ctx, principal(ctx), key, domain.HashToken(bearerToken(ctx)), last)
	if err != nil {
		return nil, err
	}
	return s.streamOf(w, true), nil
}

func configValueOf(e domain.ConfigEntry) ConfigValue {
	return ConfigValue{Key: string(e.Key.Name), Value: e.Value, Version: e.Version, UpdatedAt: wireTime(e.At),
		UpdatedBy: e.By, Description: e.Description}
}

// configSnapshotOf converts a key watch's snapshot for the wire.
func configSnapshotOf(f application.Frame) ConfigWatchSnapshot {
	c := f.Config
	out := ConfigWatchSnapshot{Seq: f.Seq, Key: string(c.Key.Name), Version: c.Version, Deleted: c.Deleted, UpdatedBy: c.By}
	if c.Exists() {
		out.UpdatedAt = wireTimeRef(c.At)
	}
	return out
}
