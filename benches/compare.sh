#!/usr/bin/env bash
# Side-by-side echo comparison: our ws-tokio echo server against tokio-tungstenite and
# fastwebsockets, in interleaved rounds, plus memory per idle connection. See README.md.
#
#   benches/compare.sh                  # full run, about 6 minutes
#   ROUNDS=1 SECS=2 IDLE_CONNS=1000 benches/compare.sh   # a quick look
#
# Settings (environment):
#   ROUNDS=3         rounds; each round runs every server once per cell (A B C A B C ...)
#   SECS=5           measured seconds per run        WARMUP=1   warm-up seconds per run
#   CELLS="100x20 100x1024 200x16384 10x1048576"     connections x payload bytes
#   THREADS=1        server runtime threads (all servers alike; 1 = current-thread runtime)
#   LOAD_THREADS=1   ws-load runtime threads
#   TEXT=0           1: text messages (validated by the servers) instead of binary
#   IDLE_CONNS=10000 idle connections per server (0 skips the idle test)
#   SERVERS="ours fastwebsockets tungstenite"
#   OURS=auto        auto: the ws-tokio echo_server example if it exists, else ws-proto's
#                    blocking example; or "ws-tokio" / "ws-proto"
#   OUT=/tmp/ws-compare-DATE   where rows, logs and report.md go
#   PREBUILT=DIR     reuse the binaries of an earlier run (DIR = its $OUT/bin), no build
#   CARGO_TARGET_DIR           honoured (default: target/ in the workspace)
# Ports 9411-9413 on 127.0.0.1.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CELLS=${CELLS:-"100x20 100x1024 200x16384 10x1048576"}
THREADS=${THREADS:-1}
LOAD_THREADS=${LOAD_THREADS:-1}
TEXT=${TEXT:-0}
IDLE_CONNS=${IDLE_CONNS:-10000}
SERVERS=${SERVERS:-"ours fastwebsockets tungstenite"}
OURS=${OURS:-auto}
OUT=${OUT:-/tmp/ws-compare-$(date +%Y%m%d-%H%M%S)}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$OUT/bin" "$OUT/logs"
ROWS=$OUT/results.tsv
: >"$ROWS"

# shellcheck source=benches/common.sh
source "$ROOT/benches/common.sh"

build_all

# --- echo matrix -------------------------------------------------------------------------
text_flag=()
[[ $TEXT == 1 ]] && text_flag=(--text)
echo -e "# kind\tcell\tserver\tround\tmsgs_per_sec\tmsgs_per_cpu_s\tp99_us" >>"$ROWS"
for cell in $CELLS; do
    conns=${cell%x*}
    size=${cell#*x}
    for round in $(seq "$ROUNDS"); do
        for server in $SERVERS; do
            start_server "$server"
            logf=$OUT/logs/load-$cell-$server-$round.log
            if "$OUT/bin/ws-load" --url "ws://127.0.0.1:$(port_of "$server")/" --conns "$conns" \
                --size "$size" --secs "$SECS" --warmup "$WARMUP" --threads "$LOAD_THREADS" \
                --server-pid "$SERVER_PID" "${text_flag[@]}" >"$logf" 2>&1; then
                result=$(grep '^RESULT' "$logf")
                rate=$(field msgs_per_sec "$result")
                per_cpu=$(field msgs_per_cpu_s "$result")
                p99=$(field p99_us "$result")
                log "$cell round $round $server: $rate msg/s, $per_cpu msg/CPU-s, p99 $p99 us"
            else
                log "$cell round $round $server: FAILED ($(tail -1 "$logf"))"
                rate=nan per_cpu=nan p99=nan
            fi
            echo -e "echo\t$cell\t$server\t$round\t$rate\t$per_cpu\t$p99" >>"$ROWS"
            stop_server
        done
    done
done

# --- memory per idle connection ----------------------------------------------------------
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }

if [[ $IDLE_CONNS -gt 0 ]]; then
    want=$((IDLE_CONNS + 1024))
    ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    if [[ $(ulimit -n) -lt $want ]]; then
        IDLE_CONNS=$(($(ulimit -n) - 1024))
        log "fd limit $(ulimit -n): idle test reduced to $IDLE_CONNS connections"
    fi
    for mode in handshake one-echo; do
        extra=()
        [[ $mode == one-echo ]] && extra=(--echo-first --size 20)
        for server in $SERVERS; do
            start_server "$server"
            sleep 0.3
            before=$(rss_kib "$SERVER_PID")
            logf=$OUT/logs/idle-$mode-$server.log
            : >"$logf"
            "$OUT/bin/ws-load" --url "ws://127.0.0.1:$(port_of "$server")/" --idle --conns "$IDLE_CONNS" \
                --secs 3 "${extra[@]}" >"$logf" 2>&1 &
            load_pid=$!
            ready=0
            for _ in $(seq 1200); do
                if grep -q '^READY' "$logf"; then ready=1; break; fi
                kill -0 "$load_pid" 2>/dev/null || break
                sleep 0.1
            done
            if [[ $ready == 1 ]]; then
                sleep 1
                after=$(rss_kib "$SERVER_PID")
                per_conn=$(awk -v a="$after" -v b="$before" -v n="$IDLE_CONNS" 'BEGIN {printf "%.0f", (a - b) * 1024 / n}')
                log "idle $mode $server: RSS $before -> $after KiB, $per_conn bytes per connection"
            else
                log "idle $mode $server: FAILED ($(tail -1 "$logf"))"
                per_conn=nan
            fi
            wait "$load_pid" || true
            echo -e "idle\t$mode\t$server\t$IDLE_CONNS\t$per_conn" >>"$ROWS"
            stop_server
        done
    done
fi

# --- report ------------------------------------------------------------------------------
{
    echo "Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"
    echo "$(nproc) cores, Linux $(uname -r); ours = $OURS echo_server at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')."
    echo "Settings: ROUNDS=$ROUNDS SECS=$SECS WARMUP=$WARMUP THREADS=$THREADS LOAD_THREADS=$LOAD_THREADS TEXT=$TEXT IDLE_CONNS=$IDLE_CONNS."
    echo
    "$OUT/bin/compare-report" "$ROWS"
} >"$OUT/report.md"
cat "$OUT/report.md"
