#!/usr/bin/env bash
# ws-server's Redis hub: two servers through Redis against one server with the in-process
# LocalHub (src/bin/redis-pubsub.rs), in interleaved rounds, with a redis-server of its own
# (loopback, no persistence). See README.md ("Redis hub").
#
#   benches/redis-pubsub.sh                      # SUBS="1000 10", 3 rounds of 4 s + 4 s
#   ROUNDS=1 SECS=2 SUBS=100 benches/redis-pubsub.sh
#
# Settings (environment): SUBS="1000 10" subscribers per run (split over both servers with
# Redis), ROUNDS=3, SECS=4 (throughput phase, then as long at RATE), SIZE=64 payload bytes,
# WINDOW=256 messages the publisher may run ahead of the slowest subscriber, RATE=200 messages
# per second for latency, PORT=6399 for redis-server, OUT=/tmp/ws-redis-pubsub-DATE.
# Needs redis-server (conformance/install-redis.sh).
set -euo pipefail

SUBS=${SUBS:-"1000 10"}
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-4}
SIZE=${SIZE:-64}
WINDOW=${WINDOW:-256}
RATE=${RATE:-200}
PORT=${PORT:-6399}
OUT=${OUT:-/tmp/ws-redis-pubsub-$(date +%Y%m%d-%H%M%S)}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT/redis"

command -v redis-server >/dev/null || { echo "redis-server missing: conformance/install-redis.sh" >&2; exit 1; }
cargo build --release --manifest-path "$ROOT/Cargo.toml" -p benches --features redis --bin redis-pubsub
bin=${CARGO_TARGET_DIR:-$ROOT/target}/release/redis-pubsub

redis-server --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --dir "$OUT/redis" \
    --loglevel warning >"$OUT/redis.log" 2>&1 &
redis_pid=$!
trap 'kill "$redis_pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    redis-cli -p "$PORT" ping >/dev/null 2>&1 && break
    sleep 0.1
done

{
    echo "# $(date -u +%FT%TZ) load at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    first=1
    for subs in $SUBS; do
        "$bin" --redis "redis://127.0.0.1:$PORT/" --subs "$subs" --size "$SIZE" --secs "$SECS" \
            --rounds "$ROUNDS" --window "$WINDOW" --rate "$RATE" | { [ $first = 1 ] && cat || tail -n +2; }
        first=0
    done
    echo "# load at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT/results.tsv"
