# Keyhole: every command the project runs lives here. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
NODE_DIR    := tests/node
CDK_DIR     := cdk
MOTO_PORT   ?= 5055
MOTO_URL    := http://127.0.0.1:$(MOTO_PORT)
CARGO       ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help run test deps lint deny cargo-deny test-rust test-node test-client test-browser test-infra bench bench-signer bench-lambda validate deploy sam-build qemu-arm64 \
        lambda-target test-cdk cdk-synth cdk-pack moto-start moto-stop clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | sort

## --- the two commands -------------------------------------------------------------------------
## `make run SERVE_ARGS="--port 9000 --assets my/folder"` passes options on; the `local` profile is
## optimised like release but skips the slow LTO link.
run: ## start the local stack (keyhole serve) on 127.0.0.1
	$(CARGO) run --locked --profile local -p keyhole-cli --bin keyhole -- serve $(SERVE_ARGS)

# test-infra (which runs sam build) comes before test-cdk: the CDK synth then finds both Lambdas
# compiled in target/sam and only copies them out.
test: deps lint deny test-rust test-node test-client test-browser test-infra test-cdk ## everything CI checks
	@echo "make test: all suites passed"

## --- what the tests need ------------------------------------------------------------------------
deps: $(VENV)/.installed $(NODE_DIR)/node_modules/.installed $(CDK_DIR)/node_modules/.installed ## Python venv, npm packages, Chromium

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r tests/requirements.txt
	touch $@

$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(CDK_DIR)/node_modules/.installed: $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	cd $(CDK_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

lint: ## formatting and clippy, warnings are errors
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

## Supply chain: cargo-deny checks deny.toml's bans (one version of each crate, one TLS stack),
## licences and sources. Its advisories check needs the RustSec advisory database, a git
## repository that cargo-deny clones from GitHub. No package registry ships that database, and
## this machine, like CI, reaches only the package registries: the fetch fails here, and
## `cargo deny --offline` only opens a copy already on disk. So `make deny` runs advisories when such a
## copy is present (ADVISORY_DBS/advisory-db-*, where `cargo deny fetch db` puts it on a machine
## that reaches GitHub; cargo-deny refuses one not fetched for 90 days), and otherwise prints that
## advisories were NOT checked. Nothing here stands in for the real database.
CARGO_DENY_VERSION := 0.20.2
ADVISORY_DBS := $(or $(CARGO_HOME),$(HOME)/.cargo)/advisory-dbs

deny: cargo-deny ## cargo-deny: bans, licences, sources; advisories if a local database exists
	$(CARGO) deny --locked check bans licenses sources
	if compgen -G '$(ADVISORY_DBS)/advisory-db-*/.git' >/dev/null; then \
		$(CARGO) deny --locked --offline check advisories; \
	else \
		echo "make deny: advisories NOT checked: no RustSec advisory database under $(ADVISORY_DBS)" \
			"(run 'cargo deny fetch db' where github.com is reachable)"; \
	fi

## Installed once into cargo's bin folder, and skipped while that version is there. Built in a
## temporary folder, not the project's target dir, so it never holds the build lock.
cargo-deny:
	[ "$$($(CARGO) deny --version 2>/dev/null)" = "cargo-deny $(CARGO_DENY_VERSION)" ] \
		|| env -u CARGO_TARGET_DIR $(CARGO) install --locked cargo-deny --version $(CARGO_DENY_VERSION)

## Rust tests, with a moto server (Secrets Manager, Cognito) on loopback for the tests marked
## `#[ignore = "needs moto ..."]`.
test-rust: deps ## cargo tests, including those that need moto
	$(MAKE) moto-start
	KEYHOLE_MOTO_URL=$(MOTO_URL) $(CARGO) test --workspace --locked -- --include-ignored \
		|| { $(MAKE) moto-stop; exit 1; }
	$(MAKE) moto-stop

moto-start:
	scripts/moto.sh start $(MOTO_PORT)

moto-stop:
	scripts/moto.sh stop $(MOTO_PORT)

test-node: deps ## cross-checks against the AWS JavaScript signer; edge-check cases under node
	$(CARGO) build --locked -p keyhole-cli --bin keyhole
	KEYHOLE_BIN=target/debug/keyhole node $(NODE_DIR)/cross-check.mjs
	node --test functions/edge-check/test.mjs

## The browser session client needs no npm install: it has no dependencies and its tests use
## node's own runner. The tarball is unpacked under its package name and imported by that name,
## so `exports` is checked as an app meets it.
CLIENT_DIR  := clients/js
CLIENT_PACK := $(CLIENT_DIR)/pack

test-client: ## the browser session client (clients/js): unit tests under node, npm pack, what the tarball holds
	node --test $(CLIENT_DIR)/test/
	rm -rf $(CLIENT_PACK) && mkdir -p $(CLIENT_PACK)/node_modules/@keyhole/session
	cd $(CLIENT_DIR) && npm pack --pack-destination pack --loglevel=error
	tarball=$$(ls $(CLIENT_PACK)/keyhole-session-*.tgz); \
	listing=$$(tar tzf "$$tarball"); \
	for f in package.json README.md src/index.js src/index.d.ts; do \
		grep -qx "package/$$f" <<<"$$listing" || { echo "test-client: $$f is missing from $$tarball"; exit 1; }; \
	done; \
	tar -xzf "$$tarball" -C $(CLIENT_PACK)/node_modules/@keyhole/session --strip-components=1
	cd $(CLIENT_PACK) && node --input-type=module -e \
		"import { createSession } from '@keyhole/session'; const s = createSession(); s.dispose(); if (s.state.status !== 'unknown') process.exit(1);"
	echo "test-client: src/index.js $$(wc -c <$(CLIENT_DIR)/src/index.js) bytes, $$(gzip -9c $(CLIENT_DIR)/src/index.js | wc -c) gzipped"

test-browser: deps ## the demo flow in headless Chromium, against keyhole serve on a free loopback port
	[ -x /usr/bin/chromium ] || { apt-get update && apt-get install -y chromium; }
	$(CARGO) build --locked -p keyhole-cli --bin keyhole
	KEYHOLE_BIN=target/debug/keyhole crates/keyhole-serve/scripts/with-serve.sh target/debug/keyhole node --test $(NODE_DIR)/browser.mjs

## The SAM tools run from the venv (cargo-lambda and zig come from PyPI there). `sam build` compiles
## into its own target folder, kept between runs so a second build is incremental, and apart from
## target/debug so it never holds the lock other cargo commands wait on.
SAM_TEMPLATE := infra/sam-template.yaml
SAM_TARGET_DIR ?= $(CURDIR)/target/sam
SAM_ENV      := PATH="$(CURDIR)/$(VENV)/bin:$$PATH" SAM_CLI_TELEMETRY=0 CARGO_TARGET_DIR="$(SAM_TARGET_DIR)"
LAMBDA_TARGET := aarch64-unknown-linux-gnu

test-infra: deps ## cfn-lint, sam validate, sam build, template assertions, built Lambdas under qemu
	$(MAKE) validate
	$(MAKE) sam-build
	$(MAKE) qemu-arm64
	$(VENV)/bin/pytest -q tests/infra

## Runs the arm64 Lambda binaries on this x86_64 machine (tests/infra/test_built_functions.py).
qemu-arm64:
	command -v qemu-aarch64 >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] \
		|| { apt-get update && apt-get install -y qemu-user libc6-arm64-cross; }

