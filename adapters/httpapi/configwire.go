package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// A config write's body is decoded here rather than by huma. huma decodes
// a body twice, into a generic tree that it checks against the schema and
// then into the struct, and both passes walk the whole value: for a value
// of 256 KiB that was most of the CPU a write cost, taken from the lock
// requests beside it. decodeConfigWrite reads the body once, checks every
// member but the value against the same schema (the value's schema is any
// JSON, which the read itself proves) and keeps the value as sent. A
// client sees what huma would answer: 400 malformed_request for a body
// that is not JSON, 415 for an unknown content type, 422 validation_failed
// naming the member.

// largeWrite is the body size from which config writes take turns: at
// most half the CPUs (one at least) serve them at once, so that clients
// writing large values as fast as they can leave the other CPUs to
// everybody else, the lock requests above all. A turn lasts from decoding
// to the answer; a write waits for its commit only, never for a lock.
const largeWrite = 64 << 10

// takeTurn waits for a turn to serve a config write with a body of size
// bytes and returns its release; a small one needs none. Returns the
// context's error when the request ends first.
func (s *Server) takeTurn(ctx context.Context, size int) (func(), error) {
	if size < largeWrite {
		return func() {}, nil
	}
	select {
	case s.largeWrites <- struct{}{}:
		return func() { <-s.largeWrites }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// configValuePlaceholder stands for the value while the other members are
// checked: the value's schema accepts any JSON.
const configValuePlaceholder = true

// decodeConfigWrite decodes body, sent with content type contentType, as a
// PutConfigRequest. The value's bytes are a copy of the body's.
func (s *Server) decodeConfigWrite(contentType string, body []byte) (PutConfigRequest, error) {
	var req PutConfigRequest
	if err := s.api.Unmarshal(contentType, []byte("0"), new(any)); errors.Is(err, huma.ErrUnknownContentType) {
		return req, humaProblem(http.StatusUnsupportedMediaType, "validation failed", &huma.ErrorDetail{Location: "body", Message: err.Error()})
	}
	// json.Unmarshal checks the whole body is JSON in one pass, then keeps
	// each member as its bytes (a value that is a string is scanned once
	// more, quickly; an object or array once more as a whole).
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		if _, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
			// JSON, but not an object: the schema says so.
			return req, s.validateConfigWrite(body, nil)
		}
		return req, malformedBody(err)
	}
	if members == nil {
		// The body is null.
		return req, s.validateConfigWrite(body, nil)
	}
	if err := s.validateConfigWrite(nil, members); err != nil {
		return req, err
	}
	value, hasValue := members["value"]
	delete(members, "value")
	small, err := json.Marshal(members)
	if err == nil {
		err = json.Unmarshal(small, &req)
	}
	if err != nil {
		return req, malformedBody(err)
	}
	if hasValue {
		req.Value = value
	}
	return req, nil
}

// validateConfigWrite checks a body against PutConfigRequest's schema as
// huma does: the body's text when it is not an object, else its members
// with the value left out. It returns huma's 422 error, or nil.
func (s *Server) validateConfigWrite(body []byte, members map[string]json.RawMessage) error {
	var doc any
	if members == nil {
		if err := json.Unmarshal(body, &doc); err != nil {
			return malformedBody(err)
		}
	} else {
		tree := make(map[string]any, len(members))
		for k, raw := range members {
			if k == "value" {
				tree[k] = configValuePlaceholder
				continue
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return malformedBody(err)
			}
			tree[k] = v
		}
		doc = tree
	}
	reg := s.api.OpenAPI().Components.Schemas
	schema := reg.Schema(reflect.TypeFor[PutConfigRequest](), true, "")
	res := &huma.ValidateResult{}
	pb := huma.NewPathBuffer([]byte{}, 0)
	pb.Push("body")
	huma.Validate(reg, schema, pb, huma.ModeWriteToServer, doc, res)
	if len(res.Errors) > 0 {
		details := make([]*huma.ErrorDetail, 0, len(res.Errors))
		for _, e := range res.Errors {
			if d, ok := errors.AsType[*huma.ErrorDetail](e); ok {
				details = append(details, d)
			} else {
				details = append(details, &huma.ErrorDetail{Location: "body", Message: e.Error()})
			}
		}
		return humaProblem(http.StatusUnprocessableEntity, "validation failed", details...)
	}
	return nil
}

// malformedBody is huma's answer to a body that is not JSON.
func malformedBody(err error) error {
	return humaProblem(http.StatusBadRequest, "validation failed", &huma.ErrorDetail{Location: "body", Message: err.Error()})
}

// documentConfigWriteBody gives the write's operation the request body that
// huma would have described for a Body field: the PutConfigRequest schema
// beside the examples, required. huma describes a RawBody as bytes.
func (s *Server) documentConfigWriteBody(op *huma.Operation) {
	schema := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[PutConfigRequest](), true, "")
	delete(op.RequestBody.Content, "application/octet-stream")
	op.RequestBody.Content["application/json"].Schema = schema
	op.RequestBody.Required = true
}

// jsonFormat is huma's JSON format, except for bodies that encode
// themselves (preEncoded). encoding/json checks and compacts every
// json.RawMessage it writes, a pass over each config value although the
// store holds only compact JSON that was checked when it was written.
var jsonFormat = huma.Format{
	Marshal: func(w io.Writer, v any) error {
		if p, ok := v.(preEncoded); ok {
			_, err := w.Write(p.appendJSON(nil))
			return err
		}
		return huma.DefaultJSONFormat.Marshal(w, v)
	},
	Unmarshal: huma.DefaultJSONFormat.Unmarshal,
}

// preEncoded is a response body that writes its own JSON, byte for byte
// what huma.DefaultJSONFormat writes for it.
type preEncoded interface {
	appendJSON(b []byte) []byte
}

// appendJSON appends v as huma's encoder would, the value as stored.
func (v ConfigValue) appendJSON(b []byte) []byte {
	b = append(b, `{"key":`...)
	b = appendEncoded(b, v.Key)
	b = append(b, `,"value":`...)
	b = append(b, v.Value...)
	b = append(b, ',')
	// The members after the value, as an object whose '{' is dropped.
	rest := appendEncoded(nil, struct {
		Version     uint64 `json:"version"`
		UpdatedAt   Time   `json:"updated_at"`
		UpdatedBy   string `json:"updated_by"`
		Description string `json:"description"`
	}{v.Version, v.UpdatedAt, v.UpdatedBy, v.Description})
	b = append(b, rest[1:]...)
	return append(b, '\n')
}

// appendEncoded appends v as huma's encoder writes it (no HTML escaping),
// without the newline.
func appendEncoded(b []byte, v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("encode %T: %v", v, err)) // strings, numbers and times always encode
	}
	return append(b, bytes.TrimSuffix(buf.Bytes(), []byte("\n"))...)
}
