package httpapi_test

import (
	"bytes"
	"os"
	"testing"

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
