# Keyhole: every command the project runs lives here. `make test` is what CI runs.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
CHECKOV_VENV := .venv-checkov
NODE_DIR    := tests/node
CDK_DIR     := cdk
MOTO_PORT   ?= 5055
MOTO_URL    := http://127.0.0.1:$(MOTO_PORT)
CARGO       ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help run test deps lint deny cargo-deny test-rust test-node test-client test-browser test-infra checkov bench bench-signer bench-serve bench-sizes bench-levers bench-soak bench-lambda validate deploy sam-build qemu-arm64 \
        lambda-target test-cdk cdk-synth cdk-pack moto-start moto-stop clean \
        fuzz fuzz-cmin fuzz-tools

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
deps: $(VENV)/.installed $(CHECKOV_VENV)/.installed $(NODE_DIR)/node_modules/.installed $(CDK_DIR)/node_modules/.installed ## Python venvs, npm packages, Chromium

$(VENV)/.installed: tests/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r tests/requirements.txt
	touch $@

# checkov pins a boto3 the SAM CLI's pin excludes: it gets a venv of its own.
$(CHECKOV_VENV)/.installed: tests/checkov-requirements.txt
	python3 -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r tests/checkov-requirements.txt
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
	node --experimental-vm-modules --test functions/edge-check/test.mjs

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

test-infra: deps ## cfn-lint, sam validate, checkov, sam build, template assertions, built Lambdas under qemu
	$(MAKE) validate
	$(MAKE) checkov
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
	$(MAKE) checkov CHECKOV_TEMPLATE=$(CDK_TEMPLATE)
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

## `make bench`: every benchmark in one run, then the one table (bench/table.py) built from the
## figures each step recorded in target/bench/results.tsv (bench/lib.sh's `record`), printed and
## kept in target/bench/table.md for the README's performance section. Figures, not tests.
BENCH_DIR := $(CURDIR)/target/bench
bench: export BENCH_RESULTS := $(BENCH_DIR)/results.tsv
bench: deps ## every benchmark beside OpenSSL and the peers, in one run, then the one table
	mkdir -p $(BENCH_DIR) && : >$(BENCH_RESULTS)
	$(MAKE) bench-signer
	scripts/bench-sign.sh  # keyhole signs/s per key type and hash beside openssl speed rsa2048 ecdsap256, with ratios
	# criterion writes its reports under CARGO_TARGET_DIR, else under the crate folder: keep them in target/
	CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO) bench --locked -p keyhole-core --bench sign
	$(CARGO) bench -p keyhole-token --bench verify  # warm-cache RS256/ES256 verifications/s (elem/s)
	$(MAKE) bench-serve
	$(MAKE) bench-sizes
	$(MAKE) bench-soak
	$(PY) bench/table.py $(BENCH_RESULTS) | tee $(BENCH_DIR)/table.md

## keyhole serve on one core, wrk on the other: POST /session in-process and over HTTP, asset GETs
## at 1, 4 and 16 connections, cold start, peak memory, beside openssl speed on the same core.
bench-serve:
	KEY_TYPE=rsa crates/keyhole-serve/bench/load.sh
	crates/keyhole-serve/bench/load.sh

