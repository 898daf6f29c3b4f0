#!/usr/bin/env bash
# A soak of ws-server's echo (not part of CI): for SOAK_SECS (default 600) it holds a crowd of
# idle connections (re-opened every 50 s), keeps active connections echoing, and churns
# connections (open, echo, close), while it samples every 10 s the server's resident memory, its CPU and the round trip
# of a fresh client. At the end it says whether memory stayed flat: the last sample within 10 %
# (plus 8 MiB) of the first sample taken after the crowd and the load were up.
#
#   conformance/soak.sh                       # 10 minutes, 9 000 idle + 200 active + 4 churning
#   SOAK_SECS=120 IDLE=5000 conformance/soak.sh
#
# Needs nothing installed beyond the Rust toolchain. Output: conformance/reports/soak/
# (soak.csv: t_s, rss_kib, cpu_ms, probe_p99_us, probe_max_us; the load generators' logs).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
secs=${SOAK_SECS:-600}
idle=${IDLE:-9000}
active=${ACTIVE:-200}
churn=${CHURN:-4}
out="$here/reports/soak"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
rm -rf "$out"
mkdir -p "$out"

cd "$root"
cargo build --release --locked -p ws-server --example echo
cargo build --release --locked -p benches --bin ws-load
bin="$CARGO_TARGET_DIR/release"

# No keepalive Pings: the load generators do not answer them (the idle crowd does not read),
# and the crowd is re-opened every 50 s, under the server's 60 s idle timeout.
"$bin/examples/echo" --addr 127.0.0.1:0 --no-keepalive > "$out/server.log" 2>&1 &
server=$!
pids=("$server")
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT
url=
for _ in $(seq 100); do
    url=$(sed -n 's|^echo on \(ws://[^ ]*\)$|\1|p' "$out/server.log")
    [ -n "$url" ] && break
    sleep 0.1
done
[ -n "$url" ] || { echo "soak: the server did not start" >&2; cat "$out/server.log" >&2; exit 1; }
echo "soak: ws-server echo at $url (pid $server) for $secs s: $idle idle, $active active, $churn churning"

# Each load generator ends on its own a little after the soak. The idle crowd: opened, held
# 50 s, closed, opened again (so the soak also churns thousands of connections at once).
(
    end=$((SECONDS + secs))
    while [ $SECONDS -lt $end ]; do
        "$bin/ws-load" --url "$url" --conns "$idle" --idle --secs 50 || exit 1
    done
) > "$out/idle.log" 2>&1 &
pids+=("$!")
"$bin/ws-load" --url "$url" --conns "$active" --size 1024 --warmup 0 --secs "$((secs + 30))" \
    > "$out/active.log" 2>&1 &
pids+=("$!")
"$bin/ws-load" --url "$url" --conns "$churn" --setup --size 64 --warmup 0 --secs "$((secs + 30))" \
    > "$out/churn.log" 2>&1 &
pids+=("$!")

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$server/status"; }
cpu_ms() { awk '{ sub(/.*\) /, ""); print ($12 + $13) * 10 }' "/proc/$server/stat"; }
echo "t_s,rss_kib,cpu_ms,probe_p99_us,probe_max_us" > "$out/soak.csv"
started=$SECONDS
first=
last=
while [ $((SECONDS - started)) -lt "$secs" ]; do
    sleep 10
    kill -0 "$server" 2>/dev/null || { echo "soak: the server exited" >&2; exit 1; }
    probe=$("$bin/ws-load" --url "$url" --conns 1 --size 20 --warmup 0 --secs 1 2>&1 | grep '^RESULT' || true)
    p99=$(sed -n 's/.* p99_us=\([0-9.]*\).*/\1/p' <<< "$probe")
    max=$(sed -n 's/.* max_us=\([0-9.]*\).*/\1/p' <<< "$probe")
    now=$(rss)
    t=$((SECONDS - started))
    echo "$t,$now,$(cpu_ms),${p99:-none},${max:-none}" | tee -a "$out/soak.csv"
    # The first sample after 30 s is the reference (the crowd and the load are up by then).
    if [ -z "$first" ] && [ "$t" -ge 30 ]; then first=$now; fi
    last=$now
done
for log in idle active churn; do
    if grep -qiE 'error|panicked' "$out/$log.log"; then
        echo "soak: the $log load generator reported an error:" >&2
        tail -5 "$out/$log.log" >&2
        exit 1
    fi
done
limit=$(( ${first:-$last} * 11 / 10 + 8192 ))
if [ "$last" -le "$limit" ]; then
    echo "soak: FLAT: RSS $first KiB at 30 s -> $last KiB at the end (limit $limit KiB)"
else
    echo "soak: GREW: RSS $first KiB at 30 s -> $last KiB at the end (limit $limit KiB)"
    exit 1
fi
