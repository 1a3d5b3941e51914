#!/usr/bin/env bash
# Strata's whole test suite: installs what the tests need, then formatting, lints and every test.
# CI runs exactly this (.ci/run). Privileged tests (overlay, namespaces) run when we are root and
# print a reason when they skip.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
scripts/deps.sh test

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked --no-fail-fast 2>&1 | tee "${TMPDIR:-/tmp}/strata-test.log"
status=${PIPESTATUS[0]}
passed=$(grep -Eo '^test result: .*' "${TMPDIR:-/tmp}/strata-test.log" | awk '{p+=$4; f+=$6; i+=$8} END {print p" passed, "f" failed, "i" skipped"}')
echo "strata: $passed"
exit "$status"
