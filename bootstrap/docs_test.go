package bootstrap_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The tests in this file hold the OpenAPI description served at
// /openapi.json (and so /docs, which renders it) to its word: every error
// response shows an example of that very error, and every operation's
// request example works as is on a fresh server.

// specDoc is the part of the served OpenAPI description these tests read.
type specDoc struct {
	Paths map[string]map[string]*specOp `json:"paths"`
}

type specOp struct {
	OperationID string                 `json:"operationId"`
	Security    *[]map[string][]string `json:"security"`
	Parameters  []struct {
		Name    string `json:"name"`
		In      string `json:"in"`
		Example any    `json:"example"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]specMedia `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Description string               `json:"description"`
		Content     map[string]specMedia `json:"content"`
	} `json:"responses"`

	method, path string
}

type specMedia struct {
	Example  any `json:"example"`
	Examples map[string]struct {
		Value any `json:"value"`
	} `json:"examples"`
}

// examples returns the media type's example values: example, then the
// values of examples in name order.
func (m specMedia) examples() []any {
	var out []any
	if m.Example != nil {
		out = append(out, m.Example)
	}
	names := make([]string, 0, len(m.Examples))
	for n := range m.Examples {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		out = append(out, m.Examples[n].Value)
	}
	return out
}

// servedSpec reads /openapi.json of s, with its operations by id.
func servedSpec(t *testing.T, s *server) map[string]*specOp {
	t.Helper()
	r := s.call(t, http.MethodGet, "/openapi.json", "", nil)
	if r.status != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d", r.status)
	}
	var doc specDoc
	if err := json.Unmarshal(r.raw, &doc); err != nil {
		t.Fatalf("decode /openapi.json: %v", err)
	}
	ops := map[string]*specOp{}
	for path, methods := range doc.Paths {
		for method, op := range methods {
			op.method, op.path = strings.ToUpper(method), path
			if op.OperationID == "" || ops[op.OperationID] != nil {
				t.Fatalf("%s %s: operationId %q missing or not unique", op.method, path, op.OperationID)
			}
			ops[op.OperationID] = op
		}
	}
	if len(ops) == 0 {
		t.Fatal("the spec has no operations")
	}
	return ops
}

