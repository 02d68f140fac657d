# Vaultbill — make dev runs the local stack; make test runs everything CI runs.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1

.PHONY: dev test build lint bench deps check-moto clean

## deps: fetch Go modules (idempotent; a fresh machine needs nothing else but moto_server for the emulator)
deps:
	$(GO) mod download

## check-moto: the local stack and integration tests need moto_server unless AWS_ENDPOINT_URL answers
check-moto:
	@command -v moto_server >/dev/null || [ -n "$$AWS_ENDPOINT_URL" ] || { \
	  echo 'moto_server not found: install it with  python3 -m pip install "moto[server]>=5.1"'; \
	  echo 'or point AWS_ENDPOINT_URL at a running LocalStack.'; exit 1; }

## dev: run the local stack (emulator, tables/keys/buckets, API on :3000) until Ctrl-C
dev: deps check-moto
	$(GO) run ./cmd/vaultbill dev

## test: lint, unit tests and integration tests against the emulator
test: deps check-moto lint
	$(GO) test -count=1 ./...

## build: each function as an arm64 bootstrap in build/<function>/ and build/<function>.zip
build: deps
	@for f in $(FUNCTIONS); do \
	  echo "build $$f"; \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o build/$$f/bootstrap ./functions/$$f || exit 1; \
	  (cd build/$$f && python3 -m zipfile -c ../$$f.zip bootstrap) || exit 1; \
	done
	@ls -l build/*/bootstrap | awk '{printf "%-40s %6.2f MiB\n", $$9, $$5/1048576}'

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: Go benchmarks (speed and cost targets), including those against the emulator
bench: deps check-moto
	$(GO) test -count=1 -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf build
