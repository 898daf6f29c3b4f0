#!/usr/bin/env bash
# Installs the third-party peers of the interop tests. Idempotent; safe to run concurrently.
#
#   Python `websockets` (PyPI, version pinned in peers/python/requirements.txt) into a venv at
#     "$CONFORMANCE_TOOLS/python-venv" (default conformance/.tools, git-ignored);
#   Node `ws` (npm, pinned by peers/node/package-lock.json) with `npm ci` into peers/node/node_modules;
#   Chromium (Debian's `chromium` package) with apt-get, when no `chromium` is on PATH.
#
# Needs python3 (>= 3.9, with the venv module), node and npm, and root (or an installed chromium).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tools=${CONFORMANCE_TOOLS:-$here/.tools}
mkdir -p "$tools"
exec 9>"$tools/.install-peers.lock"
flock 9
log() { printf 'install-peers: %s\n' "$*" >&2; }

# Python websockets.
venv="$tools/python-venv"
requirements="$here/peers/python/requirements.txt"
stamp="$venv/.requirements"
if ! [ -x "$venv/bin/python" ] || ! cmp -s "$requirements" "$stamp" \
    || ! "$venv/bin/python" -c 'import websockets' 2>/dev/null; then
    log "creating $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$stamp"
fi

# Node ws: `npm ci` installs exactly what package-lock.json pins.
node_dir="$here/peers/node"
if ! cmp -s "$node_dir/package-lock.json" "$node_dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
    log "npm ci in $node_dir"
    (cd "$node_dir" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$node_dir/package-lock.json" "$node_dir/node_modules/.package-lock.json.installed"
fi

# Chromium.
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" -ne 0 ]; then
        log "chromium is missing and installing it needs root: apt-get install chromium"
        exit 1
    fi
    log "apt-get install chromium"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

log "python websockets $("$venv/bin/python" -c 'import websockets; print(websockets.__version__)')," \
    "node ws $(node -p "require('$node_dir/node_modules/ws/package.json').version")," \
    "$(chromium --version 2>/dev/null || echo 'chromium: version unknown')"