lambda-target:
	rustup target list --installed | grep -qx $(LAMBDA_TARGET) || rustup target add $(LAMBDA_TARGET)

sam-build: deps lambda-target ## cross-compile both Lambdas for arm64 with cargo-lambda (sam build, offline)
	start=$$(date +%s); \
	$(SAM_ENV) $(VENV)/bin/sam build -t $(SAM_TEMPLATE); \
	echo "sam build: $$(( $$(date +%s) - start )) s"

## --- the CDK construct (cdk/) ------------------------------------------------------------------
## The synth runs offline without credentials: no lookups (the example app names its account,
## region and hosted zone), no notices, no telemetry or version reporting, no version check.
## Its bundling runs the same cargo-lambda command as sam build with the same CARGO_TARGET_DIR.
CDK_APP      := node dist/example/app.js
CDK_OUT      := $(CDK_DIR)/cdk.out
CDK_TEMPLATE := $(CDK_OUT)/KeyholeExample.template.json
CDK_ENV      := $(SAM_ENV) CDK_DISABLE_VERSION_CHECK=true CDK_DISABLE_CLI_TELEMETRY=true AWS_EC2_METADATA_DISABLED=true

test-cdk: deps ## the CDK construct: unit tests, a real cdk synth, cfn-lint and the template assertions on it, npm pack
	cd $(CDK_DIR) && npx tsc -p . && node --test --test-reporter=spec dist/test/
	$(MAKE) cdk-synth
	$(VENV)/bin/cfn-lint $(CDK_TEMPLATE)
	KEYHOLE_CDK_TEMPLATE=$(CURDIR)/$(CDK_TEMPLATE) $(VENV)/bin/pytest -q tests/infra/test_template.py -k cdk
	$(MAKE) cdk-pack

