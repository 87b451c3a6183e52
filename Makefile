# mercato — every target sets up what it needs on a fresh Debian machine, and reuses it after.
#   make demo      the main job on the bundled marketplace data
#   make test      format + lint checks, all Rust tests (with libtorch), the Python package, pytest
#   make develop   build and install the Python package into .venv
#   make bench     criterion benchmarks
#   make fuzz      every fuzz target for FUZZ_RUNS executions each (see fuzz/README.md)
#   make msrv      the crates a Rust service links, checked with the minimum Rust version

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
STAMP := $(VENV)/.mercato-ready
# torch-sys finds libtorch in the venv's torch wheel: it runs `python` from VIRTUAL_ENV.
export VIRTUAL_ENV := $(VENV)
export PATH := $(VENV)/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
FASHION_DIR := /usr/share/datasets/fashion-mnist
# Each package with a `torch` feature turns it on (they forward to mercato/torch).
# Exported: python/tests/test_examples.py builds the Rust examples with the same packages and
# features as `cargo test --workspace`, so it finds them compiled instead of building the
# core again with other features.
export MERCATO_CARGO_FEATURES := mercato/torch,mercato-cli/torch,mercato-benches/torch,mercato-serve/torch
CARGO_FEATURES := --features $(MERCATO_CARGO_FEATURES)

.PHONY: help demo test develop bench venv data java rust-test py-test lint msrv fuzz

help:
	@echo "make demo | make test | make develop | make bench | make fuzz | make msrv"

# The Python environment: torch (libtorch for tch), numpy/scipy/pandas, maturin, pytest, ruff.
$(STAMP): python/requirements-dev.txt
	@command -v python3 >/dev/null || { echo "python3 is required (apt-get install -y python3 python3-venv)"; exit 1; }
	@test -x $(VENV)/bin/python || { echo "== creating $(VENV)"; python3 -m venv $(VENV); }
	@echo "== installing Python requirements into $(VENV) (torch is ~4.7 GB the first time)"
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r python/requirements-dev.txt
	@touch $@

venv: $(STAMP)

# Fashion-MNIST from Debian, for the image classifier's demo and tests. Optional elsewhere.
data:
	@if [ -d $(FASHION_DIR) ]; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "note: no apt-get here; skipping Fashion-MNIST (vision tests and demo step will say so)"; exit 0; fi; \
	SUDO=""; if [ "$$(id -u)" != 0 ]; then if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else echo "note: not root and no sudo; skipping Fashion-MNIST (apt-get install -y dataset-fashion-mnist)"; exit 0; fi; fi; \
	echo "== installing dataset-fashion-mnist"; \
	$$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null 2>&1 || { echo "== apt-get update (package lists missing)"; $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q dataset-fashion-mnist >/dev/null; } || echo "note: could not install dataset-fashion-mnist; vision data steps will be skipped"

# Java for PySpark (python/tests/test_spark.py), from Debian when absent.
java:
	@if command -v java >/dev/null; then exit 0; fi; \
	if ! command -v apt-get >/dev/null; then echo "note: no java and no apt-get here; the Spark tests will be skipped"; exit 0; fi; \
	SUDO=""; if [ "$$(id -u)" != 0 ]; then if sudo -n true 2>/dev/null; then SUDO="sudo -n"; else echo "note: not root and no sudo; skipping Java (apt-get install -y openjdk-17-jre-headless)"; exit 0; fi; fi; \
	echo "== installing openjdk-17-jre-headless (for PySpark)"; \
	$$SUDO apt-get install -y -q openjdk-17-jre-headless >/dev/null 2>&1 || { echo "== apt-get update (package lists missing)"; $$SUDO apt-get update -q >/dev/null && $$SUDO apt-get install -y -q openjdk-17-jre-headless >/dev/null; } || echo "note: could not install openjdk-17-jre-headless; the Spark tests will be skipped"

develop: $(STAMP)
	@echo "== building the Python package (maturin, release) into $(VENV)"
	maturin develop --release --quiet
	@if [ -f crates/mercato-vision-py/pyproject.toml ]; then \
	  echo "== building the vision extension (libtorch)"; \
	  maturin develop --release --quiet -m crates/mercato-vision-py/Cargo.toml; fi

lint: $(STAMP)
	cargo fmt --all --check
	cargo clippy --workspace --all-targets $(CARGO_FEATURES) -- -D warnings
	ruff check $(wildcard python benches/compare benches/compat examples)

# `rust-version` in Cargo.toml is a promise to services pinned to an older compiler: check
# the core, the server and the CLI (without libtorch) with exactly that toolchain, in its
# own target folder so the main build is not invalidated; and the core as a service links it,
# without its default features (data-set formats, progress bars).
MSRV := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
msrv:
	@command -v rustup >/dev/null || { echo "make msrv needs rustup to install Rust $(MSRV) (https://rustup.rs)"; exit 1; }
	@rustup run $(MSRV) rustc --version >/dev/null 2>&1 || { echo "== installing Rust $(MSRV) (minimal profile)"; rustup toolchain install $(MSRV) --profile minimal --no-self-update; }
	CARGO_TARGET_DIR=target/msrv cargo +$(MSRV) check --locked --all-targets -p mercato -p mercato-serve -p mercato-cli
	CARGO_TARGET_DIR=target/msrv cargo +$(MSRV) check --locked --lib -p mercato --no-default-features

rust-test: $(STAMP) data
	cargo test --workspace $(CARGO_FEATURES)

py-test: develop data java
	python -m pytest -q --durations=10 python/tests

test: lint msrv rust-test py-test

demo: $(STAMP) data
	cargo run --release -q -p mercato-cli --features torch -- demo

bench: $(STAMP) data
	cargo bench -p mercato-benches --features torch

# Coverage-guided fuzzing (libFuzzer, stable toolchain): each target runs FUZZ_RUNS inputs,
# one after another, from the committed seeds plus the corpus it grew before. A crash or a
# refused allocation (-malloc_limit_mb) stops the target and leaves the input in
# fuzz/artifacts/<target>/; turn it into a regression test. No Python venv needed.
FUZZ_RUNS ?= 1000000
FUZZ_TARGETS ?= triples movielens lastfm anomaly_csv idx image_decode persist model_recommend model_fraud \
  model_hybrid model_regression model_any
FUZZ_BIN = fuzz/target/$$(rustc -vV | sed -n 's/^host: //p')/release

fuzz:
	fuzz/build.sh
	@for t in $(FUZZ_TARGETS); do \
	  mkdir -p fuzz/corpus/$$t fuzz/artifacts/$$t fuzz/seeds/$$t; \
	  echo "== fuzz $$t: $(FUZZ_RUNS) runs (log: fuzz/artifacts/$$t/log.txt)"; \
	  $(FUZZ_BIN)/$$t -runs=$(FUZZ_RUNS) -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=fuzz/artifacts/$$t/ fuzz/corpus/$$t fuzz/seeds/$$t > fuzz/artifacts/$$t/log.txt 2>&1 \
	    || { tail -n 30 fuzz/artifacts/$$t/log.txt; echo "== fuzz $$t FOUND A CRASH: fuzz/artifacts/$$t/"; exit 1; }; \
	  grep -E "^stat::(number_of_executed_units|peak_rss_mb)" fuzz/artifacts/$$t/log.txt; \
	done
