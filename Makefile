# Entry points. Prerequisites: Rust (cargo), Python 3, make. Everything else is installed into
# .venv on first use: moto (local AWS endpoint), cargo-lambda, aws-sam-cli, cfn-lint.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
TEMPLATE := infra/template.yaml

.PHONY: help dev test lint lint-template bench bench-processor bench-api build deploy coldstart clean

help:
	@echo "make dev    - local AWS endpoint, world loaded, functions under cargo lambda watch (port 9000)"
	@echo "make test   - everything CI runs: fmt, clippy, template lint, unit + integration tests"
	@echo "make bench  - criterion benchmarks (signature + parse + split)"
	@echo "make build  - release build of every function for Lambda (arm64)"
	@echo "make deploy - build, then sam deploy --guided"

$(STAMP): infra/local/requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/requirements.txt
	touch $@

dev: $(STAMP)
	scripts/local-aws scripts/dev-watch

test: $(STAMP) lint lint-template
	scripts/local-aws scripts/test-suite

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-template: $(STAMP)
	AWS_DEFAULT_REGION=us-east-1 sam validate --lint -t $(TEMPLATE)
	cfn-lint $(TEMPLATE)

bench:
	cargo bench -p shared --bench ingest

bench-processor: $(STAMP)
	scripts/local-aws cargo run --release -p pipeline-tests --bin processor-bench

bench-api: $(STAMP)
	scripts/local-aws cargo run --release -p pipeline-tests --bin api-bench

# Cross-compiling to arm64 uses zig (from PyPI), installed on first build.
$(VENV)/.zig: $(STAMP)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check ziglang
	touch $@

build: $(VENV)/.zig
	cargo lambda build --release --arm64

deploy: build lint-template
	sam deploy --guided -t $(TEMPLATE)

# Init and invoke times of the webhook on this machine (host architecture build).
coldstart: $(STAMP)
	cargo build --release -p webhook
	scripts/local-aws scripts/coldstart

clean:
	cargo clean
	rm -rf $(VENV) .local
