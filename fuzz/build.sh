#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation on the stable toolchain:
# the flags cargo-fuzz passes with `--sanitizer none` (no -Z flag is needed for them).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# an explicit --target keeps the flags off build scripts (which are not linked with libFuzzer)
exec cargo build --release --bins --target "$(rustc -vV | sed -n "s/^host: //p")" "$@"
