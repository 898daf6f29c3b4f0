#!/usr/bin/env bash
# The conformance harness's one entry point.
#
#   conformance/run.sh [all|full|autobahn|autobahn-full|interop|badinput|hostile]   (default: all)
#
#   all            the Autobahn plan "ci", then badinput, hostile and interop (what .ci/run runs)
#   full           the Autobahn plan "full", then badinput, hostile and interop
#   autobahn       the Autobahn plan "ci" only
#   autobahn-full  the Autobahn plan "full" only
#   interop        the bad-input checks, then the interop checks
#   badinput       the bad-input checks only
#   hostile        the hostile-client checks only
#
# Autobahn: installs wstest (install-wstest.sh), builds the adapters' echo_server examples,
#   ws-server's echo example, ws-pipe, ws-uring's echo example, ws-proto's mio_server example
#   and this crate's binaries in release mode, runs the Autobahn|Testsuite on the agents of
#   autobahn/expected.json (3 adapters x server and client role, ws-server's echo route,
#   ws-pipe --echo-mode, the ws-uring io_uring server and client, and ws-proto's mio_server
#   example) following one of its named plans: "full" runs every case on every agent; "ci" runs
#   the compression cases (12.*, 13.*) on ws-tokio-server and ws-async-std-client only and every
#   other case on all eleven agents.
#   Prints one summary line per agent and fails unless every agent reported exactly the cases
#   of its plan, each once, each OK (or INFORMATIONAL for the cases expected.json lists).
#   Reports: conformance/reports/autobahn/index.html.
# Bad input: the kit's raw peer sends protocol violations, a frame over the size limit and
#   random bytes to the three echo_server examples and to interop-server and interop-client on
#   each adapter, as processes over loopback, and checks the exact Close code, then a FIN (and
#   a client's reported error). Needs nothing installed; a few seconds.
#   Logs: conformance/reports/badinput/.
# Hostile: hostile clients (slowloris before and after the handshake, oversized handshakes,
#   random bytes and a TLS ClientHello, Ping and fragment floods, a never-reading peer,
#   half-close and resets mid-frame) against the three echo_server examples and ws-server's
#   echo, each check asserting its bound (close code, time, server RSS, socket count); see
#   src/hostile/mod.rs. Needs nothing installed; about 25 s. Logs: conformance/reports/hostile/.
# Interop: installs the peers (install-peers.sh) and runs the interop checks against Python
#   websockets, Node ws and headless Chromium, then ws-server's chat, ticker and echo examples
#   against Python websockets and Chromium. Logs: conformance/reports/interop/.
#
# Environment: CONFORMANCE_TOOLS (where tools are installed, default conformance/.tools),
# CARGO_TARGET_DIR (default: the workspace's target/), AUTOBAHN_JOBS (wstest processes at once,
# default 4), and for development only AUTOBAHN_CASES (e.g. "1.*,12.1.*") and AUTOBAHN_AGENTS
# (e.g. "ws-tokio-server"), which make a partial run that says so in its summary. With CI set
# the autobahn driver refuses both.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
what=${1:-all}
# plan: the Autobahn plan to run (none: no Autobahn); badinput, hostile, interop: whether to
# run the bad-input checks, the hostile-client checks and the interop checks.
case "$what" in
    all) plan=ci badinput=yes hostile=yes interop=yes ;;
    full) plan=full badinput=yes hostile=yes interop=yes ;;
    autobahn) plan=ci badinput=no hostile=no interop=no ;;
    autobahn-full) plan=full badinput=no hostile=no interop=no ;;
    interop) plan= badinput=yes hostile=no interop=yes ;;
    badinput) plan= badinput=yes hostile=no interop=no ;;
    hostile) plan= badinput=no hostile=yes interop=no ;;
    *)
        echo "usage: $0 [all|full|autobahn|autobahn-full|interop|badinput|hostile]" >&2
        exit 2
        ;;