// sortedIDs returns the operation ids in order, for stable subtests.
func sortedIDs(ops map[string]*specOp) []string {
	ids := make([]string, 0, len(ops))
	for id := range ops {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

var backquoted = regexp.MustCompile("`([a-z][a-z0-9_]*)`")

// TestErrorExamples checks that each error response of each operation
// shows an example of that error: a problem whose status is the response's
// status and whose code is one the response's description names.
func TestErrorExamples(t *testing.T) {
	s := newServer(t)
	ops := servedSpec(t, s)
	for _, id := range sortedIDs(ops) {
		op := ops[id]
		errs := 0
		for status, res := range op.Responses {
			n, err := strconv.Atoi(status)
			if err != nil || n < 400 {
				continue
			}
			errs++
			named := map[string]bool{}
			for _, m := range backquoted.FindAllStringSubmatch(res.Description, -1) {
				named[m[1]] = true
			}
			if len(named) == 0 {
				t.Errorf("%s %s: the description names no code: %q", id, status, res.Description)
			}
			media, ok := res.Content["application/problem+json"]
			// A status that also answers the operation's own body has it
			// beside the problems.
			_, withJSON := res.Content["application/json"]
			own := ownBodies[id+" "+status] != "" && len(res.Content) == 2 && withJSON
			if !ok || len(res.Content) != 1 && !own {
				t.Errorf("%s %s: content %v, want only application/problem+json", id, status, res.Content)
				continue
			}
			exs := media.examples()
			if len(exs) == 0 {
				t.Errorf("%s %s: no example", id, status)
			}
			for _, ex := range exs {
				p, _ := ex.(map[string]any)
				code, _ := p["code"].(string)
				if got, _ := p["status"].(float64); int(got) != n {
					t.Errorf("%s %s: the example's status is %v: %v", id, status, p["status"], ex)
				}
				if p["title"] != http.StatusText(n) {
					t.Errorf("%s %s: the example's title is %v, want %q", id, status, p["title"], http.StatusText(n))
				}
				if !named[code] {
					t.Errorf("%s %s: the example's code %q is not one the description names (%q)", id, status, code, res.Description)
				}
			}
		}
		if errs == 0 {
			t.Errorf("%s: no error response documented", id)
		}
	}
}

// ownBodies are error statuses that also answer a body of the operation's
// own (besides problems), and why.
var ownBodies = map[string]string{
	"check-limit 429": "a refused check answers its LimitCheck, allowed false, with Retry-After",
}

// TestRequestExamples sends every operation its documented request, built
// only from the spec (path and query parameters from their examples, the
// body from the request example), to a fresh server, and requires the
// operation's documented success status. Ids that cannot exist on a fresh
// server come from the operation the spec says they come from: a session
// id (path parameter id) from open-session, a webhook id from
// create-webhook, a token id (and the stored token that rotate-token
// rotates) from admin-issue-token, a lease_id from acquire-lock, and the
// held lock that admin-force-release frees from acquire-lock too; each runs
// its own example first. An event stream is read up to its first frame.
// The exchange code of exchange-code comes from a sign-in against a fake
// GitHub.
func TestRequestExamples(t *testing.T) {
	ops := servedSpec(t, newServer(t))
	for _, id := range sortedIDs(ops) {
		t.Run(id, func(t *testing.T) {
			if reason, ok := browserOnly[id]; ok {
				t.Skip(reason)
			}
			s := newServer(t)
			if id == "exchange-code" {
				s, _ = newGitHubServer(t)
			}
			r := runExample(t, s, ops, id)
			success := successStatus(t, ops[id])
			if r.status != success {
				t.Fatalf("%s %s: status %d, want %d; body: %s", ops[id].method, ops[id].path, r.status, success, r.raw)
			}
			checkSpec(t, s)
		})
	}
}

// browserOnly are the operations whose example cannot run on its own, and
// why.
var browserOnly = map[string]string{
	"github-login":    "a redirect to GitHub's authorize page, which a browser follows; TestGitHubSignIn follows it to a fake GitHub",
	"github-callback": "needs the state cookie of a sign-in and a code from GitHub; TestGitHubSignIn runs it against a fake GitHub",
}

// successStatus is the one 2xx status an operation documents.
func successStatus(t *testing.T, op *specOp) int {
	t.Helper()
	var ok []int
	for status := range op.Responses {
		if n, err := strconv.Atoi(status); err == nil && n >= 200 && n < 300 {
			ok = append(ok, n)
		}
	}
	if len(ok) != 1 {
		t.Fatalf("%s: success statuses %v, want exactly one", op.OperationID, ok)
	}
	return ok[0]
}

// runExample sends operation id's documented example to s, first running
// the operations that supply the ids it needs, and returns the answer.
func runExample(t *testing.T, s *server, ops map[string]*specOp, id string) *resp {
	t.Helper()
	op := ops[id]
	path, query := op.path, url.Values{}
	for _, p := range op.Parameters {
		var v string
		switch {
		case p.In == "path" && p.Name == "id" && strings.HasPrefix(op.path, "/webhooks/"):
			created := runExample(t, s, ops, "create-webhook")
			if created.status != http.StatusCreated || created.str("id") == "" {
				t.Fatalf("create-webhook for %s: %d %s", id, created.status, created.raw)
			}
			v = created.str("id")
		case p.In == "path" && p.Name == "token_id":
			issued := runExample(t, s, ops, "admin-issue-token")
			if issued.status != http.StatusCreated || issued.str("token_id") == "" {
				t.Fatalf("admin-issue-token for %s: %d %s", id, issued.status, issued.raw)
			}
			v = issued.str("token_id")
		case p.In == "path" && p.Name == "name" && strings.HasPrefix(op.path, "/flags/") && id != "put-flag":
			put := runExample(t, s, ops, "put-flag")
			if put.status != http.StatusOK || put.str("name") == "" {
				t.Fatalf("put-flag for %s: %d %s", id, put.status, put.raw)
			}
			v = put.str("name")
		case p.In == "path" && p.Name == "name" && strings.HasPrefix(op.path, "/limits/") && id != "check-limit":
			if checked := runExample(t, s, ops, "check-limit"); checked.status != http.StatusOK {
				t.Fatalf("check-limit for %s: %d %s", id, checked.status, checked.raw)
			}
			v, _ = p.Example.(string)
		case p.In == "path" && p.Name == "id":
			opened := runExample(t, s, ops, "open-session")
			if opened.status != http.StatusCreated || opened.str("session_id") == "" {
				t.Fatalf("open-session for %s: %d %s", id, opened.status, opened.raw)
			}
			v = opened.str("session_id")
		case p.In == "path" && p.Name == "key" && id != "put-config":
			// A config key exists once put-config's example has run.
			if put := runExample(t, s, ops, "put-config"); put.status != http.StatusOK {
				t.Fatalf("put-config for %s: %d %s", id, put.status, put.raw)
			}
			v, _ = p.Example.(string)
		case p.Example == nil:
			if p.In == "path" {
				t.Fatalf("%s: path parameter %s has no example", id, p.Name)
			}
			continue
		default:
			v, _ = p.Example.(string)
			if v == "" {
				t.Fatalf("%s: parameter %s's example %v is not a string", id, p.Name, p.Example)
			}
		}
		switch p.In {
		case "path":
			path = strings.ReplaceAll(path, "{"+p.Name+"}", url.PathEscape(v))
		case "query":
			query.Set(p.Name, v)
		default:
			t.Fatalf("%s: parameter %s in %s: this test does not know how to send it", id, p.Name, p.In)
		}
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}

	var body any
	if op.RequestBody != nil {
		media, ok := op.RequestBody.Content["application/json"]
		if !ok {
			t.Fatalf("%s: request body is not application/json", id)
		}
		exs := media.examples()
		if len(exs) != 1 {
			t.Fatalf("%s: %d request examples, want exactly one (Swagger UI sends the first)", id, len(exs))
		}
		ex, ok := exs[0].(map[string]any)
		if !ok {
			t.Fatalf("%s: the request example is not an object: %v", id, exs[0])
		}
		if _, ok := ex["code"]; ok && op.path == "/auth/exchange" {
			if s.signIn == nil {
				t.Fatalf("%s: a code needs a server with GitHub sign-in (newGitHubServer)", id)
			}
			ex = maps.Clone(ex)
			ex["code"] = s.signIn(t)
		}
		if _, ok := ex["lease_id"]; ok {
			acquired := runExample(t, s, ops, "acquire-lock")
			if acquired.status != http.StatusOK || acquired.str("lease_id") == "" {
				t.Fatalf("acquire-lock for %s: %d %s", id, acquired.status, acquired.raw)
			}
			ex = maps.Clone(ex)
			ex["lease_id"] = acquired.str("lease_id")
		}
		body = ex
	}

	// Teams and rules are changed by an org owner: the example user becomes
	// one first (admin-add-user's example adds alice to acme as owner).
	// A team or rule the example reads or deletes must exist; a rule's
	// example names team dba.
	switch {
	case id == "put-team":
		runExample(t, s, ops, "admin-add-user")
	case id == "get-team" || id == "delete-team" || id == "put-acl":
		runExample(t, s, ops, "put-team")
	case id == "get-acl" || id == "delete-acl":
		runExample(t, s, ops, "put-acl")
	}

	token := ""
	switch {
	case op.Security == nil:
		t.Fatalf("%s: no security requirement; a public operation says security: []", id)
	case len(*op.Security) == 0:
	case strings.HasPrefix(op.path, "/admin/orgs/{org}/users") && op.method != http.MethodPost || id == "admin-add-user":
		// The example's org must be registered first.
		runExample(t, s, ops, "admin-create-org")
		token = adminTok
	case id == "admin-force-release":
		// The example's lock (acme's db/primary) must be held first.
		if held := runExample(t, s, ops, "acquire-lock"); held.status != http.StatusOK {
			t.Fatalf("acquire-lock for %s: %d %s", id, held.status, held.raw)
		}
		token = adminTok
	case strings.HasPrefix(op.path, "/admin/") || op.path == "/metrics":
		token = adminTok
	case id == "rotate-token":
		// Rotation is for stored tokens; the configured ones answer 409.
		issued := runExample(t, s, ops, "admin-issue-token")
		token = issued.str("token")
	default:
		token = aliceToken
	}
	_, stream := op.Responses["200"].Content["text/event-stream"]
	return s.send(t, req{method: op.method, path: path, token: token, body: body, firstFrame: stream})
}
