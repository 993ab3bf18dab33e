package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The contract suite's TCP mode: watch streams are read off real
// connections to an httptest server that serves the same handler, frame by
// frame, with a small Server-Sent Events reader. A stream's bytes are
// recorded like any response and checked against the spec when the test
// ends.

// streamDeadline bounds each read of a stream, so that a test waiting for
// a frame that never comes fails instead of hanging.
const streamDeadline = 10 * time.Second

// serveTCP serves the API on a loopback port until the test ends and
// returns its address.
func (a *api) serveTCP(t *testing.T) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.addr != "" {
		return a.addr
	}
	ts := httptest.NewUnstartedServer(a.handler)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	if n := a.setup.sendBuffer; n > 0 {
		ts.Listener = &sendBufferListener{Listener: ts.Listener, size: n}
	}
	ts.Start()
	// Close waits for every request in flight, watch streams too: it
	// hangs if a stream does not end once its client has gone.
	t.Cleanup(ts.Close)
	a.addr = ts.Listener.Addr().String()
	return a.addr
}

// sendBufferListener sets the send buffer of each connection it accepts.
type sendBufferListener struct {
	net.Listener
	size int
}

func (l *sendBufferListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(l.size)
	}
	return c, err
}

// stream is one watch stream, read frame by frame.
type stream struct {
	conn net.Conn
	rd   *bufio.Reader
	raw  bytes.Buffer // every byte of the body read so far
	res  *response
	a    *api
	done bool
}

// frame is one Server-Sent Events frame: an event, or a block of comment
// lines only (a heartbeat).
type frame struct {
	id      string
	hasID   bool
	event   string
	data    string
	comment string
}

func (f frame) String() string {
	if f.event == "" && f.comment != "" {
		return ": " + f.comment
	}
	return "id: " + f.id + " event: " + f.event + " data: " + f.data
}

// watch opens a watch stream (GET path) for token, with the headers in
// header (a Last-Event-ID), and requires a 200 text/event-stream.
func (a *api) watch(t *testing.T, path, token string, header http.Header) *stream {
	t.Helper()
	s, r := a.openStream(t, path, token, header)
	if s == nil {
		t.Fatalf("%v: want a stream", r)
	}
	return s
}

// openStream sends GET path over a new connection. It returns the stream
// when the answer is 200, else nil and the answer read to its end.
func (a *api) openStream(t *testing.T, path, token string, header http.Header) (*stream, *response) {
	t.Helper()
	addr := a.serveTCP(t)
	d := net.Dialer{Timeout: streamDeadline, Control: receiveBuffer(a.setup.receiveBuffer)}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	_ = conn.SetDeadline(time.Now().Add(streamDeadline))
	if err := req.Write(conn); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	r := &response{method: http.MethodGet, path: req.URL.EscapedPath(), status: res.StatusCode, header: res.Header}
	if res.StatusCode != http.StatusOK {
		raw, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("GET %s: read the body: %v", path, err)
		}
		*r = *decode(t, res.StatusCode, res.Header, raw)
		r.method, r.path = http.MethodGet, req.URL.EscapedPath()
		a.record(r)
		return nil, r
	}
	s := &stream{conn: conn, res: r, a: a}
	s.rd = bufio.NewReader(io.TeeReader(res.Body, &s.raw))
	t.Cleanup(s.close)
	if r.mediaType() != "text/event-stream" || r.header.Get("Cache-Control") != "no-cache" || r.header.Get("X-Accel-Buffering") != "no" {
		t.Errorf("GET %s: headers %v, want text/event-stream, no-cache and no buffering", path, r.header)
	}
	return s, r
}

// record adds a response to those checked against the spec.
func (a *api) record(r *response) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen = append(a.seen, r)
}

// close hangs up and records what the stream sent.
func (s *stream) close() {
	if s.done {
		return
	}
	s.done = true
	_ = s.conn.Close()
	s.res.raw = s.raw.Bytes()
	s.a.record(s.res)
}

// read returns the next frame, or false at the end of the stream.
func (s *stream) read(t *testing.T) (frame, bool) {
	t.Helper()
	_ = s.conn.SetReadDeadline(time.Now().Add(streamDeadline))
	var f frame
	var data []string
	seen := false
	for {
		line, err := s.rd.ReadString('\n')
		if err != nil {
			if errors.Is(err, io.EOF) && line == "" && !seen {
				return frame{}, false
			}
			t.Fatalf("read stream: %v (partial line %q)", err, line)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			if !seen {
				continue
			}
			f.data = strings.Join(data, "\n")
			return f, true
		}
		seen = true
		if c, ok := strings.CutPrefix(line, ":"); ok {
			f.comment = strings.TrimPrefix(c, " ")
			continue
		}
		name, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch name {
		case "id":
			f.id, f.hasID = value, true
		case "event":
			f.event = value
		case "data":
			data = append(data, value)
		default:
			t.Fatalf("unknown field in line %q", line)
		}
	}
}

// next returns the next frame and fails the test at the end of the stream.
func (s *stream) next(t *testing.T) frame {
	t.Helper()
	f, ok := s.read(t)
	if !ok {
		t.Fatal("the stream ended")
	}
	return f
}

// end requires that the stream ends now (after what was read).
func (s *stream) end(t *testing.T) {
	t.Helper()
	if f, ok := s.read(t); ok {
		t.Fatalf("frame %v, want the end of the stream", f)
	}
}

// obj decodes the frame's data, a JSON object.
func (f frame) obj(t *testing.T) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(f.data))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%v: data is not a JSON object: %v", f, err)
	}
	return m
}

// seq returns the frame's id, an event seq.
func (f frame) seq(t *testing.T) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(f.id, 10, 64)
	if !f.hasID || err != nil {
		t.Fatalf("%v: the id is not a seq", f)
	}
	return n
}

// snapshot requires a snapshot frame and returns its seq and locks.
func (s *stream) snapshot(t *testing.T) (uint64, []map[string]any) {
	t.Helper()
	f := s.next(t)
	if f.event != "snapshot" {
		t.Fatalf("%v: want a snapshot", f)
	}
	m := f.obj(t)
	seq := f.seq(t)
	if n, _ := m["seq"].(json.Number); n.String() != f.id {
		t.Errorf("%v: seq %v, id %s", f, m["seq"], f.id)
	}
	var locks []map[string]any
	list, ok := m["locks"].([]any)
	if !ok {
		t.Fatalf("%v: no locks", f)
	}
	for _, l := range list {
		locks = append(locks, l.(map[string]any))
	}
	return seq, locks
}

// event requires an event frame with exactly the wire fields of an event,
// whose seq is its id, and returns it.
func (s *stream) event(t *testing.T) wire {
	t.Helper()
	return eventOf(t, s.next(t))
}

func eventOf(t *testing.T, f frame) wire {
	t.Helper()
	m := f.obj(t)
	w := wireOf(t, m)
	if f.event != w.typ || w.seq != f.seq(t) {
		t.Fatalf("%v: event and id do not match the data", f)
	}
	return w
}