cdk-synth: deps lambda-target ## cdk synth of the example app (cdk/example), building both Lambdas for arm64
	cd $(CDK_DIR) && npx tsc -p .
	rm -rf $(CDK_OUT)
	start=$$(date +%s); \
	cd $(CDK_DIR) && $(CDK_ENV) npx cdk synth --app "$(CDK_APP)" --output cdk.out --quiet \
		--no-lookups --no-notices --no-version-reporting; \
	echo "cdk synth: $$(( $$(date +%s) - start )) s"

cdk-pack: deps ## npm pack of the construct library, then check the tarball works from outside the repository
	rm -rf $(CDK_DIR)/pack && mkdir -p $(CDK_DIR)/pack/unpacked
	cd $(CDK_DIR) && npm pack --pack-destination pack --loglevel=error
	tar -xzf $(CDK_DIR)/pack/keyhole-cdk-*.tgz -C $(CDK_DIR)/pack/unpacked
	NODE_PATH=$(CURDIR)/$(CDK_DIR)/node_modules node $(CDK_DIR)/scripts/check-pack.js $(CDK_DIR)/pack/unpacked/package .

bench: bench-signer ## benchmarks beside OpenSSL, in one run
	scripts/bench-sign.sh  # keyhole signs/s per key type and hash beside openssl speed rsa2048 ecdsap256, with ratios
	# criterion writes its reports under CARGO_TARGET_DIR, else under the crate folder: keep them in target/
	CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO) bench --locked -p keyhole-core --bench sign
	$(CARGO) bench -p keyhole-token --bench verify  # warm-cache RS256/ES256 verifications/s (elem/s)
	KEY_TYPE=rsa crates/keyhole-serve/bench/load.sh
	crates/keyhole-serve/bench/load.sh  # keyhole serve: POST /session over HTTP vs in-process, asset GETs/s, cold start; openssl anchor

## The signer Lambda: OpenSSL's one-core sign rate (the anchor; CPU time), the in-process handler
## per key type (valid token in, cookies out; criterion's elem/s, wall time), then 10,000 sessions
## per key type with sessions per CPU-second (comparable with openssl speed on a busy machine) and
## peak memory.
bench-signer:
	command -v /usr/bin/time >/dev/null || { apt-get update && apt-get install -y time; }
	openssl speed -seconds 3 rsa2048 ecdsap256 2>/dev/null | tail -n 5
	CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO) bench -p keyhole-signer --bench session
	$(CARGO) build --profile bench -p keyhole-signer --example sessions
	for k in rsa ecdsa; do /usr/bin/time -f "$$k: peak RSS %M KiB for 10,000 sessions" \
		target/release/examples/sessions $$k 10000; done
	$(CARGO) build --profile bench -p keyhole-signer --bin keyhole-signer
	$(PY) functions/signer/scripts/runtime-bench.py target/release/keyhole-signer 10000 ecdsa
	$(MAKE) bench-lambda
	bench/peers/run.sh  # the same work with aws-jwt-verify + @aws-sdk/cloudfront-signer, and PyJWT + botocore

## The signer's real binary through a local Lambda Runtime API, its key in Secrets Manager (moto):
## init, first and warm invocation, CPU per invocation, and at 128-1024 MB (a cgroup CPU quota of
## MB/1769 of a core, as Lambda allots CPU) p50/p99 and the cost per million sessions.
bench-lambda: deps
	$(CARGO) build --locked --profile bench -p keyhole-signer --bin keyhole-signer
	$(MAKE) moto-start
	$(PY) functions/signer/scripts/lambda-startup.py target/release/keyhole-signer --moto $(MOTO_URL) \
		|| { $(MAKE) moto-stop; exit 1; }
	$(MAKE) moto-stop

validate: deps ## check the SAM template: edge-check code in sync, cfn-lint, sam validate --lint
	infra/gen-edge-check --check
	$(VENV)/bin/cfn-lint $(SAM_TEMPLATE)
	$(SAM_ENV) $(VENV)/bin/sam validate --lint --region us-east-1 -t $(SAM_TEMPLATE)

deploy: deps ## sam build, then sam deploy (guided the first time, which writes samconfig.toml)
	infra/gen-edge-check
	$(MAKE) sam-build
	if [ -f samconfig.toml ]; then \
		$(SAM_ENV) $(VENV)/bin/sam deploy; \
	else \
		$(SAM_ENV) $(VENV)/bin/sam deploy --guided --capabilities CAPABILITY_IAM; \
	fi

clean:
	$(CARGO) clean
	rm -rf $(VENV) $(NODE_DIR)/node_modules .aws-sam
	rm -rf $(CDK_DIR)/node_modules $(CDK_DIR)/dist $(CDK_OUT) $(CDK_DIR)/pack
	rm -rf $(CLIENT_PACK)
