#!/usr/bin/env bash
# Side-by-side echo comparison: our ws-tokio echo server against tokio-tungstenite and
# fastwebsockets, in interleaved rounds, plus memory per idle connection for those and for the
# ws-async-std and ws-blocking echo servers. See README.md.
#
#   benches/compare.sh                  # full run, about 6 minutes
#   ROUNDS=1 SECS=2 IDLE_CONNS=1000 benches/compare.sh   # a quick look
#
# Settings (environment):
#   ROUNDS=3         rounds; each round runs every server once per cell (A B C A B C ...)
#   SECS=5           measured seconds per run        WARMUP=1   warm-up seconds per run
#   CELLS="100x20 100x1024 200x16384 10x1048576"     connections x payload bytes ("": none);
#                    CONNSxBYTES/DEPTH pipelines: each connection writes DEPTH messages at once and
#                    waits for all their echoes (e.g. "100x20/16"; ws-load --depth)
#   SETUP_CELLS=""   connection setup rate, WORKERSxBYTES (e.g. "10x20"): each worker opens a
#                    connection, echoes one message, closes it and starts over (ws-load --setup)
#   THREADS=1        server runtime threads (all servers alike; 1 = current-thread runtime)
#   LOAD_THREADS=1   ws-load runtime threads
#   TEXT=0           1: text messages (validated by the servers) instead of binary
#   IDLE_CONNS=10000 idle connections per server (0 skips the idle test)
#   IDLE_CONNS_BLOCKING=$IDLE_CONNS   idle connections for ws-blocking (a thread each: lower it
#                    where threads are scarce; see README)
#   IDLE_AT=0.1,2    seconds after the connections are idle at which the server's RSS is read
#   IDLE_MMAP_THRESHOLD=4096   the idle test runs again with MALLOC_MMAP_THRESHOLD_ set to this
#                    in the servers' environment (glibc then maps every allocation this large on
#                    its own and unmaps it when freed, so a released buffer leaves RSS); 0: once
#   SERVERS="ours fastwebsockets tungstenite"             the echo matrix; also "ws-server"
#                    (benches' ws-server-echo: a ws-server route echoing with conn.send),
#                    "ws-server-nk" (the same without keepalive pings), "ws-uring" (ws-uring's
#                    io_uring echo_server example, THREADS rings), "raw" (the ceiling: a tokio TCP
#                    server echoing bytes unchanged after the upgrade, loaded with ws-load --raw)
#                    and "base"
#   RATIOS_OF="ours" the servers the report gives ratios for, each against every other server
#                    (e.g. "ours ws-server")
#   BASE_BIN=FILE    a prebuilt ws-tokio echo_server run as server "base" (add it to SERVERS):
#                    an earlier commit's, for ratios ours / base measured in the same run
#   IDLE_SERVERS="$SERVERS ws-async-std ws-blocking"      the idle test (without raw)
#   OURS=auto        auto: the ws-tokio echo_server example if it exists, else ws-proto's
#                    blocking example; or "ws-tokio" / "ws-proto"
#   OUT=/tmp/ws-compare-DATE   where rows, logs and report.md go
#   PREBUILT=DIR     reuse the binaries of an earlier run (DIR = its $OUT/bin), no build
#   CARGO_TARGET_DIR           honoured (default: target/ in the workspace)
#   PORT_OFFSET=0    added to the servers' ports (9411-9420 on 127.0.0.1): another number for a
#                    second comparison running at the same time
set -euo pipefail

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
WARMUP=${WARMUP:-1}
CELLS=${CELLS-"100x20 100x1024 200x16384 10x1048576"}
SETUP_CELLS=${SETUP_CELLS:-}
RATIOS_OF=${RATIOS_OF:-ours}
THREADS=${THREADS:-1}
LOAD_THREADS=${LOAD_THREADS:-1}
TEXT=${TEXT:-0}
IDLE_CONNS=${IDLE_CONNS:-10000}
IDLE_CONNS_BLOCKING=${IDLE_CONNS_BLOCKING:-$IDLE_CONNS}
IDLE_AT=${IDLE_AT:-0.1,2}
IDLE_MMAP_THRESHOLD=${IDLE_MMAP_THRESHOLD:-4096}
SERVERS=${SERVERS:-"ours fastwebsockets tungstenite"}
# The raw ceiling speaks no WebSocket after the upgrade: it has no place in the idle test.
IDLE_SERVERS=${IDLE_SERVERS:-"${SERVERS/raw/} ws-async-std ws-blocking"}
OURS=${OURS:-auto}
OUT=${OUT:-/tmp/ws-compare-$(date +%Y%m%d-%H%M%S)}

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
mkdir -p "$OUT/bin" "$OUT/logs"
ROWS=$OUT/results.tsv
: >"$ROWS"

