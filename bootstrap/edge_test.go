package bootstrap_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServerErrorsAreProblems checks the wiring of httpapi's listener: what
// net/http answers on the connection itself (here a request without Host)
// and what ServeMux would redirect (//health) are problem+json too.
func TestServerErrorsAreProblems(t *testing.T) {
	t.Parallel()
	s := newServer(t)
	addr := strings.TrimPrefix(s.base, "http://")
	for _, c := range []struct {
		raw    string
		status int
		code   string
	}{
		{"GET /health HTTP/1.1\r\n\r\n", http.StatusBadRequest, "malformed_request"},
		{"GET //health HTTP/1.1\r\nHost: o\r\nConnection: close\r\n\r\n", http.StatusNotFound, "not_found"},
	} {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(conn, c.raw); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(res.Body)
		_ = conn.Close()
		r := &resp{status: res.StatusCode, header: res.Header, raw: raw}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&r.obj); err != nil {
			t.Fatalf("%q: %v: %s", c.raw, err, raw)
		}
		r.problem(t, c.status, c.code)
	}
}
