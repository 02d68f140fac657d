# Vaultbill — make dev runs the local stack; make test runs everything CI runs.
SHELL := /bin/bash
GO ?= go
# The patched Go release every target builds, tests, scans and ships with: the go command on the PATH fetches it
# from the module proxy once (a go.mod toolchain line alone is ignored under GOTOOLCHAIN=local). Renovate bumps it.
GO_RELEASE := go1.26.10
export GOTOOLCHAIN := $(GO_RELEASE)
FUNCTIONS := $(notdir $(wildcard functions/*))
BUILD_FLAGS := -tags lambda.norpc -trimpath -ldflags="-s -w"
# Every function binary stays under 9 MiB (make build fails at 9 MiB). The functions below link three or four
# SDK clients (DynamoDB, S3, KMS, SNS); they are built without inlining in the SDK and our own code (I/O-bound)
# and in the standard library's network, TLS, X.509, ASN.1, XML, MIME, regexp and text packages: 0.6-0.8 MiB
# smaller each. JSON, gzip, hashing, AES-GCM and the runtime keep it: the shipper's 1 000-record batch
# (BenchmarkShipper) runs as fast, where no inlining at all made it twice as slow.
FUNCTION_MAX_BYTES := 9437184
LEAN_FUNCTIONS := audit-digest audit-shipper backup restore-test data-rights
LEAN_FLAGS := -gcflags=all=-l -gcflags=std= -gcflags=net/...=-l -gcflags=crypto/tls/...=-l -gcflags=crypto/x509/...=-l \
  -gcflags=encoding/asn1=-l -gcflags=encoding/xml=-l -gcflags=mime/...=-l -gcflags=regexp/...=-l -gcflags=text/...=-l \
  -gcflags=syscall=-l -gcflags=vendor/...=-l
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

## test: lint, unit tests and integration tests against one emulator that every test package shares
## (AWS_ENDPOINT_URL when set, e.g. LocalStack; otherwise one moto_server on a free port)
test: deps check-moto lint
	$(GO) run ./cmd/vaultbill emulator -- $(GO) test -count=1 ./...

## build: each function as an arm64 bootstrap in build/<function>/ and build/<function>.zip
build: deps
	@for f in $(FUNCTIONS); do \
	  echo "build $$f"; \
	  GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) $$(case " $(LEAN_FUNCTIONS) " in *" $$f "*) echo '$(LEAN_FLAGS)';; esac) \
	    -o build/$$f/bootstrap ./functions/$$f || exit 1; \
	  (cd build/$$f && python3 -m zipfile -c ../$$f.zip bootstrap) || exit 1; \
	done
	@ls -l build/*/bootstrap | awk '{printf "%-40s %6.2f MiB\n", $$9, $$5/1048576}'
	@ls -l build/*/bootstrap | awk -v max=$(FUNCTION_MAX_BYTES) '$$5 >= max {printf "build: %s is %d bytes, over the %d-byte budget: look at what it links (go tool nm -size -sort size, go list -deps)\n", $$9, $$5, max; bad=1} END {exit bad}'

.PHONY: cost
## cost: dollars per million requests per API route and the daily cost of the scheduled work, measured on the
## local stack against the emulator and priced from shared/ops/cost/prices.go (README "Cost per request")
cost: deps check-moto
	$(GO) run ./cmd/cost

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

## bench: Go benchmarks (speed and cost targets), including those against the emulator
bench: deps check-moto
	$(GO) test -count=1 -run '^$$' -bench . -benchmem ./...

.PHONY: fuzz

FUZZTIME ?= 60s
FUZZMINIMIZETIME ?= 10s

## fuzz: every Go fuzz target (func FuzzXxx in a _test.go file), one at a time, for FUZZTIME each
## (default 60s; FUZZTIME=1000000x runs a million inputs each; FUZZPARALLEL=n caps the workers).
## FUZZMINIMIZETIME bounds the shrinking of each new interesting input (Go's default of 60s each stalls
## a target whose corpus grows fast). make test runs their seed corpora and testdata/fuzz.
## The targets need no emulator: the endpoint set here keeps the test binaries' TestMain from starting
## one in every fuzz worker.
fuzz: deps
	@set -e; for d in $$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' ./...); do \
	  for t in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$d/*_test.go); do \
	    echo "== $$t ($$d)"; \
	    AWS_ENDPOINT_URL=http://127.0.0.1:9 $(GO) test -count=1 -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) \
	      $(if $(FUZZPARALLEL),-parallel $(FUZZPARALLEL)) $$d; \
	  done; \
	done

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

# ---- Patching and supply chain (README "Patching and supply chain") ----
# Tool versions: the Go tools are pinned in .ci/tools/go.mod (run as go run <package>@<version>, so the app's
# go.mod stays free of them); the npm tools below. Renovate bumps every pin.
pin = $(shell awk '$$1 == "$(1)" {print $$2}' .ci/tools/go.mod)
VULNDB_VERSION := $(call pin,golang.org/x/vulndb)
GOVULNCHECK := $(GO) run golang.org/x/vuln/cmd/govulncheck@$(call pin,golang.org/x/vuln)
# cyclonedx-gomod reads the target platform from its environment, so it is installed rather than run with go run.
CYCLONEDX_GOMOD_VERSION := $(call pin,github.com/CycloneDX/cyclonedx-gomod)
CYCLONEDX_GOMOD := .cache/tools/cyclonedx-gomod-$(CYCLONEDX_GOMOD_VERSION)/cyclonedx-gomod
# renovate: datasource=npm depName=@cyclonedx/cyclonedx-npm
CYCLONEDX_NPM_VERSION := 6.0.1
# renovate: datasource=npm depName=renovate
RENOVATE_VERSION := 44.121.2
# The vulnerability database and the npm tools are built or installed once per version, here (git-ignored).
VULNDB := .cache/vulndb/$(VULNDB_VERSION)
RENOVATE_DIR := .cache/tools/renovate-$(RENOVATE_VERSION)

.PHONY: vulndb vulncheck sbom renovate-check
# make test also runs the supply-chain checks (before the Go tests).
test: vulncheck sbom renovate-check

## vulndb: the Go vulnerability database of the pinned golang.org/x/vulndb snapshot, built once into .cache/vulndb/<version>
vulndb: $(VULNDB)/index/db.json
$(VULNDB)/index/db.json:
	@dir=$$($(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^\t"Dir": "\(.*\)",$$/\1/p'); \
	  [ -d "$$dir/data/osv" ] || { echo "vulndb: no data/osv in golang.org/x/vulndb@$(VULNDB_VERSION)"; exit 1; }; \
	  echo "vulndb: indexing $$(ls $$dir/data/osv | wc -l) advisories of golang.org/x/vulndb@$(VULNDB_VERSION)"; \
	  rm -rf $(VULNDB).tmp && $(GO) run golang.org/x/vulndb/cmd/indexdb@$(VULNDB_VERSION) -vulns $$dir/data/osv -out $(VULNDB).tmp && \
	  rm -rf $(VULNDB) && mv $(VULNDB).tmp $(VULNDB)

## vulncheck: govulncheck offline over the source and each shipped binary; a reachable vulnerability fails with what to bump
vulncheck: build vulndb
	@rm -rf build/vulncheck; mkdir -p build/vulncheck; db=file://$(CURDIR)/$(VULNDB); \
	  echo "vulncheck: govulncheck@$(call pin,golang.org/x/vuln) -db $(VULNDB) over ./... and build/*/bootstrap"; \
	  TIMEFORMAT="vulncheck: the scan took %R s (CPU: %U s user, %S s system)"; time { \
	    $(GOVULNCHECK) -db $$db -format json ./... > build/vulncheck/source.json || exit 1; \
	    for f in $(FUNCTIONS); do \
	      $(GOVULNCHECK) -db $$db -format json -mode binary build/$$f/bootstrap > build/vulncheck/$$f.json || exit 1; \
	    done; \
	    $(GO) run ./cmd/vulnscan build/vulncheck/*.json || exit 1; \
	  }; \
	  for f in $(FUNCTIONS); do \
	    v=$$($(GO) version build/$$f/bootstrap | awk '{print $$2}'); \
	    [ "$$v" = "$(GO_RELEASE)" ] || { echo "vulncheck: build/$$f/bootstrap is built with $$v, not $(GO_RELEASE)"; exit 1; }; \
	  done; \
	  echo "vulncheck: every function binary is built with $(GO_RELEASE) (go version build/<function>/bootstrap)"

$(CYCLONEDX_GOMOD):
	GOBIN=$(CURDIR)/$(@D) $(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)

## sbom: CycloneDX SBOMs in build/sbom/: one per function binary, the Go module (tests, CDK app, CLI) and infra/'s npm tree
sbom: build $(CYCLONEDX_GOMOD)
	@rm -rf build/sbom build/sbom.log; mkdir -p build/sbom; version=$$(git describe --always --dirty 2>/dev/null || echo unknown); \
	  TIMEFORMAT="sbom: took %R s (CPU: %U s user, %S s system)"; time { \
	    for f in $(FUNCTIONS); do \
	      GOOS=linux GOARCH=arm64 $(CYCLONEDX_GOMOD) bin -json -std -version $$version -output build/sbom/$$f.cdx.json \
	        build/$$f/bootstrap 2>>build/sbom.log || { cat build/sbom.log; exit 1; }; \
	    done; \
	    $(CYCLONEDX_GOMOD) mod -json -std -test -output build/sbom/module.cdx.json . 2>>build/sbom.log || { cat build/sbom.log; exit 1; }; \
	    (cd infra && npx --yes @cyclonedx/cyclonedx-npm@$(CYCLONEDX_NPM_VERSION) --package-lock-only --output-format JSON \
	      --output-file ../build/sbom/infra-npm.cdx.json 2>>../build/sbom.log) || { cat build/sbom.log; exit 1; }; \
	    $(GO) run ./cmd/sbomcheck -go $(GO_RELEASE) $(FUNCTIONS) || exit 1; \
	  }; \
	  ls -l build/sbom | awk 'NR > 1 {printf "  build/sbom/%-24s %4d KiB\n", $$9, $$5/1024}'

## renovate-check: validate renovate.json with Renovate's own validator (installed once into .cache/tools)
# The validator runs on node 20 (the bot itself wants node 24); install scripts are skipped, so the optional
# native re2 module is absent and the validator checks regular expressions with JavaScript's RegExp.
renovate-check: $(RENOVATE_DIR)/node_modules/.bin/renovate-config-validator
	@RENOVATE_X_IGNORE_RE2=true LOG_LEVEL=warn $< --strict && echo "renovate-check: renovate.json is valid for renovate $(RENOVATE_VERSION)"
	@node .ci/renovate-managers.mjs
$(RENOVATE_DIR)/node_modules/.bin/renovate-config-validator:
	@echo "renovate-check: installing renovate@$(RENOVATE_VERSION) into $(RENOVATE_DIR) (once per version)"
	@rm -rf $(RENOVATE_DIR).tmp && mkdir -p $(RENOVATE_DIR).tmp && \
	  npm install --prefix $(RENOVATE_DIR).tmp --no-audit --no-fund --ignore-scripts --loglevel=error --save-exact renovate@$(RENOVATE_VERSION) && \
	  rm -rf $(RENOVATE_DIR) && mv $(RENOVATE_DIR).tmp $(RENOVATE_DIR)

# ---- Scale (README "Backups past one invocation, and capacity") ----
.PHONY: scale
## scale: the continuation test at full size: 20 000 items backed up and restored in invocations of 2 s, clean
## and with a killed invocation (make test runs it with 2 000 items and 250 ms)
scale: deps check-moto
	$(GO) run ./cmd/vaultbill emulator -- $(GO) test -count=1 -v -timeout 30m -run 'TestContinuation$$' ./shared/ops/backup/ -scale

# ---- Soak (README "Faults and money invariants") ----
.PHONY: soak
SOAK_TIME ?= 5m
## soak: the money-invariant checker with fresh random seeds for SOAK_TIME (default 5m); each seed is printed,
## and VAULTBILL_SEED=<seed> go test -run TestMoneyInvariants ./shared/local/reliability/ replays a failing one
soak: deps check-moto
	SOAK_TIME=$(SOAK_TIME) $(GO) run ./cmd/vaultbill emulator -- $(GO) test -count=1 -v -timeout 0 -run TestMoneyInvariants ./shared/local/reliability/
