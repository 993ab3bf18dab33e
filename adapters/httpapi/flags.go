package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/domain"
)

// exampleFlag is the flag name of the examples.
const exampleFlag = "new-checkout"

// FlagNamePath is the flag name path parameter; validation is the
// domain's (the lock-name grammar).
type FlagNamePath struct {
	Name string `path:"name" doc:"Flag name: '/'-separated components of [A-Za-z0-9._-], 1-64 bytes each, 1-256 bytes in all (the lock-name rules); '/' is sent as %2F." example:"new-checkout"`
}

// flagName parses the path's flag name; its error names the parameter.
func (p FlagNamePath) flagName() (domain.FlagName, error) {
	name, err := domain.ParseFlagName(p.Name)
	if err != nil {
		return "", &fieldError{loc: "path.name", hint: nameHint, err: err}
	}
	return name, nil
}

// PutFlagRequest is the body of writing a flag.
type PutFlagRequest struct {
	Enabled     bool   `json:"enabled" doc:"Whether the flag is on (for the subjects in its rollout)."`
	Percentage  *int   `json:"percentage,omitempty" minimum:"0" maximum:"100" doc:"Share of subjects the flag is on for, 0-100 (100 when absent). A subject is in the rollout when its bucket (SHA-256 of name:subject, first 8 bytes big-endian, modulo 10,000) is below percentage × 100; raising it only adds subjects."`
	Description string `json:"description,omitempty" maxLength:"1024" doc:"Free text, at most 1024 bytes of UTF-8."`
}

type putFlagInput struct {
	FlagNamePath
	Body PutFlagRequest
}

// Flag is a feature flag of the caller's org.
type Flag struct {
	Name        string `json:"name" example:"new-checkout"`
	Enabled     bool   `json:"enabled" example:"true"`
	Percentage  int    `json:"percentage" doc:"Share of subjects the flag is on for, 0-100." example:"25"`
	Description string `json:"description" example:"the new checkout page"`
	Version     uint64 `json:"version" doc:"1 when created, one more with every write." example:"3"`
	UpdatedAt   Time   `json:"updated_at" doc:"When it was last written."`
	UpdatedBy   string `json:"updated_by" doc:"The user of your org who wrote it last." example:"alice"`
}

type flagOutput struct {
	Body Flag
}

type listFlagsInput struct {
	Prefix string `query:"prefix" doc:"Only flags equal to or below this path, matched component by component (db matches db and db/x, not dbx); a trailing / keeps only names strictly below." example:"checkout/"`
}

// FlagList is the flags of the caller's org.
type FlagList struct {
	Flags []Flag `json:"flags" nullable:"false" doc:"In name order."`
}

type flagListOutput struct {
	Body FlagList
}

type evaluateFlagInput struct {
	FlagNamePath
	Subject string `query:"subject" maxLength:"256" doc:"Who the flag is evaluated for: your end user, tenant, host … (1-256 bytes; required)." example:"user-1"`
}

// FlagEvaluation is whether a flag is on for a subject.
type FlagEvaluation struct {
	Name    string `json:"name" example:"new-checkout"`
	Subject string `json:"subject" example:"user-1"`
	Enabled bool   `json:"enabled" doc:"True when the flag is enabled and the subject is in its rollout." example:"true"`
}

type flagEvaluationOutput struct {
	Body FlagEvaluation
}

// EvaluateFlagsRequest asks for several flags at once.
type EvaluateFlagsRequest struct {
	Subject string   `json:"subject" minLength:"1" maxLength:"256" doc:"Who the flags are evaluated for (1-256 bytes)." example:"user-1"`
	Flags   []string `json:"flags" nullable:"false" minItems:"1" maxItems:"100" doc:"The flag names, 1-100 of them." example:"[\"new-checkout\",\"dark-mode\"]"`
}

type evaluateFlagsInput struct {
	Body EvaluateFlagsRequest
}

// FlagResult is one flag of a batch evaluation.
type FlagResult struct {
	Name    string `json:"name" example:"new-checkout"`
	Enabled bool   `json:"enabled" doc:"True when the flag exists, is enabled and the subject is in its rollout." example:"true"`
	Found   bool   `json:"found" doc:"False when your org has no flag of this name (then enabled is false)." example:"true"`
}

// FlagEvaluations are the results of a batch evaluation.
type FlagEvaluations struct {
	Subject string       `json:"subject" example:"user-1"`
	Results []FlagResult `json:"results" nullable:"false" doc:"One per flag asked for, in the order asked."`
}

type flagEvaluationsOutput struct {
	Body FlagEvaluations
}

