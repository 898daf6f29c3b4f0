#!/usr/bin/env bash
# Short fuzzing run of every target, for CI: fails on any crash or broken invariant, when the
# targets cargo-fuzz knows differ from the list below, and when a target ran fewer inputs than
# the floor below (a target that stalls or stops early has not been fuzzed).
#
#   fuzz/smoke.sh [SECONDS_PER_TARGET]   (default 30)
#
# Needs a C++ compiler (libFuzzer is built from source). Works on the stable toolchain:
# cargo-fuzz needs nightly-only flags, which RUSTC_BOOTSTRAP=1 unlocks.
set -euo pipefail

cd "$(dirname "$0")"
SECONDS_PER_TARGET="${1:-30}"
export RUSTC_BOOTSTRAP=1

# Every target of Cargo.toml, sorted. A target added there (or removed) must be added here
# (or removed) in the same change; fuzz/README.md lists them too.
EXPECTED_TARGETS="conversation
differential_frames
frame_client
frame_server
handshake_request
handshake_response
inflate
mask
utf8_incremental"

# The least inputs a target must execute per second of its run, from libFuzzer's final
# `stat::number_of_executed_units`: 50, so 1 500 in the 30 s CI run. The slowest target,
# inflate, executed 15 497 inputs in 30 s (about 500 a second) on the 2-core development
# machine while other builds ran (fuzz/README.md, "Smoke run"): the floor is a tenth of that,
# so a busy machine passes, and a target that stalls or stops early fails.
MIN_EXECS_PER_SECOND=50

case "$SECONDS_PER_TARGET" in
    '' | *[!0-9]* | 0)
        echo "usage: $0 [SECONDS_PER_TARGET] (a positive whole number)" >&2
        exit 2
        ;;
esac
min_execs=$((MIN_EXECS_PER_SECOND * SECONDS_PER_TARGET))

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

failures=()
fail() {
    echo "!! $1"
    failures+=("$1")
}

listed=$(cargo fuzz list | sort)
expected=$(sort <<<"$EXPECTED_TARGETS")
if [ "$listed" != "$expected" ]; then
    while read -r t; do
        [ -z "$t" ] || fail "$t: expected by smoke.sh, but cargo fuzz list does not have it"
    done < <(comm -13 <(echo "$listed") <(echo "$expected"))
    while read -r t; do
        [ -z "$t" ] || fail "$t: in cargo fuzz list, but smoke.sh does not expect it"
    done < <(comm -23 <(echo "$listed") <(echo "$expected"))
fi

cargo fuzz build

# Every expected target and every listed one, so a target missing from either side is still
# run when it exists (and its absence reported above when it does not).
for t in $(sort -u <(echo "$listed") <(echo "$expected")); do
    if ! grep -qx "$t" <<<"$listed"; then
        continue
    fi
    # New inputs go to a scratch directory (git-ignored); the committed seeds are read only.
    mkdir -p "runs/smoke/$t" "artifacts/$t"
    log="runs/smoke/$t.log"
    echo "== $t (${SECONDS_PER_TARGET}s, at least $min_execs inputs)"
    if ! cargo fuzz run "$t" "runs/smoke/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -print_final_stats=1 >"$log" 2>&1; then
        echo "last lines of $log:"
        tail -n 40 "$log"
        fail "$t: the fuzzer failed (crash, broken invariant or libFuzzer error), see $log"
        continue
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units:[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$log" |
        tail -n 1)
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 || true
    if [ -z "$execs" ]; then
        fail "$t: no stat::number_of_executed_units in $log"
    elif [ "$execs" -lt "$min_execs" ]; then
        fail "$t: executed $execs inputs in ${SECONDS_PER_TARGET}s, fewer than the floor of $min_execs"
    else
        echo "$t: executed $execs inputs"
    fi
done

if [ ${#failures[@]} -gt 0 ]; then
    echo
    echo "fuzz smoke: FAILED (${#failures[@]}):"
    printf '  %s\n' "${failures[@]}"
    exit 1
fi
echo "fuzz smoke: every target of the list ran at least $min_execs inputs without a failure"
