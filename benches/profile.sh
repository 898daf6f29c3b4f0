#!/usr/bin/env bash
# Where does an echo server spend its CPU under load? Runs one server, drives it with ws-load
# and records it with perf for the measured window, then prints the hottest symbols.
#
#   benches/profile.sh [SERVER] [CELL]      e.g. benches/profile.sh ours 100x20
#
# SERVER: ours (default), fastwebsockets or tungstenite. CELL: CONNSxBYTES (default 100x20).
# Environment: SECS=5 WARMUP=1 THREADS=1 TEXT=0 OURS=auto CALLGRAPH=0 (1: DWARF call graphs,
# for `perf report --children`) TOP=45 OUT=/tmp/ws-profile-DATE PREBUILT=DIR (as in
# compare.sh). Needs perf
# (benches/install-tools.sh installs it). Ports 9411-9413.
set -euo pipefail

SERVER=${1:-ours}
CELL=${2:-100x20}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
THREADS=${THREADS:-1}
TEXT=${TEXT:-0}
OURS=${OURS:-auto}
CALLGRAPH=${CALLGRAPH:-0}
TOP=${TOP:-45}
OUT=${OUT:-/tmp/ws-profile-$(date +%Y%m%d-%H%M%S)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)

# shellcheck source=benches/common.sh
source "$ROOT/benches/common.sh"

command -v perf >/dev/null || { log "perf is missing: run benches/install-tools.sh"; exit 1; }
build_all

conns=${CELL%x*}
size=${CELL#*x}
text_flag=()
[[ $TEXT == 1 ]] && text_flag=(--text)
graph=()
[[ $CALLGRAPH == 1 ]] && graph=(--call-graph dwarf,16384)
data=$OUT/perf-$SERVER-$CELL.data

start_server "$SERVER"
"$OUT/bin/ws-load" --url "ws://127.0.0.1:$(port_of "$SERVER")/" --conns "$conns" --size "$size" \
    --warmup "$WARMUP" --secs "$((SECS + 1))" --server-pid "$SERVER_PID" "${text_flag[@]}" \
    >"$OUT/logs/profile-load.log" 2>&1 &
load_pid=$!
sleep "$WARMUP"
perf record -q -F 1999 "${graph[@]}" -p "$SERVER_PID" -o "$data" -- sleep "$SECS" 2>>"$OUT/logs/perf.log"
wait "$load_pid" || { log "ws-load failed: $(tail -1 "$OUT/logs/profile-load.log")"; exit 1; }
stop_server

report=$OUT/perf-$SERVER-$CELL.txt
{
    grep -E '^(messages/s|round trip|server CPU)' "$OUT/logs/profile-load.log"
    echo
    perf report -i "$data" --no-children --sort dso,symbol --stdio --percent-limit 0.3 2>/dev/null |
        grep -v -e '^#' -e '^$' | head -n "$TOP" || true # head closes the pipe early
} >"$report"
cat "$report"
log "perf data: $data (perf report -i $data)"
