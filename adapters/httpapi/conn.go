package httpapi

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Listener wraps ln so that the errors net/http's server answers on the
// connection itself, before any handler runs, reach the client as
// problem+json like every other error: 400 for a malformed request line or
// header, 431 for headers over the limit, 501 for an unknown transfer
// coding, 505 for an unsupported HTTP version, 417 for an unknown Expect.
// Serve the Handler on the listener it returns.
func (s *Server) Listener(ln net.Listener) net.Listener {
	return &problemListener{Listener: ln, s: s}
}

type problemListener struct {
	net.Listener
	s *Server
}

func (l *problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c, s: l.s}, nil
}

// problemConn rewrites the responses net/http writes without a handler and
// passes every other write through.
type problemConn struct {
	net.Conn
	s *Server
}

// CloseWrite keeps net/http's half-close after a 431 (closeWriteAndWait),
// which it only does for connections that have the method.
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *problemConn) Write(b []byte) (int, error) {
	status, text, ok := serverError(b)
	if !ok {
		return c.Conn.Write(b)
	}
	if _, err := c.Conn.Write(c.s.serverErrorResponse(status, text, c.RemoteAddr())); err != nil {
		return 0, err
	}
	return len(b), nil
}

const (
	// serverErrorHeaders is what net/http (server.go, conn.serve) writes
	// between the status line and the text of an error it answers itself,
	// all in one Write. A response written through a ResponseWriter never
	// has these headers right after its status line: the writer puts the
	// handler's headers first (here always X-Request-Id), then Date, and
	// only then its own Content-Type and Connection.
	serverErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	// expectationFailed starts the 417 net/http answers to an Expect other
	// than 100-continue (response.sendExpectationFailed), headers only. No
	// handler here answers 417.
	expectationFailed = "HTTP/1.1 417 "
)

// serverError recognizes a write of one of net/http's own error answers and
// returns its status and text (the status line's reason or the body, where
// net/http puts the cause).
func serverError(b []byte) (status int, text string, ok bool) {
	const proto = "HTTP/1.1 "
	if len(b) < len(proto)+4 || string(b[:len(proto)]) != proto {
		return 0, "", false
	}
	if bytes.HasPrefix(b, []byte(expectationFailed)) && bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		return http.StatusExpectationFailed, "", true
	}
	end := bytes.IndexByte(b, '\r')
	if end < 0 || !bytes.HasPrefix(b[end:], []byte(serverErrorHeaders)) {
		return 0, "", false
	}
	line, body := b[len(proto):end], b[end+len(serverErrorHeaders):]
	if len(line) < 4 || line[3] != ' ' {
		return 0, "", false
	}
	status, err := strconv.Atoi(string(line[:3]))
	if err != nil || status < 400 || bytes.ContainsAny(body, "\r\n") {
		return 0, "", false
	}
	// "400 Bad Request: missing required Host header" carries its cause in
	// the status line and repeats it as the body; "501 Not Implemented" has
	// "Unsupported transfer encoding" as its body only.
	text = string(body)
	if rest, cut := strings.CutPrefix(text, string(line[:4])+http.StatusText(status)); cut {
		text = strings.TrimPrefix(rest, ": ")
	}
	return status, text, true
}

// serverErrorDetails say what net/http's bare answers mean.
var serverErrorDetails = map[int]string{
	http.StatusBadRequest:                  "the request line or a header is malformed",
	http.StatusRequestHeaderFieldsTooLarge: "the request headers are too large",
	http.StatusExpectationFailed:           "the only Expect this server supports is 100-continue",
}

// serverErrorResponse renders net/http's error as a complete problem+json
// response and logs it like a request.
func (s *Server) serverErrorResponse(status int, text string, remote net.Addr) []byte {
	detail := serverErrorDetails[status]
	if text != "" {
		detail = strings.ToLower(text[:1]) + text[1:]
	}
	p := newProblem(status, codeOfStatus(status), detail)
	p.RequestID = newRequestID()
	// The client's fault, like every 4xx of the access log (501 and 505
	// too: an unknown transfer coding or HTTP version).
	s.log.Info("request refused by the HTTP server", "status", status, "code", p.Code,
		"detail", detail, "remote", remote.String(), "request_id", p.RequestID)

	w := &rawResponse{header: http.Header{}}
	w.header.Set("X-Request-Id", p.RequestID)
	w.header.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	p.write(w)
	res := &http.Response{
		StatusCode: w.status, ProtoMajor: 1, ProtoMinor: 1, Header: w.header,
		Body: io.NopCloser(&w.body), ContentLength: int64(w.body.Len()), Close: true,
	}
	var out bytes.Buffer
	_ = res.Write(&out) // into memory
	return out.Bytes()
}

// rawResponse is an http.ResponseWriter that keeps one response in memory.
type rawResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *rawResponse) Header() http.Header         { return w.header }
func (w *rawResponse) WriteHeader(status int)      { w.status = status }
func (w *rawResponse) Write(b []byte) (int, error) { return w.body.Write(b) }
