package httpapi_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// acquireHead is the head of an acquire request by alice; the caller adds
// the body's framing header and the blank line.
const acquireHead = "POST /locks/body/acquire HTTP/1.1\r\nHost: octostore\r\n" +
	"Authorization: Bearer " + aliceToken + "\r\nContent-Type: application/json\r\n"

// TestUnreadableBodyIs400 sends bodies the server cannot read over a real
// connection: they are the client's fault, so the answer is a 400 problem
// (when the client can still read it) and nothing is logged above info.
func TestUnreadableBodyIs400(t *testing.T) {
	cases := []struct {
		name string
		raw  string
		// end is how the client ends: "read" reads the answer, "half"
		// closes its sending side first and then reads, "close" hangs up.
		end    string
		detail string
	}{
		{"chunk length not hex", acquireHead + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", "read", "malformed"},
		{"chunk without CRLF", acquireHead + "Transfer-Encoding: chunked\r\n\r\n2\r\n{}XX0\r\n\r\n", "read", "malformed"},
		{"content-length body cut short", acquireHead + "Content-Length: 100\r\n\r\n{\"ttl_seconds\":", "half", "connection ended"},
		{"chunked body cut short", acquireHead + "Transfer-Encoding: chunked\r\n\r\n40\r\n{\"ttl", "half", "connection ended"},
		{"client hangs up mid-body", acquireHead + "Content-Length: 100\r\n\r\n{\"ttl_seconds\":", "close", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			log, logs := newLog()
			ts := listen(t, newServer(t, log), nil)
			conn := ts.dial(t)
			if _, err := io.WriteString(conn, c.raw); err != nil {
				t.Fatal(err)
			}
			switch c.end {
			case "half":
				if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
					t.Fatal(err)
				}
				fallthrough
			case "read":
				r := readResponse(t, conn).problem(t, http.StatusBadRequest, "malformed_request")
				if !strings.Contains(r.str("detail"), c.detail) {
					t.Errorf("detail = %q, want it to mention %q", r.str("detail"), c.detail)
				}
				if !r.close {
					t.Error("no Connection: close; the rest of the stream is not a request")
				}
			case "close":
			}
			_ = conn.Close()
			ts.waitClosed(t) // the access log is written before the connection closes
			logs.noneAbove(t, slog.LevelInfo)
			found := false
			for _, rec := range logs.records(t) {
				if rec["msg"] == "request" {
					found = true
					if rec["status"] != float64(http.StatusBadRequest) {
						t.Errorf("access log status = %v, want 400", rec["status"])
					}
				}
			}
			if !found {
				t.Error("no access-log line")
			}
		})
	}
}

// TestBodyLimitIsInclusive: the README refuses bodies over 1 MiB, so a body
// of exactly 1 MiB is read (here a valid request padded with spaces) and one
// byte more is 413, whether its length is declared or not.
func TestBodyLimitIsInclusive(t *testing.T) {
	s := newServer(t, nil)
	const oneMiB = 1 << 20
	body := func(n int) string {
		const doc = `{"ttl_seconds":30}`
		return doc + strings.Repeat(" ", n-len(doc))
	}
	for _, chunked := range []bool{false, true} {
		t.Run("chunked="+strconv.FormatBool(chunked), func(t *testing.T) {
			send := func(n int) *response {
				var rd io.Reader = strings.NewReader(body(n))
				if chunked {
					rd = io.MultiReader(rd) // hides the length: no Content-Length
				}
				return serve(t, s, http.MethodPost, "/locks/limit/acquire", aliceToken, rd, nil)
			}
			if r := send(oneMiB); r.status != http.StatusOK {
				t.Errorf("body of exactly 1 MiB: status %d, want 200: %s", r.status, r.raw)
			}
			send(oneMiB+1).problem(t, http.StatusRequestEntityTooLarge, "body_too_large")
		})
	}
}

// TestSlowBodyIs408: a client that stops sending its body is answered 408
// once the body's read deadline passes, and is not an internal error.
func TestSlowBodyIs408(t *testing.T) {
	t.Parallel()
	log, logs := newLog()
	ts := listen(t, newServer(t, log), nil)
	r := ts.exchange(t, acquireHead+"Content-Length: 100\r\n\r\n{\"ttl_seconds\":")
	r.problem(t, http.StatusRequestTimeout, "request_timeout")
	ts.waitClosed(t)
	logs.noneAbove(t, slog.LevelInfo)
}