## Both Lambda bootstraps for arm64, built as `sam build` builds them (cargo lambda, its target
## folder shared with sam build, so after `make test` this only copies them out), and their sizes.
bench-sizes: deps lambda-target
	# One binary per build, as sam build does: features unify across the packages of one build.
	for bin in keyhole-signer keyhole-key-setup; do \
		$(SAM_ENV) cargo lambda build --quiet --locked --release --arm64 --lambda-dir $(BENCH_DIR)/lambda --bin $$bin; \
	done
	. bench/lib.sh; \
	for f in signer:keyhole-signer key_setup:keyhole-key-setup; do \
		size=$$(stat -c %s $(BENCH_DIR)/lambda/$${f#*:}/bootstrap); echo "$${f#*:} arm64 bootstrap: $$size bytes"; \
		record "bootstrap.$${f%%:*}_bytes" "$$size"; \
	done

## Each size lever on its own (bench/size-levers.sh): both arm64 bootstraps and the signer's
## sessions per CPU-second under each. About ten minutes a lever on two cores; not in `make bench`.
bench-levers: deps lambda-target
	bench/size-levers.sh $(LEVERS)

## 60 s of mixed traffic against keyhole serve while the issuer's key set goes down, slow, garbage
## and rotates, with hostile clients beside: zero unexpected statuses, RSS sampled, figures printed.
bench-soak: deps
	$(CARGO) build --locked --profile local -p keyhole-cli --bin keyhole
	$(PY) crates/keyhole-serve/bench/soak.py target/local/keyhole 60

## The signer Lambda: OpenSSL's one-core sign rate (the anchor; CPU time), the in-process handler
## per key type (valid token in, cookies out; criterion's elem/s, wall time), then 10,000 sessions
## per key type with sessions per CPU-second (comparable with openssl speed on a busy machine) and
## peak memory.
bench-signer:
	command -v /usr/bin/time >/dev/null || { apt-get update && apt-get install -y time; }
	openssl speed -seconds 3 rsa2048 ecdsap256 2>/dev/null | tail -n 5
	CARGO_TARGET_DIR=$(CURDIR)/target $(CARGO) bench -p keyhole-signer --bench session
	$(CARGO) build --profile bench -p keyhole-signer --example sessions
	. bench/lib.sh; \
	for k in ecdsa rsa; do \
		/usr/bin/time -f "%M" -o target/sessions-$$k.rss target/release/examples/sessions $$k 10000 | tee target/sessions-$$k.txt; \
		echo "$$k: peak RSS $$(cat target/sessions-$$k.rss) KiB for 10,000 sessions"; \
		record "pipeline.$$k.per_cpu" "$$(sed -E 's/.* = ([0-9]+) sessions per CPU-second.*/\1/' target/sessions-$$k.txt)"; \
		record "pipeline.$$k.peak_rss_kib" "$$(cat target/sessions-$$k.rss)"; \
	done
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

## checkov (tests/infra/checkov_gate.py): fails on any finding neither fixed nor skipped in the
## template itself, each skip with a one-line reason in the resource's Metadata. CHECKOV_TEMPLATE
## names another template (test-cdk passes the synthesized one).
CHECKOV_TEMPLATE ?= $(SAM_TEMPLATE)
checkov: $(CHECKOV_VENV)/.installed ## checkov over the SAM template: no finding left unfixed or unexplained
	$(CHECKOV_VENV)/bin/python tests/infra/checkov_gate.py $(CHECKOV_TEMPLATE)

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

## --- fuzzing (fuzz/, cargo-fuzz and libFuzzer on a nightly toolchain) ------------------------
## Every target is a thin wrapper around a check in a library's `fuzzing` module; `make test`
## replays the committed corpora (fuzz/corpus/<target>/) through the same checks on stable Rust
## (the crates' tests/fuzz_corpus.rs). `make fuzz` runs each target for FUZZ_SECONDS, FUZZ_PARALLEL
## at a time, niced; new inputs go to fuzz/work/<target>/ (not committed), crashes to
## fuzz/artifacts/<target>/, and each log's last status line (executions, cov, ft, corpus) is
## printed at the end. `make fuzz-cmin` merges fuzz/work back into the committed corpus, minimised
## (libFuzzer -set_cover_merge=1 over edges only, -use_counters=0, so a corpus stays a few hundred
## files; files named regression-* are kept as they are).
## No sanitizer: the code under test forbids `unsafe`; overflow checks are on in keyhole's crates.
FUZZ_TARGETS  := cookie_header signed_url policy jwt claims scope bridge_return range asset_key
FUZZ_SECONDS  ?= 600
FUZZ_PARALLEL ?= 2
CARGO_FUZZ_VERSION := 0.13.2
FUZZ := $(CARGO) +nightly fuzz

fuzz: fuzz-tools ## run every fuzz target for FUZZ_SECONDS (default 600) each
	cd fuzz && $(FUZZ) build -s none -O
	mkdir -p fuzz/logs
	status=0; \
	printf '%s\n' $(FUZZ_TARGETS) | xargs -P $(FUZZ_PARALLEL) -I{} sh -c \
		'mkdir -p fuzz/work/{} && cd fuzz && nice -n 19 $(FUZZ) run -s none -O {} work/{} corpus/{} -- \
			-max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
			> logs/{}.log 2>&1 && echo "fuzz {}: done" || { echo "fuzz {}: FAILED, see fuzz/logs/{}.log"; exit 1; }' \
		|| status=1; \
	for t in $(FUZZ_TARGETS); do \
		echo "$$t: $$(grep -E '^#[0-9]+' fuzz/logs/$$t.log | tail -1)"; \
	done; \
	exit $$status

fuzz-cmin: fuzz-tools ## merge fuzz/work into the committed corpora, minimised
	for t in $(FUZZ_TARGETS); do \
		rm -rf fuzz/merged/$$t && mkdir -p fuzz/merged/$$t fuzz/work/$$t; \
		(cd fuzz && $(FUZZ) run -s none -O $$t merged/$$t corpus/$$t work/$$t -- -set_cover_merge=1 -use_counters=0 >/dev/null 2>&1); \
		cp fuzz/corpus/$$t/regression-* fuzz/merged/$$t/ 2>/dev/null || true; \
		rm -rf fuzz/corpus/$$t && mv fuzz/merged/$$t fuzz/corpus/$$t; \
		echo "fuzz-cmin $$t: $$(ls fuzz/corpus/$$t | wc -l) files"; \
	done

## Installed once, like cargo-deny: the nightly toolchain (minimal profile) and cargo-fuzz.
fuzz-tools:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	[ "$$($(CARGO) fuzz --version 2>/dev/null)" = "cargo-fuzz $(CARGO_FUZZ_VERSION)" ] \
		|| env -u CARGO_TARGET_DIR $(CARGO) install --locked cargo-fuzz --version $(CARGO_FUZZ_VERSION)

clean:
	$(CARGO) clean
	rm -rf fuzz/target fuzz/work fuzz/artifacts fuzz/logs
	rm -rf $(VENV) $(CHECKOV_VENV) $(NODE_DIR)/node_modules .aws-sam
	rm -rf $(CDK_DIR)/node_modules $(CDK_DIR)/dist $(CDK_OUT) $(CDK_DIR)/pack
	rm -rf $(CLIENT_PACK)
