# Entry points. Prerequisites: Rust (cargo), Python 3, make. Everything else is installed on first
# use: cargo-lambda, aws-sam-cli, cfn-lint and schemathesis into .venv, and the local AWS emulator
# (ministack, which deploys infra/template.yaml and runs the functions) into .venv-emulator.
SHELL := /bin/bash
VENV := .venv
STAMP := $(VENV)/.installed
EMULATOR_STAMP := .venv-emulator/.installed
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
TEMPLATE := infra/template.yaml

.PHONY: help dev watch test fuzz load faults redrive replay recount migrate-index lint lint-template capacity bench bench-processor bench-realtime bench-sse bench-api build arm64-check deploy coldstart clean

help:
	@echo "make dev    - infra/template.yaml deployed on a local AWS emulator, world loaded, redeploy on save"
	@echo "make watch  - the same stack, with the functions under cargo lambda watch (port 9000)"
	@echo "make test   - everything CI runs: fmt, clippy, template lint, unit + integration tests"
	@echo "make fuzz   - every fuzz target under libFuzzer, FUZZ_SECONDS each (default 600)"
	@echo "make bench  - criterion benchmarks (signature + parse + split)"
	@echo "make build  - release build of every function for Lambda (arm64)"
	@echo "make deploy - build, then sam deploy (guided the first time; infra/samconfig.toml)"
	@echo "make redrive ARGS=--dry-run - parked bodies by reason; without --dry-run, move them back to the queue"
	@echo "make replay FROM=... [TO=...] [TENANT=...] [TARGET=live|fresh] [DRY_RUN=1] - archived bodies through the processor again"
	@echo "make recount [TENANT=...] [CAMPAIGN=...] [ARGS=--repair] - campaign counters against their messages"

# uv (from PyPI, pinned in infra/local/uv-requirements.txt) installs both environments in about
# 15 s, where pip took over 2 minutes on a fresh machine.
UV := $(VENV)/bin/uv
$(UV): infra/local/uv-requirements.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/local/uv-requirements.txt
	touch $@

$(STAMP): infra/local/requirements.txt $(UV)
	$(UV) pip install --quiet --python $(VENV)/bin/python -r infra/local/requirements.txt
	touch $@

$(EMULATOR_STAMP): infra/local/emulator-requirements.txt $(UV)
	$(UV) venv --quiet --allow-existing .venv-emulator
	$(UV) pip install --quiet --python .venv-emulator/bin/python -r infra/local/emulator-requirements.txt
	touch $@

dev: $(STAMP) $(EMULATOR_STAMP)
	scripts/local-stack scripts/dev-stack

watch: $(STAMP) $(EMULATOR_STAMP)
	scripts/local-stack scripts/dev-watch

# Every check, each stage timed (scripts/test-all: what overlaps and why).
test:
	scripts/test-all

# The deployed webhook (release) under concurrent signed POSTs: requests/s, p50/p95/p99, errors,
# every body on the queue exactly once. LOAD_REQUESTS, LOAD_CONCURRENCY, LOAD_MAX_SECONDS.
load: $(STAMP) $(EMULATOR_STAMP)
	LOCAL_STACK_PROFILE=release scripts/local-stack cargo run --release -p pipeline-tests --bin load

# Parked webhook bodies back to the main queue after a fix (`--dry-run` counts them by reason and
# moves nothing; `--limit N`). Queues from WEBHOOK_DLQ_URL / WEBHOOK_QUEUE_URL (the stack's
# WebhookDeadLetterQueueUrl / WebhookQueueUrl outputs), or from .local/stack.env while `make dev`
# runs the local stack.
redrive:
	set -a; if [ -z "$$WEBHOOK_DLQ_URL" ] && [ -f .local/stack.env ]; then . .local/stack.env; fi; set +a; \
	cargo run --quiet -p redrive -- $(ARGS)

# Archived webhook bodies back through the processor's path (docs/operations.md, "Archive and
# replay"): FROM=… [TO=…] [TENANT=…] [TARGET=live|fresh (FRESH_TABLE_NAME)] [DRY_RUN=1].
# ARCHIVE_BUCKET_NAME, TABLE_NAME, WEBHOOK_DLQ_URL: the stack's, or .local/stack.env under `make dev`.
replay:
	set -a; if [ -z "$$ARCHIVE_BUCKET_NAME" ] && [ -f .local/stack.env ]; then . .local/stack.env; fi; set +a; \
	cargo run --quiet -p replay

# Campaign counters recomputed from their messages, drift printed; ARGS=--repair corrects it
# (audited). [TENANT=…] [CAMPAIGN=…]; TABLE_NAME, or .local/stack.env under `make dev`.
recount:
	set -a; if [ -z "$$TABLE_NAME" ] && [ -f .local/stack.env ]; then . .local/stack.env; fi; set +a; \
	cargo run --quiet -p recount -- $(ARGS)

# Moves a deployed table's campaigns and messages from before gsi2 to it (docs/operations.md, "Migrating a
# deployed table"); ARGS=--dry-run counts them. TABLE_NAME, or .local/stack.env under `make dev`.
migrate-index:
	set -a; if [ -z "$$TABLE_NAME" ] && [ -f .local/stack.env ]; then . .local/stack.env; fi; set +a; \
	cargo run --quiet -p migrate-index -- $(ARGS)

# 5,000 statuses (FAULT_STATUSES) through webhook -> queue -> processor at 0, 5 and 20 % of
# DynamoDB and SQS requests faulted: the three tables side by side, equal or it fails.
faults: $(STAMP) $(EMULATOR_STAMP)
	scripts/local-stack cargo run -p pipeline-tests --bin faults

