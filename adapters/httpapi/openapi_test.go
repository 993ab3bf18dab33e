package httpapi_test

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/octostore/octostore/adapters/httpapi"
)

// TestOpenAPIGolden fails when the committed openapi.yaml drifts from the
// handlers; regenerate it with `make openapi`. That runs `go run`, whose
// binary records no version, so the file carries bootstrap.DevVersion.
func TestOpenAPIGolden(t *testing.T) {
	got, err := httpapi.New(httpapi.Config{Version: "dev"}, httpapi.Services{}).API().OpenAPI().YAML()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("../../openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("openapi.yaml is out of date with the handlers: run `make openapi` and commit it")
	}
}

// TestSchemaNames keeps the component names a client generator turns into
// type names readable: no names huma derives from Go input and output
// structs (…InputBody, …Output…), request bodies named …Request, and
// nothing else named so.
func TestSchemaNames(t *testing.T) {
	doc := httpapi.New(httpapi.Config{}, httpapi.Services{}).API().OpenAPI()
	requests := map[string]bool{}
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Put, item.Post, item.Patch, item.Delete} {
			if op == nil || op.RequestBody == nil {
				continue
			}
			for mt, media := range op.RequestBody.Content {
				name := strings.TrimPrefix(media.Schema.Ref, "#/components/schemas/")
				if name == "" || name == media.Schema.Ref {
					t.Errorf("%s %s: the %s request body has no named schema", op.Method, path, mt)
				}
				requests[name] = true
			}
		}
	}
	bad := regexp.MustCompile(`Input|Output|Body|Struct|^[a-z]`)
	for name := range doc.Components.Schemas.Map() {
		if bad.MatchString(name) {
			t.Errorf("schema %q: name it for what it is (AcquireRequest, Lease, …), not for its Go struct", name)
		}
		if requests[name] != strings.HasSuffix(name, "Request") {
			t.Errorf("schema %q: request bodies, and only they, are named …Request", name)
		}
	}
}
