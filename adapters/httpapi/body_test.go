package httpapi_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
		const doc = `{"ttl_seconds":30,"owner":"limit-test"}` // the same client each time
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

// deadlineConn records the read deadline in force whenever the server
// writes.
type deadlineConn struct {
	net.Conn
	mu       sync.Mutex
	deadline time.Time
	atWrite  []time.Time
}

func (c *deadlineConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *deadlineConn) Write(b []byte) (int, error) {
	c.mu.Lock()
	c.atWrite = append(c.atWrite, c.deadline)
	c.mu.Unlock()
	return c.Conn.Write(b)
}

type deadlineListener struct {
	net.Listener
	conns chan *deadlineConn
}

func (l deadlineListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	dc := &deadlineConn{Conn: c}
	l.conns <- dc
	return dc, nil
}

// TestNoReadDeadlineWhileHandling: once net/http reads ahead on the
// connection (after the body, or at once without one), a read deadline
// would fire there and cancel the request's context, ending any request
// that runs longer (a blocking acquire). None may be in force while the
// operation runs, with a body or without.
func TestNoReadDeadlineWhileHandling(t *testing.T) {
	s := newServer(t, nil)
	conns := make(chan *deadlineConn, 8)
	ts := listen(t, s, func(ln net.Listener) net.Listener { return deadlineListener{ln, conns} })
	for name, framing := range map[string]string{
		"no body":            "Content-Length: 0\r\n\r\n",
		"body":               "Content-Length: 2\r\n\r\n{}",
		"chunked body":       "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
		"empty chunked body": "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			// Each subtest takes a lock of its own: a second acquire of
			// one without owner or session is refused.
			head := strings.Replace(acquireHead, "/locks/body/", "/locks/body-"+strings.ReplaceAll(name, " ", "-")+"/", 1)
			r := ts.exchange(t, head+framing)
			if r.status != http.StatusOK {
				t.Fatalf("status %d: %s", r.status, r.raw)
			}
			dc := <-conns
			dc.mu.Lock()
			defer dc.mu.Unlock()
			if len(dc.atWrite) == 0 || !dc.atWrite[0].IsZero() {
				t.Errorf("read deadline when the response was written: %v", dc.atWrite)
			}
		})
	}
}
