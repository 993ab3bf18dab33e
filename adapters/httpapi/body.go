package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
)

// humaMaxBodyBytes is the limit huma enforces itself. Its limit is
// exclusive (a body of exactly that many bytes is refused), and readBody
// has applied the real, inclusive one already.
const humaMaxBodyBytes = MaxBodyBytes + 1

// bodyReadTimeout bounds the time a client may take to send a body (huma's
// default, which readBody now applies instead of huma).
const bodyReadTimeout = 5 * time.Second

// bodyBuffer holds a request body that readBody read. It is the request's
// Body while the operation runs and goes back to the pool afterwards.
type bodyBuffer struct {
	buf bytes.Buffer
	rd  bytes.Reader
}

func (b *bodyBuffer) Read(p []byte) (int, error) { return b.rd.Read(p) }

func (b *bodyBuffer) WriteTo(w io.Writer) (int64, error) { return b.rd.WriteTo(w) }

// Close implements io.Closer; the buffer is released by readBody.
func (b *bodyBuffer) Close() error { return nil }

var bodyBuffers = sync.Pool{New: func() any { return new(bodyBuffer) }}

// maxPooledBody keeps the pool from holding on to the rare large body.
const maxPooledBody = 64 << 10

// readBody is huma middleware for operations that take a body. It reads the
// whole body before huma does, so that a body that cannot be read is the
// client's fault, answered 400 and logged at info (huma would answer 500
// "cannot read request body" and we would log an internal error), and so
// that the size limit is inclusive: MaxBodyBytes is accepted, one byte more
// is 413. A JSON body that is not UTF-8 is refused here (see notUTF8).
//
// It also owns the body's read deadline. huma would set its own after this
// read, when net/http has already started its background read of the
// connection: that deadline would then fire in the background read and
// cancel every request running longer than it (a blocking acquire), so
// operations are registered with huma's deadline off.
func (s *Server) readBody(ctx huma.Context, next func(huma.Context)) {
	if ctx.Operation().RequestBody == nil {
		next(ctx)
		return
	}
	r, _ := humago.Unwrap(ctx)
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		// No body (a chunked one has length -1). net/http's background
		// read already runs, so a read deadline now would end the request.
		next(ctx)
		return
	}
	if r.ContentLength > MaxBodyBytes {
		s.writeHumaProblem(ctx, tooLarge())
		return
	}
	// Cleared by net/http once the body has been read to its end.
	_ = ctx.SetReadDeadline(time.Now().Add(bodyReadTimeout))
	b := bodyBuffers.Get().(*bodyBuffer)
	if r.ContentLength > 0 {
		// One allocation for a large body rather than one per doubling.
		b.buf.Grow(int(r.ContentLength))
	}
	defer func() {
		if b.buf.Cap() <= maxPooledBody {
			b.buf.Reset()
			b.rd.Reset(nil)
			bodyBuffers.Put(b)
		}
	}()
	if _, err := b.buf.ReadFrom(r.Body); err != nil {
		s.writeHumaProblem(ctx, s.unreadableBody(ctx, err))
		return
	}
	b.rd.Reset(b.buf.Bytes())
	r.Body = b
	if bad := alteredAt(b.buf.Bytes()); bad >= 0 && s.decodesJSON(ctx) {
		s.writeHumaProblem(ctx, notUTF8(b.buf.Bytes(), bad))
		return
	}
	next(ctx)
}

// decodesJSON reports whether huma will decode the body as JSON, i.e. its
// content type is one huma knows (else huma answers 415 itself).
func (s *Server) decodesJSON(ctx huma.Context) bool {
	err := s.api.Unmarshal(ctx.Header("Content-Type"), []byte("0"), new(any))
	return !errors.Is(err, huma.ErrUnknownContentType)
}

// notUTF8 refuses a body that is not UTF-8, as JSON text must be (RFC 8259),
// or that escapes half of a UTF-16 surrogate pair: decoding would replace
// either with U+FFFD, so a value would be stored other than it was sent.
// bad is the offset of the first such byte.
func notUTF8(body []byte, bad int) *Problem {
	p := newProblem(http.StatusUnprocessableEntity, "invalid_utf8", "the request body is not valid UTF-8")
	p.Errors = []*FieldError{{Location: locationAt(body, bad), Message: "contains bytes that are not valid UTF-8"}}
	return p
}