# shellcheck source=benches/common.sh
source "$ROOT/benches/common.sh"

ADAPTER_SERVERS=""
if [[ $IDLE_CONNS -gt 0 ]]; then
    for adapter in ws-async-std ws-blocking; do
        [[ " $IDLE_SERVERS " == *" $adapter "* ]] && ADAPTER_SERVERS+=" $adapter"
    done
fi
build_all

# --- echo matrix -------------------------------------------------------------------------
text_flag=()
[[ $TEXT == 1 ]] && text_flag=(--text)
echo -e "# kind\tcell\tserver\tround\tmsgs_per_sec\tmsgs_per_cpu_s\tp99_us" >>"$ROWS"
# Setup cells are named setup:WORKERSxBYTES in the rows and the report.
for cell in $CELLS ${SETUP_CELLS:+$(printf 'setup:%s ' $SETUP_CELLS)}; do
    mode=()
    [[ $cell == setup:* ]] && mode=(--setup)
    shape=${cell#setup:}
    if [[ $shape == */* ]]; then
        mode+=(--depth "${shape#*/}")
        shape=${shape%/*}
    fi
    conns=${shape%x*}
    size=${shape#*x}
    for round in $(seq "$ROUNDS"); do
        for server in $SERVERS; do
            # The raw ceiling has no connection setup to compare (it does not close politely).
            [[ $server == raw && $cell == setup:* ]] && continue
            raw=()
            [[ $server == raw ]] && raw=(--raw)
            start_server "$server"
            logf=$OUT/logs/load-${cell//[:\/]/-}-$server-$round.log
            if "$OUT/bin/ws-load" --url "ws://127.0.0.1:$(port_of "$server")/" --conns "$conns" \
                --size "$size" --secs "$SECS" --warmup "$WARMUP" --threads "$LOAD_THREADS" \
                --server-pid "$SERVER_PID" "${mode[@]}" "${raw[@]}" "${text_flag[@]}" >"$logf" 2>&1; then
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

LOAD_ECHO_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- memory per idle connection ----------------------------------------------------------
# ws-load reads the server's /proc status before connecting and at each of IDLE_AT seconds after
# the last connection is open (handshake) or the last echo of the burst is back (one-echo).
# idle_run SERVER MODE MALLOC: one idle run; appends a row per sample. Uses $extra and $hold.
idle_run() {
    local server=$1 mode=$2 malloc=$3 conns=$IDLE_CONNS label=$1
    [[ $server == ws-blocking ]] && conns=$IDLE_CONNS_BLOCKING
    [[ $malloc == mmap ]] && label="$server (mmap >= $IDLE_MMAP_THRESHOLD B)"
    start_server "$server"
    sleep 0.3
    local logf=$OUT/logs/idle-$mode-$server-$malloc.log
    if "$OUT/bin/ws-load" --url "ws://127.0.0.1:$(port_of "$server")/" --idle --conns "$conns" \
        --secs "$hold" --server-pid "$SERVER_PID" --sample-at "$IDLE_AT" "${extra[@]}" \
        >"$logf" 2>&1 && grep -q '^IDLE' "$logf"; then
        local line at per_conn threads kstack
        while read -r line; do
            at=$(field at_s "$line")
            per_conn=$(field bytes_per_conn "$line")
            threads=$(field threads "$line")
            kstack=$(field kernel_stack_bytes_per_conn "$line")
            log "idle $mode +${at}s $label ($conns): $per_conn B of RSS per connection," \
                "$threads threads, kernel stacks $kstack B per connection"
            echo -e "idle\t$mode\t$at\t$label\t$conns\t$per_conn\t$threads\t$kstack" >>"$ROWS"
        done < <(grep '^IDLE' "$logf")
    else
        log "idle $mode $label: FAILED ($(tail -1 "$logf"))"
        echo -e "idle\t$mode\tnan\t$label\t$conns\tnan\tnan\tnan" >>"$ROWS"
    fi
    stop_server
}

if [[ $IDLE_CONNS -gt 0 ]]; then
    most=$((IDLE_CONNS > IDLE_CONNS_BLOCKING ? IDLE_CONNS : IDLE_CONNS_BLOCKING))
    want=$((most + 1024))
    ulimit -n "$want" 2>/dev/null || ulimit -n "$(ulimit -Hn)"
    if [[ $(ulimit -n) -lt $want ]]; then
        IDLE_CONNS=$(($(ulimit -n) - 1024))
        IDLE_CONNS_BLOCKING=$((IDLE_CONNS_BLOCKING < IDLE_CONNS ? IDLE_CONNS_BLOCKING : IDLE_CONNS))
        log "fd limit $(ulimit -n): idle test reduced to $IDLE_CONNS connections"
    fi
    # Hold the connections one second past the last sample.
    hold=$(awk -v at="$IDLE_AT" 'BEGIN { n = split(at, t, ","); m = 0
        for (i = 1; i <= n; i++) if (t[i] + 0 > m) m = t[i] + 0; print m + 1 }')
    echo -e "# kind\tmode\tat_s\tserver\tconns\trss_bytes_per_conn\tthreads\tkernel_stack_bytes_per_conn" >>"$ROWS"
    mallocs=(default)
    [[ $IDLE_MMAP_THRESHOLD -gt 0 ]] && mallocs+=(mmap)
    for malloc in "${mallocs[@]}"; do
        SERVER_ENV=""
        [[ $malloc == mmap ]] && SERVER_ENV="MALLOC_MMAP_THRESHOLD_=$IDLE_MMAP_THRESHOLD"
        for mode in handshake one-echo; do
            extra=()
            [[ $mode == one-echo ]] && extra=(--echo-first --size 20)
            for server in $IDLE_SERVERS; do
                idle_run "$server" "$mode" "$malloc"
            done
        done
    done
    SERVER_ENV=""
fi

# --- report ------------------------------------------------------------------------------
{
    echo "Measured $(date -u +%Y-%m-%d) on $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'),"
    echo "$(nproc) cores, Linux $(uname -r); ours = $OURS echo_server at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')."
    echo "Settings: ROUNDS=$ROUNDS SECS=$SECS WARMUP=$WARMUP THREADS=$THREADS LOAD_THREADS=$LOAD_THREADS TEXT=$TEXT SETUP_CELLS=\"$SETUP_CELLS\" IDLE_CONNS=$IDLE_CONNS IDLE_CONNS_BLOCKING=$IDLE_CONNS_BLOCKING IDLE_AT=$IDLE_AT."
    echo "Load average (1, 5, 15 min): $LOAD_START at the start, $LOAD_ECHO_END after the echo matrix," \
        "$(cut -d' ' -f1-3 /proc/loadavg) at the end (a thread per idle ws-blocking connection counts)."
    echo
    # shellcheck disable=SC2086 # RATIOS_OF is a list of server names
    "$OUT/bin/compare-report" "$ROWS" $RATIOS_OF
} >"$OUT/report.md"
cat "$OUT/report.md"