# Every fuzz target under libFuzzer for FUZZ_SECONDS each (default 600): executions, crashes.
fuzz:
	scripts/fuzz

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-template: $(STAMP)
	AWS_DEFAULT_REGION=us-east-1 sam validate --lint -t $(TEMPLATE)
	cfn-lint $(TEMPLATE)
	$(VENV)/bin/python infra/tests/least_privilege_test.py
	$(VENV)/bin/python infra/tests/operations_test.py

bench:
	cargo bench -p shared --bench ingest

# What a status costs on AWS and how hot its keys run: the standard workload through the real
# webhook, processor and counters code on the local stack, every request recorded and put
# through the capacity model (tools/capacity) with the indexes of infra/template.yaml.
# CAPACITY_MESSAGES (default 100000) sizes the big campaign. Report: .local/capacity.md.
# (The binary scripts/local-stack built with the workspace: `cargo run -p` would resolve other
# features and rebuild.)
# The functions' stdout (their EMF lines) goes to a file, whose size the model counts as logs.
capacity: $(STAMP) $(EMULATOR_STAMP)
	scripts/local-stack sh -c 'target/debug/capacity > .local/capacity-stdout.log'
	@cat .local/capacity.md

# Benchmarks deploy release builds of the functions.
bench-processor: $(STAMP) $(EMULATOR_STAMP)
	LOCAL_STACK_PROFILE=release scripts/local-stack cargo run --release -p pipeline-tests --bin processor-bench

bench-realtime: $(STAMP) $(EMULATOR_STAMP)
	LOCAL_STACK_PROFILE=release scripts/local-stack cargo run --release -p pipeline-tests --bin realtime-bench

# One SSE stream for 10 minutes (SOAK_SECONDS): its process's memory, sampled every 30 s.
bench-sse: $(STAMP) $(EMULATOR_STAMP)
	scripts/local-stack scripts/sse-soak

bench-api: $(STAMP) $(EMULATOR_STAMP)
	LOCAL_STACK_PROFILE=release scripts/local-stack cargo run --release -p pipeline-tests --bin api-bench

# Lambda runs the functions on arm64 (Graviton): the Rust target comes from rustup, and
# cargo-lambda cross-links with zig (ziglang, pinned in infra/local/requirements.txt).
ARM64_TARGET := aarch64-unknown-linux-gnu
FUNCTIONS := $(notdir $(wildcard functions/*))
$(VENV)/.arm64: $(STAMP)
	rustup target list --installed | grep -qx $(ARM64_TARGET) || rustup target add $(ARM64_TARGET)
	touch $@

# Every function, release, into target/lambda/<function>/bootstrap (the template's CodeUri).
build: $(VENV)/.arm64
	scripts/build-dashboard
	cargo lambda build --release --arm64 $(addprefix -p ,$(FUNCTIONS))

# The same toolchain on one function, unoptimised, into a folder of its own (make test runs it,
# so the arm64 build cannot rot): the target, zig, aws-lc's C cross-build, the link.
arm64-check: $(VENV)/.arm64
	cargo lambda build --arm64 -p webhook --lambda-dir target/lambda-arm64-check
	@# ELF e_machine (offset 18, little-endian) 0x00b7 is AArch64.
	@test "$$(od -An -tx1 -j18 -N2 target/lambda-arm64-check/webhook/bootstrap | tr -d ' ')" = b700 \
	  && echo "arm64 build: target/lambda-arm64-check/webhook/bootstrap is an AArch64 ELF"

# sam deploy with infra/samconfig.toml (passed by absolute path: sam resolves a relative one against
# the template's directory). Guided while the account and region have no deployed stack of the
# configured name (`sam list stack-outputs` says it does not exist or has no outputs): that run
# saves the region and parameters into infra/samconfig.toml, and later runs use them and only ask
# to confirm the change set. Any other failure of the check (credentials, network) stops here.
# ARGS go to sam deploy, e.g. ARGS="--parameter-overrides MetaSecretVersionId=<id>".
SAMCONFIG := $(CURDIR)/infra/samconfig.toml
deploy: build lint-template
	@stack=$$($(VENV)/bin/python -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["default"]["deploy"]["parameters"]["stack_name"])' $(SAMCONFIG)); \
	if check=$$(sam list stack-outputs --stack-name "$$stack" --config-file $(SAMCONFIG) 2>&1); then \
	  echo "deploy: stack $$stack is deployed; sam deploy with $(SAMCONFIG)"; \
	  sam deploy -t $(TEMPLATE) --config-file $(SAMCONFIG) $(ARGS); \
	elif grep -q "not exist" <<<"$$check"; then \
	  echo "deploy: no deployed stack $$stack yet: sam deploy --guided (answers are saved to infra/samconfig.toml)"; \
	  sam deploy --guided -t $(TEMPLATE) --config-file $(SAMCONFIG) $(ARGS); \
	else \
	  echo "$$check" >&2; echo "deploy: could not tell whether stack $$stack exists (AWS credentials? region?)" >&2; exit 1; \
	fi

# Every function's init, first invoke, peak RSS and zipped size next to a bare lambda_runtime
# binary, in one run (release builds for this machine, against the local stack). COLD, WARM,
# COMPARE_DIR (another build's binaries, measured side by side).
coldstart: $(STAMP) $(EMULATOR_STAMP)
	cargo build --release -p coldstart-baseline
	LOCAL_STACK_PROFILE=release scripts/local-stack scripts/coldstart

clean:
	cargo clean
	rm -rf $(VENV) .venv-emulator .local
