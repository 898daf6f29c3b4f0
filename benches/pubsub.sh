#!/usr/bin/env bash
# Pub/sub fan-out: ws-server (ServerHandle::publish, one frame encoded once for every
# subscriber) against tokio-tungstenite with a tokio broadcast channel, 10 000 subscribers on
# loopback held by one client process (pubsub-load, one thread), in interleaved rounds.
# See README.md ("ws-server").
#
#   benches/pubsub.sh                         # full run, about 5 minutes after the build
#   ROUNDS=1 SECS=2 SUBS=2000 benches/pubsub.sh   # a quick look
#
# Settings (environment):
#   ROUNDS=3        rounds; each round runs every server once per cell (A B A B ...)
#   SUBS=10000      subscribers (lowered to what the fd limit allows)
#   SIZES="32 1024" payload bytes
#   RATES="0 20"    publish rates, messages per second; 0: as fast as the slowest subscriber
#                   keeps up (at most WINDOW messages ahead of it)
#   WINDOW=32       messages the publisher may run ahead of the slowest subscriber
#   SECS=5          measured seconds per run; WARMUP=2 seconds of publishing before that
#   THREADS=1       server runtime threads (1 = current-thread runtime), both servers alike
#   SERVERS="ws-server tungstenite-broadcast"
#   OUT=/tmp/ws-pubsub-DATE   rows, logs and report.md
#   PREBUILT=DIR    reuse the binaries of an earlier run (DIR = its $OUT/bin), no build
#   CARGO_TARGET_DIR          honoured (default: target/ in the workspace)
# Ports 9421-9422 on 127.0.0.1.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SUBS=${SUBS:-10000}
SIZES=${SIZES:-"32 1024"}
RATES=${RATES:-"0 20"}
WINDOW=${WINDOW:-32}
SECS=${SECS:-5}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-1}
SERVERS=${SERVERS:-"ws-server tungstenite-broadcast"}
OUT=${OUT:-/tmp/ws-pubsub-$(date +%Y%m%d-%H%M%S)}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT/bin" "$OUT/logs"
ROWS=$OUT/results.tsv
: >"$ROWS"
OURS=ws-tokio # common.sh expects it; unused here

# shellcheck source=benches/common.sh
source "$ROOT/benches/common.sh"

if [[ -n ${PREBUILT:-} ]]; then
    [[ $PREBUILT -ef $OUT/bin ]] || cp "$PREBUILT"/* "$OUT/bin/"
    log "reusing binaries from $PREBUILT; output in $OUT"
else
    log "building (release)"
    cargo build --release -q -p benches --bins
    for b in pubsub-load compare-report ws-server-pubsub tungstenite-pubsub; do
        cp "$TARGET/release/$b" "$OUT/bin/"
    done
    log "output in $OUT"
fi

want=$((SUBS + 1024))
ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [[ $(ulimit -n) -lt $want ]]; then
    SUBS=$(($(ulimit -n) - 1024))
    log "fd limit $(ulimit -n): $SUBS subscribers"
fi

pubsub_port() {
    case $1 in ws-server) echo 9421 ;; tungstenite-broadcast) echo 9422 ;; esac
}

start_pubsub() {
    local name=$1 port bin
    port=$(pubsub_port "$name")
    case $name in
        ws-server) bin=$OUT/bin/ws-server-pubsub ;;
        tungstenite-broadcast) bin=$OUT/bin/tungstenite-pubsub ;;
    esac
    "$bin" --addr "127.0.0.1:$port" --threads "$THREADS" >>"$OUT/logs/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "server $name did not start (see $OUT/logs/$name.log)"
    return 1
}

echo -e "# kind\tcell\tserver\tround\tdelivered_per_sec\tdelivered_per_cpu_s\tp99_fanout_us" >>"$ROWS"
for size in $SIZES; do
    for rate in $RATES; do
        cell="${SUBS}x$size"
        [[ $rate != 0 ]] && cell+="@$rate/s"
        for round in $(seq "$ROUNDS"); do
            for server in $SERVERS; do
                start_pubsub "$server"
                logf=$OUT/logs/pubsub-${cell//\//per}-$server-$round.log
                if "$OUT/bin/pubsub-load" --url "ws://127.0.0.1:$(pubsub_port "$server")" \
                    --subs "$SUBS" --size "$size" --window "$WINDOW" --rate "$rate" \
                    --warmup "$WARMUP" --secs "$SECS" --server-pid "$SERVER_PID" >"$logf" 2>&1; then
                    result=$(grep '^RESULT' "$logf")
                    rate_d=$(field msgs_per_sec "$result")
                    per_cpu=$(field msgs_per_cpu_s "$result")
                    p99=$(field p99_us "$result")
                    log "$cell round $round $server: $rate_d delivered/s, $per_cpu per server CPU-s," \
                        "$(field published_per_sec "$result") msgs/s, fan-out p99 $p99 us," \
                        "client CPU $(field client_cpu_s "$result") s"
                else
                    log "$cell round $round $server: FAILED ($(tail -1 "$logf"))"
                    rate_d=nan per_cpu=nan p99=nan
                fi
                echo -e "echo\t$cell\t$server\t$round\t$rate_d\t$per_cpu\t$p99" >>"$ROWS"
                stop_server
            done
        done
    done
done

{
    echo "Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"
    echo "$(nproc) cores, Linux $(uname -r); at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')."
    echo "Settings: ROUNDS=$ROUNDS SUBS=$SUBS SIZES=\"$SIZES\" RATES=\"$RATES\" WINDOW=$WINDOW SECS=$SECS WARMUP=$WARMUP THREADS=$THREADS."
    echo "Load average (1, 5, 15 min): $LOAD_START at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end."
    echo
    echo "Cells: SUBSCRIBERSxBYTES, @R/s for a fixed publish rate. msgs/s = frames delivered per"
    echo "second (all subscribers), msgs per server CPU-s = frames delivered per server CPU-second,"
    echo "p99 = fan-out time (publish to the last subscriber's receipt), microseconds."
    echo
    "$OUT/bin/compare-report" "$ROWS" ws-server
} >"$OUT/report.md"
cat "$OUT/report.md"