var (
	errFlagNotFound = errorDoc{http.StatusNotFound, "`flag_not_found`: your org has no flag of this name.", domain.ErrFlagNotFound}
	errFlagName     = errorDoc{http.StatusUnprocessableEntity, "`invalid_name`: bad flag name.",
		&fieldError{loc: "path.name", hint: nameHint, err: exampleFlagNameError}}
	errFlagInput = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`), such as a percentage outside 0-100; `invalid_name`: bad flag name; `invalid_percentage`, `invalid_description`.",
		&Problem{Title: http.StatusText(http.StatusUnprocessableEntity), Status: http.StatusUnprocessableEntity, Code: "validation_failed",
			Detail: humaDetails[http.StatusUnprocessableEntity], Errors: []*FieldError{{Location: "body.percentage", Message: "expected number <= 100"}}}}
	errSubject = errorDoc{http.StatusUnprocessableEntity, "`invalid_subject`: the subject is missing, empty or not UTF-8; `validation_failed`: it is longer than 256 bytes; `invalid_name`: bad flag name.",
		atField("query.subject", domain.ErrInvalidSubject)}
	errEvaluateInput = errorDoc{http.StatusUnprocessableEntity, "`validation_failed`: a field violates the schema (named in `errors[].location`); `invalid_name`: a bad flag name (at `body.flags[i]`); `invalid_subject`: not UTF-8.",
		atField("body.flags[0]", exampleFlagNameError)}
	errFlagQuota = errorDoc{http.StatusTooManyRequests, quotaCodes("flags"), &domain.QuotaExceededError{Quota: domain.QuotaFlags, Limit: 10_000}}
)

var _, exampleFlagNameError = domain.ParseFlagName("checkout//v2")

// flagFields names the body field of the flag validation codes.
var flagFields = map[string]string{"invalid_percentage": "body.percentage", "invalid_description": "body.description"}

func (s *Server) registerFlags() {
	register(s, huma.Operation{
		OperationID: "put-flag", Method: http.MethodPut, Path: "/flags/{name}",
		Summary: "Create or change a feature flag", Tags: []string{"flags"}, Security: bearer,
		RequestBody: requestExample("rollout", "Turn a flag on for a quarter of subjects", "",
			PutFlagRequest{Enabled: true, Percentage: new(25), Description: "the new checkout page"}),
		Description: "Writes the flag: its version becomes 1 for a new flag and one more with every write. The change is durable before the answer and is a `flag.updated` event (name, version and who; never the settings). " +
			"An org has at most as many flags as its `flags` quota allows (10,000 by default).",
	}, s.putFlag, errUnauthorized, errForbidden, errDenied, errFlagInput, errMalformed, errTooLarge, errMediaType, errUnavailable, errFlagQuota)

	register(s, huma.Operation{
		OperationID: "get-flag", Method: http.MethodGet, Path: "/flags/{name}",
		Summary: "Describe a feature flag", Tags: []string{"flags"}, Security: bearer,
		Description: "One flag of your org, served from memory.",
	}, s.getFlag, errUnauthorized, errForbidden, errDenied, errFlagName, errFlagNotFound)

	register(s, huma.Operation{
		OperationID: "list-flags", Method: http.MethodGet, Path: "/flags",
		Summary: "List feature flags", Tags: []string{"flags"}, Security: bearer,
		Description: "The flags of your org in name order, optionally below a prefix.",
	}, s.listFlags, errUnauthorized, errForbidden, errInvalidPrefix)

	register(s, huma.Operation{
		OperationID: "delete-flag", Method: http.MethodDelete, Path: "/flags/{name}", DefaultStatus: http.StatusNoContent,
		Summary: "Delete a feature flag", Tags: []string{"flags"}, Security: bearer,
		Description: "Removes the flag (a `flag.deleted` event); evaluating it afterwards is `404 flag_not_found`.",
	}, s.deleteFlag, errUnauthorized, errForbidden, errDenied, errFlagName, errFlagNotFound, errUnavailable)

	register(s, huma.Operation{
		OperationID: "evaluate-flag", Method: http.MethodGet, Path: "/flags/{name}/evaluate",
		Summary: "Evaluate a feature flag for a subject", Tags: []string{"flags"}, Security: bearer,
		Description: "Whether the flag is on for `subject`: enabled, and the subject's bucket — the first 8 bytes of SHA-256(`name:subject`) as a big-endian unsigned integer, modulo 10,000 — below percentage × 100. Every client can compute the same answer.",
	}, s.evaluateFlag, errUnauthorized, errForbidden, errDenied, errSubject, errFlagNotFound)

	register(s, huma.Operation{
		OperationID: "evaluate-flags", Method: http.MethodPost, Path: "/flags/evaluate",
		Summary: "Evaluate several feature flags for a subject", Tags: []string{"flags"}, Security: bearer,
		RequestBody: requestExample("two-flags", "Evaluate two flags for one user", "",
			EvaluateFlagsRequest{Subject: "user-1", Flags: []string{exampleFlag, "dark-mode"}}),
		Description: "One result per name, in the order asked. A name your org has no flag of is not an error: its result has `found: false` and `enabled: false`.",
	}, s.evaluateFlags, errUnauthorized, errForbidden, errEvaluateInput, errMalformed, errTooLarge, errMediaType)
}

func (s *Server) putFlag(ctx context.Context, in *putFlagInput) (*flagOutput, error) {
	name, err := in.flagName()
	if err != nil {
		return nil, err
	}
	b := in.Body
	pct := 100 // the default: on for everyone, when enabled
	if b.Percentage != nil {
		pct = *b.Percentage
	}
	f, err := s.flags.Put(ctx, principal(ctx), name, domain.FlagSettings{Enabled: b.Enabled, Percentage: pct, Description: b.Description})
	if err != nil {
		return nil, atField(flagFields[domain.CodeOf(err)], err)
	}
	return &flagOutput{Body: flagOf(f)}, nil
}

func (s *Server) getFlag(ctx context.Context, in *FlagNamePath) (*flagOutput, error) {
	name, err := in.flagName()
	if err != nil {
		return nil, err
	}
	f, err := s.flags.Get(ctx, principal(ctx), name)
	if err != nil {
		return nil, err
	}
	return &flagOutput{Body: flagOf(f)}, nil
}

func (s *Server) listFlags(ctx context.Context, in *listFlagsInput) (*flagListOutput, error) {
	prefix, err := domain.ParsePrefix(in.Prefix)
	if err != nil {
		return nil, atField("query.prefix", err)
	}
	flags, err := s.flags.List(ctx, principal(ctx), prefix)
	if err != nil {
		return nil, err
	}
	out := &flagListOutput{Body: FlagList{Flags: make([]Flag, 0, len(flags))}}
	for _, f := range flags {
		out.Body.Flags = append(out.Body.Flags, flagOf(f))
	}
	return out, nil
}

func (s *Server) deleteFlag(ctx context.Context, in *FlagNamePath) (*struct{}, error) {
	name, err := in.flagName()
	if err != nil {
		return nil, err
	}
	return nil, s.flags.Delete(ctx, principal(ctx), name)
}

func (s *Server) evaluateFlag(ctx context.Context, in *evaluateFlagInput) (*flagEvaluationOutput, error) {
	name, err := in.flagName()
	if err != nil {
		return nil, err
	}
	on, err := s.flags.Evaluate(ctx, principal(ctx), name, in.Subject)
	if err != nil {
		return nil, atField(map[string]string{"invalid_subject": "query.subject"}[domain.CodeOf(err)], err)
	}
	return &flagEvaluationOutput{Body: FlagEvaluation{Name: string(name), Subject: in.Subject, Enabled: on}}, nil
}

func (s *Server) evaluateFlags(ctx context.Context, in *evaluateFlagsInput) (*flagEvaluationsOutput, error) {
	names := make([]domain.FlagName, len(in.Body.Flags))
	for i, n := range in.Body.Flags {
		name, err := domain.ParseFlagName(n)
		if err != nil {
			return nil, atField("body.flags["+strconv.Itoa(i)+"]", err)
		}
		names[i] = name
	}
	rs, err := s.flags.EvaluateMany(ctx, principal(ctx), in.Body.Subject, names)
	if err != nil {
		return nil, atField(map[string]string{"invalid_subject": "body.subject"}[domain.CodeOf(err)], err)
	}
	out := &flagEvaluationsOutput{Body: FlagEvaluations{Subject: in.Body.Subject, Results: make([]FlagResult, len(rs))}}
	for i, r := range rs {
		out.Body.Results[i] = FlagResult{Name: string(r.Name), Enabled: r.Enabled, Found: r.Found}
	}
	return out, nil
}

func flagOf(f domain.Flag) Flag {
	return Flag{Name: string(f.Key.Name), Enabled: f.Enabled, Percentage: f.Percentage, Description: f.Description,
		Version: f.Version, UpdatedAt: wireTime(f.UpdatedAt), UpdatedBy: f.UpdatedBy}
}
