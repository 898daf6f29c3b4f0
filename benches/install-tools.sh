#!/usr/bin/env bash
# Installs the profilers benches/README.md uses: perf (Debian's linux-perf) and valgrind
# (callgrind). Idempotent: installs only what is missing.
set -euo pipefail
need=()
command -v perf >/dev/null 2>&1 || need+=(linux-perf)
command -v valgrind >/dev/null 2>&1 || need+=(valgrind)
if ((${#need[@]})); then
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update -q
    $sudo apt-get install -y -q "${need[@]}"
fi
perf --version
valgrind --version
