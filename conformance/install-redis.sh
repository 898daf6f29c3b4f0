#!/usr/bin/env bash
# Installs `redis-server` from Debian's packages for ws-server's Redis hub tests
# (ws-server/tests/redis_hub.rs start their own redis-server on a free loopback port, without
# persistence). Idempotent; safe to run concurrently; needs root (apt-get) when it is missing.
#
# The package's own service is not started: the tests need the binary only, and a system-wide
# server on 6379 with persistence is not ours to leave behind.
set -euo pipefail

log() { printf 'install-redis: %s\n' "$*" >&2; }

if command -v redis-server >/dev/null 2>&1; then
    log "$(redis-server --version)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    log "redis-server is missing and installing it needs root: apt-get install redis-server"
    exit 1
fi

exec 9>/tmp/.ws-install-redis.lock
flock 9
if ! command -v redis-server >/dev/null 2>&1; then
    log "apt-get install redis-server"
    export DEBIAN_FRONTEND=noninteractive
    # Keep the package's maintainer scripts from starting the service (the usual Debian way:
    # a policy-rc.d that says "not now"), unless the machine already has its own policy.
    policy=/usr/sbin/policy-rc.d
    ours=0
    if ! [ -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy"
        chmod +x "$policy"
        ours=1
    fi
    trap '[ "$ours" = 1 ] && rm -f "$policy"' EXIT
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi
log "$(redis-server --version)"