// alteredAt returns the offset of the first byte of body that JSON decoding
// would not keep as sent, or -1: a byte that is not UTF-8, or a \u escape of
// a UTF-16 surrogate that is not half of a pair.
func alteredAt(body []byte) int {
	if !utf8.Valid(body) {
		for i := 0; ; {
			r, size := utf8.DecodeRune(body[i:])
			if r == utf8.RuneError && size <= 1 {
				return i
			}
			i += size
		}
	}
	if !bytes.Contains(body, []byte(`\u`)) {
		// No \u escape, so no surrogate (a fast search in a large body).
		return -1
	}
	inString := false
	for i := 0; i < len(body); i++ {
		switch c := body[i]; {
		case !inString:
			inString = c == '"'
		case c == '"':
			inString = false
		case c == '\\':
			r, ok := escapedRune(body[i:])
			switch {
			case !ok || !utf16.IsSurrogate(r):
			case r >= 0xDC00: // the second half, alone
				return i
			default: // the first half: the second must follow
				r2, ok := escapedRune(body[i+6:])
				if !ok || r2 < 0xDC00 || r2 > 0xDFFF {
					return i
				}
				i += 6
			}
			i++ // the escaped character
		}
	}
	return -1
}

// escapedRune decodes a \uXXXX escape at the start of b.
func escapedRune(b []byte) (rune, bool) {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return 0, false
	}
	n, err := strconv.ParseUint(string(b[2:6]), 16, 16)
	return rune(n), err == nil
}

// locationAt names the JSON value whose text holds the byte of body at
// offset bad, the way huma names fields (body.metadata), or "body" when
// that is not inside a member name or value.
func locationAt(body []byte, bad int) string {
	type level struct {
		object bool
		atKey  bool   // in an object: the next token is a member name
		key    string // in an object: the current member's name
		index  int    // in an array: the current element
	}
	var stack []level
	path := func() string {
		var b strings.Builder
		b.WriteString("body")
		for _, l := range stack {
			if l.object {
				b.WriteString("." + l.key)
			} else {
				b.WriteString("[" + strconv.Itoa(l.index) + "]")
			}
		}
		return b.String()
	}
	// valueDone moves the innermost container past the value just read.
	valueDone := func() {
		if n := len(stack); n > 0 {
			if stack[n-1].object {
				stack[n-1].atKey = true
			} else {
				stack[n-1].index++
			}
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	for {
		tok, err := dec.Token()
		if err != nil {
			return "body"
		}
		n := len(stack)
		name, isKey := tok.(string)
		isKey = isKey && n > 0 && stack[n-1].object && stack[n-1].atKey
		if isKey {
			stack[n-1].key = name
		}
		if dec.InputOffset() > int64(bad) {
			return path()
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, level{object: true, atKey: true})
		case json.Delim('['):
			stack = append(stack, level{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:n-1]
			valueDone()
		default:
			if isKey {
				stack[n-1].atKey = false
			} else {
				valueDone()
			}
		}
	}
}

func tooLarge() *Problem {
	return newProblem(http.StatusRequestEntityTooLarge, "body_too_large",
		"the request body exceeds "+strconv.Itoa(MaxBodyBytes)+" bytes (1 MiB)")
}

// unreadableBody is the answer to a body that could not be read: too large,
// too slow, malformed (chunked encoding), or cut off because the client went
// away. None of these is the server's fault, so the log line is at info.
func (s *Server) unreadableBody(ctx huma.Context, err error) *Problem {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return tooLarge()
	}
	s.log.InfoContext(ctx.Context(), "request body unreadable", "request_id", RequestID(ctx.Context()), "err", err)
	var p *Problem
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		p = newProblem(http.StatusRequestTimeout, "request_timeout",
			"the request body did not arrive within "+bodyReadTimeout.String())
	} else if clientGone(err) {
		p = newProblem(http.StatusBadRequest, "malformed_request", "the connection ended before the request body was complete")
	} else {
		p = newProblem(http.StatusBadRequest, "malformed_request", "the request body is malformed (e.g. invalid chunked encoding)")
	}
	// The rest of the stream cannot be parsed as a next request.
	p.headers = http.Header{"Connection": {"close"}}
	return p
}

// clientGone reports whether err means the client closed or reset the
// connection, rather than sent something malformed.
func clientGone(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	_, ok := errors.AsType[*net.OpError](err)
	return ok
}
