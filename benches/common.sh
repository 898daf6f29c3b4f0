# Shared by compare.sh and profile.sh: building the servers and starting / stopping them.
# Expects ROOT, OUT, OURS and THREADS to be set; sets SERVER_PID. ADAPTER_SERVERS (optional)
# names the other adapters' echo servers to build as well: ws-async-std, ws-blocking. BASE_BIN
# (optional) is a prebuilt ws-tokio echo_server to run as server "base" (e.g. an earlier commit's,
# to measure a change against its parent in the same run).

cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_PID=""
log() { echo "[benches] $*" >&2; }

# Builds ws-load, the report tool, the peer servers and our echo server into $OUT/bin.
# PREBUILT=DIR reuses the binaries of an earlier run's $OUT/bin instead (OURS must then name
# what DIR/ours is).
build_all() {
    mkdir -p "$OUT/bin" "$OUT/logs"
    if [[ -n ${BASE_BIN:-} ]]; then
        cp "$BASE_BIN" "$OUT/bin/base"
    fi
    if [[ -n ${PREBUILT:-} ]]; then
        [[ $PREBUILT -ef $OUT/bin ]] || cp "$PREBUILT"/* "$OUT/bin/"
        [[ $OURS == auto ]] && OURS=ws-tokio
        log "reusing binaries from $PREBUILT (ours = $OURS); output in $OUT"
        return
    fi
    log "building (release)"
    cargo build --release -q -p benches --bins
    for b in ws-load compare-report fastwebsockets-echo tungstenite-echo ws-server-echo raw-echo; do
        cp "$TARGET/release/$b" "$OUT/bin/"
    done
    if [[ $OURS == auto ]]; then
        if [[ -f ws-tokio/examples/echo_server.rs ]]; then OURS=ws-tokio; else OURS=ws-proto; fi
    fi
    # Every adapter's example is called echo_server: build one, then copy it away.
    cargo build --release -q -p "$OURS" --example echo_server
    cp "$TARGET/release/examples/echo_server" "$OUT/bin/ours"
    for adapter in ${ADAPTER_SERVERS:-}; do
        cargo build --release -q -p "$adapter" --example echo_server
        cp "$TARGET/release/examples/echo_server" "$OUT/bin/$adapter-echo"
    done
    # ws-uring's io_uring echo server, when a server list names it.
    if [[ " ${SERVERS:-} ${IDLE_SERVERS:-} " == *" ws-uring "* ]]; then
        cargo build --release -q -p ws-uring --example echo_server
        cp "$TARGET/release/examples/echo_server" "$OUT/bin/ws-uring-echo"
    fi
    log "ours = $OURS echo_server example${ADAPTER_SERVERS:+, also $ADAPTER_SERVERS}; output in $OUT"
}

# field NAME "RESULT a=1 b=2": the value of NAME in a ws-load RESULT line.
field() {
    tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

# The server's port: 9411-9420, moved by PORT_OFFSET (two comparisons on one machine must not
# share ports: start_server would take the other run's server for its own).
port_of() {
    local p
    case $1 in
        ours) p=9411 ;; tungstenite) p=9412 ;; fastwebsockets) p=9413 ;;
        ws-async-std) p=9414 ;; ws-blocking) p=9415 ;; base) p=9416 ;;
        ws-server) p=9417 ;; ws-server-nk) p=9418 ;; ws-uring) p=9419 ;; raw) p=9420 ;;
    esac
    echo $((p + ${PORT_OFFSET:-0}))
}

# Starts server $1 (with the NAME=VALUE pairs of $SERVER_ENV in its environment, if set); sets
# SERVER_PID. Waits until it accepts connections.
start_server() {
    local name=$1 port
    port=$(port_of "$name")
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        log "port $port is taken by another process (another comparison? set PORT_OFFSET)"
        return 1
    fi
    local args=(--addr "127.0.0.1:$port")
    # ws-proto's and ws-blocking's examples run a thread per connection and have no --threads;
    # ws-async-std's runs a smol executor with one worker per core and has none either.
    case $name in
        ours) [[ $OURS == ws-tokio ]] && args+=(--threads "$THREADS") ;;
        tungstenite | fastwebsockets | base | ws-server | ws-uring | raw) args+=(--threads "$THREADS") ;;
        ws-server-nk) args+=(--threads "$THREADS" --ping-interval 0) ;;
    esac
    local bin
    case $name in
        ours) bin=$OUT/bin/ours ;;
        tungstenite) bin=$OUT/bin/tungstenite-echo ;;
        fastwebsockets) bin=$OUT/bin/fastwebsockets-echo ;;
        ws-async-std | ws-blocking) bin=$OUT/bin/$name-echo ;;
        base) bin=$OUT/bin/base ;;
        ws-server | ws-server-nk) bin=$OUT/bin/ws-server-echo ;;
        ws-uring) bin=$OUT/bin/ws-uring-echo ;;
        raw) bin=$OUT/bin/raw-echo ;;
    esac
    # shellcheck disable=SC2086 # SERVER_ENV is a list of NAME=VALUE words
    env ${SERVER_ENV:-} "$bin" "${args[@]}" >>"$OUT/logs/$name.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 200); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    log "server $name did not start (see $OUT/logs/$name.log)"
    return 1
}

stop_server() {
    [[ -n $SERVER_PID ]] || return 0
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
}
trap 'stop_server' EXIT
