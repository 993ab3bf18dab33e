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

// TestInvalidUTF8Is422: JSON decoding would replace bytes that are not
// UTF-8 with U+FFFD and store something other than was sent, so such a
// body is refused, naming the field that holds the first bad byte.
func TestInvalidUTF8Is422(t *testing.T) {
	s := newServer(t, nil)
	acquire, release := "/locks/utf8/acquire", "/locks/utf8/release"
	for _, c := range []struct{ name, path, body, loc string }{
		{"byte 0xff in metadata", acquire, "{\"metadata\":\"a\xffb\"}", "body.metadata"},
		{"truncated sequence", acquire, "{\"ttl_seconds\":5,\"metadata\":\"caf\xc3\"}", "body.metadata"},
		{"overlong encoding", acquire, "{\"metadata\":\"\xc0\xaf\"}", "body.metadata"},
		{"UTF-8 encoded surrogate", acquire, "{\"metadata\":\"\xed\xa0\x80\"}", "body.metadata"},
		{"in a member name", acquire, "{\"meta\xffdata\":\"x\"}", "body.meta\uFFFDdata"},
		{"nested", acquire, "{\"metadata\":\"ok\",\"x\":{\"y\":[\"a\",\"\xff\"]}}", "body.x.y[1]"},
		{"outside any string", acquire, "{\"metadata\":\xff}", "body"},
		{"in the lease id", release, "{\"lease_id\":\"L1-\xfe\"}", "body.lease_id"},
		{"escaped second half of a surrogate pair alone", acquire, `{"metadata":"a\udc00b"}`, "body.metadata"},
		{"escaped first half of a surrogate pair alone", acquire, `{"metadata":"\ud83d"}`, "body.metadata"},
		{"escaped first half, then no second half", acquire, `{"metadata":"\ud83d\u0041"}`, "body.metadata"},
		{"escaped lone half after an escaped backslash", acquire, `{"ttl_seconds":5,"metadata":"\\\udc00"}`, "body.metadata"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := serve(t, s, http.MethodPost, c.path, aliceToken, strings.NewReader(c.body), nil).
				problem(t, http.StatusUnprocessableEntity, "invalid_utf8")
			if locs := r.locations(); !slices.Equal(locs, []string{c.loc}) {
				t.Errorf("errors[].location = %q, want %q", locs, c.loc)
			}
		})
	}
	// A content type huma does not decode is still 415, whatever the bytes.
	serve(t, s, http.MethodPost, acquire, aliceToken, strings.NewReader("\xff"), http.Header{"Content-Type": {"text/plain"}}).
		problem(t, http.StatusUnsupportedMediaType, "unsupported_media_type")
	if r := serve(t, s, http.MethodGet, "/locks/utf8", aliceToken, nil, nil); r.str("status") != "free" {
		t.Errorf("the lock was taken: %s", r.raw)
	}
	// Valid UTF-8, and escapes of whole characters (a surrogate pair, an
	// escaped backslash before a u), are stored and read back as sent.
	const meta = "café ☕ 𝄞 😀 \\udc00"
	serve(t, s, http.MethodPost, acquire, aliceToken, strings.NewReader(`{"metadata":"café ☕ 𝄞 \ud83d\ude00 \\udc00"}`), nil)
	if r := serve(t, s, http.MethodGet, "/locks/utf8", aliceToken, nil, nil); r.str("metadata") != meta {
		t.Errorf("metadata = %q, want %q", r.str("metadata"), meta)
	}
}
