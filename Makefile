# OctoStore — run `make help` for the targets.
SQLC    := go run github.com/sqlc-dev/sqlc/cmd/sqlc@v1.31.1
GOOSE   := go run github.com/pressly/goose/v3/cmd/goose@v3.30.0
OAPI_CODEGEN := go run github.com/oapi-codegen/oapi-codegen/v2/cmd/oapi-codegen@v2.8.2
# Redocly CLI from the npm registry, pinned; it needs Node.js 20.19+ (or 22.12+).
REDOCLY := npx --yes @redocly/cli@2.77.0
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help run build test test-deps generate check-generated lint lint-openapi openapi bench migration clean bench-compare bench-blocking bench-events bench-acl bench-metrics bench-config

help: ## show this help
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

run: build ## run the server on 127.0.0.1:3000 with ./octostore.db (no configuration needed)
	./bin/octostore serve

build: ## build bin/octostore (pure Go, no cgo), version stamped from git
	CGO_ENABLED=0 go build -ldflags "$(LDFLAGS)" -o bin/octostore ./cmd/octostore

test: test-deps lint-openapi ## run every test with the race detector (installs Chromium for the browser test if missing) and lint openapi.yaml
	go vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go test -race -count=1 ./...

test-deps: ## install what the tests need beyond Go (headless Chromium for the /docs tests, curl for the README test, openssl for docs/webhooks.md)
	@missing=""; \
	  command -v chromium >/dev/null 2>&1 || missing="$$missing chromium"; \
	  command -v curl >/dev/null 2>&1 || missing="$$missing curl"; \
	  command -v openssl >/dev/null 2>&1 || missing="$$missing openssl"; \
	  [ -z "$$missing" ] || { \
	  echo "installing$$missing for the tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; }

generate: ## regenerate sqlc code, openapi.yaml and the generated test client (clienttest/)
	$(SQLC) generate
	go run ./cmd/octostore openapi > openapi.yaml
	$(OAPI_CODEGEN) -config clienttest/oapi-codegen.yaml -o clienttest/client.gen.go openapi.yaml

check-generated: ## fail if generated code or openapi.yaml drift from their sources
	$(SQLC) diff
	go run ./cmd/octostore openapi | diff -u openapi.yaml - 
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  $(OAPI_CODEGEN) -config clienttest/oapi-codegen.yaml -o "$$tmp/client.gen.go" openapi.yaml && \
	  diff -u clienttest/client.gen.go "$$tmp/client.gen.go" && echo "clienttest/client.gen.go is up to date"

lint: ## go vet, gofmt, and the dependency rule
	go vet ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	go test -count=1 -run TestDependencyRule .

lint-openapi: ## lint openapi.yaml with Redocly's recommended rules: fails on any error (fetches @redocly/cli with npx; skipped without node/npm)
	@if command -v npx >/dev/null 2>&1 && command -v node >/dev/null 2>&1; then \
	  REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NPM_CONFIG_UPDATE_NOTIFIER=false NPM_CONFIG_FUND=false \
	    $(REDOCLY) lint --format=stylish openapi.yaml; \
	else \
	  echo "lint-openapi: SKIPPED: node and npm are not installed, so Redocly CLI cannot run (install Node.js 20.19+ with npm)"; \
	fi

openapi: ## write openapi.yaml from the handlers
	go run ./cmd/octostore openapi > openapi.yaml

bench: ## run the Go benchmarks once
	go test -run '^$$' -bench . -benchtime 2s ./application/ ./adapters/sqlite/

migration: ## create a new SQL migration: make migration name=add_x
	$(GOOSE) -dir sql/migrations -s create $(name) sql

clean: ## remove build output
	rm -rf bin

bench-compare: build ## load OctoStore, etcd and a no-op HTTP server alike (64 clients, uncontended) and print a table
	go run ./cmd/octobench compare -bin bin/octostore

bench-events: build ## OctoStore's cycles/s with 1,000 watch streams open vs none, and with a webhook answering 503 for a minute vs none; 1,000-watcher delivery latency
	go run ./cmd/octobench compare -bin bin/octostore -watchers 1000
	go run ./cmd/octobench compare -bin bin/octostore -targets octostore -webhook-503 -duration 60s
	go test -run '^$$' -bench BenchmarkWatchDelivery -benchtime 400x ./bootstrap/

bench-config: build ## config reads/s and writes/s (64 clients); lock acquire p99 alone and beside 8 clients writing 256 KiB config values (config.write_rate at its default, then off)
	go run ./cmd/octobench config -bin bin/octostore
	go run ./cmd/octobench config -bin bin/octostore -write-rate 0

bench-acl: build ## OctoStore's cycles/s with 1,000 ACL rules in the load's org vs none (each check decided through a team); the Policy.Allows micro-benchmark
	go run ./cmd/octobench compare -bin bin/octostore -targets octostore -acl-rules 1000
	go test -run '^$$' -bench BenchmarkPolicyAllows ./domain/

bench-metrics: build ## OctoStore's cycles/s with GET /metrics scraped every second vs not scraped, in one run
	go run ./cmd/octobench compare -bin bin/octostore -targets octostore -scrape-metrics 1s

bench-blocking: build ## OctoStore vs etcd, blocking acquires (16 clients queueing on 4 names): grants/s, waits, FIFO check
	go run ./cmd/octobench compare -workload blocking -bin bin/octostore
