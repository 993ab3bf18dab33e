package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestTwoAuthorizationHeadersAre400: which of two credentials counts must
// not depend on header order, so a request with two is refused, whatever
// they hold, and changes nothing.
func TestTwoAuthorizationHeadersAre400(t *testing.T) {
	s := newServer(t, nil)
	bearer := "Bearer " + aliceToken
	for name, values := range map[string][]string{
		"same token twice":   {bearer, bearer},
		"valid then invalid": {bearer, "Bearer not-a-token-0123456789"},
		"invalid then valid": {"Bearer not-a-token-0123456789", bearer},
		"admin then user":    {"Bearer " + adminToken, bearer},
	} {
		t.Run(name, func(t *testing.T) {
			h := http.Header{"Authorization": values}
			serve(t, s, http.MethodPost, "/locks/two-auth/acquire", "", strings.NewReader(`{"metadata":"x"}`), h).
				problem(t, http.StatusBadRequest, "multiple_authorization_headers")
			serve(t, s, http.MethodGet, "/locks/two-auth", "", nil, h).
				problem(t, http.StatusBadRequest, "multiple_authorization_headers")
		})
	}
	if r := serve(t, s, http.MethodGet, "/locks/two-auth", aliceToken, nil, nil); r.str("status") != "free" {
		t.Errorf("the lock was taken: %s", r.raw)
	}
}

// TestFieldNamesAreCaseSensitive: a field name that differs from the
// schema's only in case is an unknown field, not an alias.
func TestFieldNamesAreCaseSensitive(t *testing.T) {
	s := newServer(t, nil)
	for _, c := range []struct{ body, loc string }{
		{`{"TTL_SECONDS":3000}`, "body.TTL_SECONDS"},
		{`{"Metadata":"b"}`, "body.Metadata"},
		{`{"metadata":"a","METADATA":"b"}`, "body.METADATA"},
	} {
		t.Run(c.body, func(t *testing.T) {
			r := serve(t, s, http.MethodPost, "/locks/casing/acquire", aliceToken, strings.NewReader(c.body), nil).
				problem(t, http.StatusUnprocessableEntity, "validation_failed")
			if !slices.Contains(r.locations(), c.loc) {
				t.Errorf("errors[].location = %v, want %q: %s", r.locations(), c.loc, r.raw)
			}
		})
	}
	if r := serve(t, s, http.MethodGet, "/locks/casing", aliceToken, nil, nil); r.str("status") != "free" {
		t.Errorf("the lock was taken: %s", r.raw)
	}
}
