#!/usr/bin/env bash
# Short fuzzing run of every target, for CI: fails on any crash or broken invariant.
#
#   fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 30)
#
# Needs a C++ compiler (libFuzzer is built from source). Works on the stable toolchain:
# cargo-fuzz needs nightly-only flags, which RUSTC_BOOTSTRAP=1 unlocks.
set -euo pipefail

cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-30}"
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

targets=$(cargo fuzz list)
cargo fuzz build

status=0
for t in $targets; do
    # New inputs go to a scratch directory (git-ignored); the committed seeds are read only.
    mkdir -p "runs/smoke/$t" "artifacts/$t"
    echo "== $t (${SECONDS_PER_TARGET}s)"
    if ! cargo fuzz run "$t" "runs/smoke/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"runs/smoke/$t.log" 2>&1; then
        echo "!! $t FAILED; last lines of runs/smoke/$t.log:"
        tail -n 40 "runs/smoke/$t.log"
        status=1
    else
        grep -E '^#[0-9]+[[:space:]]+DONE' "runs/smoke/$t.log" | tail -n 1 || true
    fi
done
exit $status
