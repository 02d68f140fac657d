# Vaultbill — make dev runs the local stack; make test runs everything CI runs.
SHELL := /bin/bash
GO ?= go
FUNCTIONS := $(notdir $(wildcard functions/*))
BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION := 1
# jsii runs on the machine's node (20); its end-of-life banner says nothing about the templates.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
CDK := infra/node_modules/.bin/cdk

.PHONY: dev test build lint bench deps check-moto clean synth cdk-cli diff deploy

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

.PHONY: bench-coldstart sam-env

## bench-coldstart: each function's init on the Lambda runtime emulator, as a ratio to a hello world's
bench-coldstart: deps check-moto
	$(GO) test -count=1 -run '^$$' -bench ColdStart ./template-tests/

## sam-env: the --env-vars file (build/sam-env.json) for sam local invoke/start-api against the local stack
sam-env:
	$(GO) run ./cmd/vaultbill sam-env

## synth: build the functions, then synthesize the CloudFormation templates and cdk-nag reports into infra/cdk.out
synth: build
	cd infra && $(GO) run .

## cdk-cli: the CDK CLI pinned in infra/package.json
cdk-cli:
	cd infra && npm ci --no-audit --no-fund

## diff: compare the synthesized stacks with what is deployed (needs AWS credentials)
diff: build cdk-cli
	cd infra && npx --no-install cdk diff --all

## deploy: deploy all stacks (needs AWS credentials and a bootstrapped account: npx cdk bootstrap)
deploy: build cdk-cli
	cd infra && npx --no-install cdk deploy --all --require-approval broadening

clean:
	rm -rf build infra/cdk.out
