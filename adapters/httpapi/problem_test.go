package httpapi_test

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// TestErrorsNotAboutAFieldHaveNoLocation: only a validation error points at
// an input; refusing the admin token is about the caller, not the TTL.
func TestErrorsNotAboutAFieldHaveNoLocation(t *testing.T) {
	s := newServer(t, nil)
	for _, body := range []io.Reader{nil, strings.NewReader(`{"ttl_seconds":30}`)} {
		r := serve(t, s, http.MethodPost, "/sessions", adminToken, body, nil).problem(t, http.StatusForbidden, "admin_not_tenant")
		if _, ok := r.obj["errors"]; ok {
			t.Errorf("403 carries errors[]: %s", r.raw)
		}
	}
	// A TTL out of the domain's range is still located.
	r := serve(t, s, http.MethodPost, "/locks/loc/acquire", aliceToken, strings.NewReader(`{"ephemeral":true}`), nil).
		problem(t, http.StatusUnprocessableEntity, "ephemeral_needs_session")
	if locs := r.locations(); len(locs) != 1 || locs[0] != "body.session_id" {
		t.Errorf("errors[].location = %v, want [body.session_id]", locs)
	}
}

// TestClientDisconnectIsInfo: a client that hangs up while its request
// waits is no server error; nothing is logged above info.
func TestClientDisconnectIsInfo(t *testing.T) {
	log, logs := newLog()
	s := newServer(t, log)
	serve(t, s, http.MethodPost, "/locks/gone/acquire", bobToken, nil, nil)
	ts := listen(t, s, nil)
	conn := ts.dial(t)
	const body = `{"wait_seconds":30}`
	if _, err := io.WriteString(conn, "POST /locks/gone/acquire HTTP/1.1\r\nHost: octostore\r\nX-Request-Id: gone-1\r\n"+
		"Authorization: Bearer "+aliceToken+"\r\nContent-Type: application/json\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body); err != nil {
		t.Fatal(err)
	}
	_ = conn.Close()
	ts.waitClosed(t) // after the handler returned and the access log was written
	line := logs.accessLine(t, "gone-1")
	if line == nil {
		t.Fatal("no access-log line for the request")
	}
	if line["level"] != slog.LevelInfo.String() {
		t.Errorf("access log level %v for a client that left: %v", line["level"], line)
	}
	logs.noneAbove(t, slog.LevelInfo)
}
