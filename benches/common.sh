# Shared by compare.sh and profile.sh: building the servers and starting / stopping them.
# Expects ROOT, OUT, OURS and THREADS to be set; sets SERVER_PID.

cd "$ROOT"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SERVER_PID=""
log() { echo "[benches] $*" >&2; }

# Builds ws-load, the report tool, the peer servers and our echo server into $OUT/bin.
# PREBUILT=DIR reuses the binaries of an earlier run's $OUT/bin instead (OURS must then name
# what DIR/ours is).
build_all() {
    mkdir -p "$OUT/bin" "$OUT/logs"
    if [[ -n ${PREBUILT:-} ]]; then
        [[ $PREBUILT -ef $OUT/bin ]] || cp "$PREBUILT"/* "$OUT/bin/"
        [[ $OURS == auto ]] && OURS=ws-tokio
        log "reusing binaries from $PREBUILT (ours = $OURS); output in $OUT"
        return
    fi
    log "building (release)"
    cargo build --release -q -p benches --bins
    for b in ws-load compare-report fastwebsockets-echo tungstenite-echo; do
        cp "$TARGET/release/$b" "$OUT/bin/"
    done
    if [[ $OURS == auto ]]; then
        if [[ -f ws-tokio/examples/echo_server.rs ]]; then OURS=ws-tokio; else OURS=ws-proto; fi
    fi
    # Both examples are called echo_server: build the one we want, then copy it away.
    cargo build --release -q -p "$OURS" --example echo_server
    cp "$TARGET/release/examples/echo_server" "$OUT/bin/ours"
    log "ours = $OURS echo_server example; output in $OUT"
}

# field NAME "RESULT a=1 b=2": the value of NAME in a ws-load RESULT line.
field() {
    tr ' ' '\n' <<<"$2" | sed -n "s/^$1=//p"
}

port_of() {
    case $1 in ours) echo 9411 ;; tungstenite) echo 9412 ;; fastwebsockets) echo 9413 ;; esac
}

# Starts server $1; sets SERVER_PID. Waits until it accepts connections.
start_server() {
    local name=$1 port
    port=$(port_of "$name")
    local args=(--addr "127.0.0.1:$port")
    # ws-proto's blocking example runs a thread per connection and has no --threads.
    if [[ $name != ours || $OURS == ws-tokio ]]; then args+=(--threads "$THREADS"); fi
    local bin
    case $name in
        ours) bin=$OUT/bin/ours ;;
        tungstenite) bin=$OUT/bin/tungstenite-echo ;;
        fastwebsockets) bin=$OUT/bin/fastwebsockets-echo ;;
    esac
    "$bin" "${args[@]}" >>"$OUT/logs/$name.log" 2>&1 &
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
