#!/usr/bin/env bash
# ws-pipe throughput: lines per second from the input FIFO to CLIENTS connected clients
# (standard mode, one pipe message per write of BATCH lines), measured by pipe-load, which holds
# the clients on one thread and writes the lines at most WINDOW ahead of the slowest client, so
# nothing is dropped (pipe-load fails if a line is lost). See README.md ("ws-pipe").
#
#   benches/pipe.sh                              # 3 rounds of 5 s, 1000 clients
#   ROUNDS=1 SECS=2 CLIENTS=200 benches/pipe.sh  # a quick look
#
# Settings (environment): ROUNDS=3, CLIENTS=1000, LINE_BYTES=100, BATCH=40, WINDOW=2000,
# SECS=5, WARMUP=1, OUT=/tmp/ws-pipe-bench-DATE, CARGO_TARGET_DIR (default target/).
# Port 9431 on 127.0.0.1.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
CLIENTS=${CLIENTS:-1000}
LINE_BYTES=${LINE_BYTES:-100}
BATCH=${BATCH:-40}
WINDOW=${WINDOW:-2000}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
OUT=${OUT:-/tmp/ws-pipe-bench-$(date +%Y%m%d-%H%M%S)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PORT=9431
log() { echo "[pipe.sh] $*" >&2; }

mkdir -p "$OUT/bin" "$OUT/logs"
cd "$ROOT"
log "building (release)"
cargo build --release -q -p ws-pipe -p benches --bin ws-pipe --bin pipe-load
cp "$TARGET/release/ws-pipe" "$TARGET/release/pipe-load" "$OUT/bin/"
ulimit -n $((CLIENTS + 1024)) 2>/dev/null || true
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

server_pid=""
stop() { [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; server_pid=""; }
trap stop EXIT

for round in $(seq "$ROUNDS"); do
    rm -f "$OUT/in.fifo" "$OUT/out.fifo"
    "$OUT/bin/ws-pipe" --addr 127.0.0.1 -p "$PORT" --ping-interval 0 \
        --pipein "$OUT/in.fifo" --pipeout "$OUT/out.fifo" >>"$OUT/logs/ws-pipe.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 200); do
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
        sleep 0.05
    done
    logf=$OUT/logs/round-$round.log
    if "$OUT/bin/pipe-load" --url "ws://127.0.0.1:$PORT/" --fifo "$OUT/in.fifo" \
        --clients "$CLIENTS" --line-bytes "$LINE_BYTES" --batch "$BATCH" --window "$WINDOW" \
        --warmup "$WARMUP" --secs "$SECS" --server-pid "$server_pid" >"$logf" 2>&1; then
        log "round $round: $(grep '^RESULT' "$logf")"
    else
        log "round $round: FAILED ($(tail -1 "$logf"))"
    fi
    stop
done
log "load average $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end; logs in $OUT/logs"
