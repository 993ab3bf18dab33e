// Package clienttest is a Go client of the OctoStore HTTP API generated from
// openapi.yaml by oapi-codegen (pinned in the Makefile; `make generate`
// writes client.gen.go and `make check-generated` fails when it drifts). The
// end-to-end tests use it to show that a standard generator turns the
// published description into a client that works; the server never
// imports it.
package clienttest