esac
export CONFORMANCE_TOOLS=${CONFORMANCE_TOOLS:-$here/.tools}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
bin="$CONFORMANCE_TOOLS/bin"
mkdir -p "$bin" "$here/reports"
started=$SECONDS
step() { printf '\n--- conformance: %s (%s, %d s)\n' "$1" "$(date +%T)" $((SECONDS - started)); }

step "building (release)"
cd "$root"
cargo build --release --locked -p conformance --bins
for name in autobahn autobahn-client interop interop-server interop-client badinput hostile; do
    cp "$CARGO_TARGET_DIR/release/$name" "$bin/$name"
done
if [ -n "$plan" ] || [ "$badinput" = yes ] || [ "$hostile" = yes ]; then
    # The three examples share a name, so each is copied away before the next is built.
    for adapter in tokio async-std blocking; do
        cargo build --release --locked -p "ws-$adapter" --example echo_server
        cp "$CARGO_TARGET_DIR/release/examples/echo_server" "$bin/echo_server-$adapter"
    done
    # ws-proto's mio example: the core in one hand-written event loop (agent ws-proto-mio).
    cargo build --release --locked -p ws-proto --example mio_server
    cp "$CARGO_TARGET_DIR/release/examples/mio_server" "$bin/mio_server-ws-proto"
fi
if [ -n "$plan" ] || [ "$interop" = yes ] || [ "$hostile" = yes ]; then
    # ws-server's examples: echo is the Autobahn agent ws-server (as echo-ws-server); all three
    # meet the interop peers.
    cargo build --release --locked -p ws-server --example echo --example chat --example ticker
    for name in echo chat ticker; do
        cp "$CARGO_TARGET_DIR/release/examples/$name" "$bin/$name-ws-server"
    done
    # ws-pipe: the Autobahn agent ws-pipe (in --echo-mode) and the demo page's browser check.
    cargo build --release --locked -p ws-pipe
    cp "$CARGO_TARGET_DIR/release/ws-pipe" "$bin/ws-pipe"
fi
if [ -n "$plan" ] || [ "$hostile" = yes ]; then
    # ws-uring's io_uring echo server: the Autobahn agent ws-uring and a hostile-suite server
    # (Linux only).
    cargo build --release --locked -p ws-uring --example echo_server
    cp "$CARGO_TARGET_DIR/release/examples/echo_server" "$bin/echo_server-uring"
fi

status=0
if [ -n "$plan" ]; then
    step "installing wstest"
    wstest=$("$here/install-wstest.sh")
    step "Autobahn|Testsuite, plan $plan"
    args=(--plan "$plan" --wstest "$wstest" --bin-dir "$bin" --spec-dir "$here/autobahn" --out "$here/reports/autobahn"
        --jobs "${AUTOBAHN_JOBS:-4}")
    [ -z "${AUTOBAHN_CASES:-}" ] || args+=(--cases "$AUTOBAHN_CASES")
    [ -z "${AUTOBAHN_AGENTS:-}" ] || args+=(--agents "$AUTOBAHN_AGENTS")
    "$bin/autobahn" "${args[@]}" || status=1
fi
if [ "$badinput" = yes ]; then
    step "bad input"
    "$bin/badinput" --bin-dir "$bin" --out "$here/reports/badinput" || status=1
fi
if [ "$hostile" = yes ]; then
    step "hostile clients"
    "$bin/hostile" --bin-dir "$bin" --out "$here/reports/hostile" || status=1
fi
if [ "$interop" = yes ]; then
    step "installing the interop peers"
    "$here/install-peers.sh"
    step "interop"
    "$bin/interop" --bin-dir "$bin" --peers-dir "$here/peers" \
        --python "$CONFORMANCE_TOOLS/python-venv/bin/python" --out "$here/reports/interop" || status=1
fi
step "done: $([ $status -eq 0 ] && echo green || echo RED)"
exit $status
