#!/usr/bin/env bash
# Long fuzzing campaign, one target at a time (the machine is shared):
#
#   fuzz/longrun.sh TARGET:SECONDS [TARGET:SECONDS ...]
#
# Runs the already built binaries (`cargo fuzz build` first) from a snapshot, one libFuzzer
# process at a time (-jobs=1 -workers=1), in runs/long/TARGET/ (git-ignored). If a run stops
# on a crash, the input is kept in runs/long/TARGET/artifacts/ and fuzzing resumes for the
# rest of the time, so every target gets its full duration. A summary line per target goes
# to runs/long/summary.txt.
set -uo pipefail

cd "$(dirname "$0")"
root=$PWD
bin="$root/runs/long/bin"
mkdir -p "$bin"
cp target/x86_64-unknown-linux-gnu/release/{frame_server,frame_client,handshake_request,handshake_response,conversation,utf8_incremental,mask,differential_frames,inflate} "$bin/"

for spec in "$@"; do
    t=${spec%%:*}
    total=${spec##*:}
    dir="$root/runs/long/$t"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    start=$(date +%s)
    round=0
    while :; do
        left=$((total - ($(date +%s) - start)))
        [ "$left" -gt 5 ] || break
        round=$((round + 1))
        (cd "$dir" && "$bin/$t" corpus "$root/corpus/$t" -jobs=1 -workers=1 \
            -max_total_time="$left" -print_final_stats=1 -artifact_prefix=artifacts/ \
            >"launcher-$round.log" 2>&1)
        cp "$dir/fuzz-0.log" "$dir/round-$round.log" 2>/dev/null || true
    done
    crashes=$(ls "$dir/artifacts" | wc -l)
    last=$(grep -hE '^#[0-9]+' "$dir"/round-*.log | tail -n 1 | cut -c1-120)
    execs=$(grep -h 'stat::number_of_executed_units' "$dir"/round-*.log | awk '{s+=$2} END {print s}')
    echo "$t: ${total}s, rounds $round, executions $execs, artifacts $crashes, last: $last" \
        >>"$root/runs/long/summary.txt"
done
