#!/usr/bin/env bash
# What processes that exit without releasing their objects leave in one
# OpenCL API server: runs bench/opencl/leave.c (20 filled, retained buffers
# of 64 MiB) three times against one server and prints the server's resident
# memory after each, then the server's log. With `release_at_exit` the
# memory stays flat; a server that does not release grows by ~1.3 GB a run.
#
#   bench/opencl/departure.sh [DIR]   (DIR: a `cava run` build, default
#       target/cava-run/opencl, built first)
# Results: book/src/generated.md (Guest processes)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null
source bench/opencl/common.sh
dir=$(cava_run_dir "${1:-}")
out=target/cava-bench/opencl
mkdir -p "$out"
cc -std=c99 -O2 -o "$out/leave" bench/opencl/leave.c -lOpenCL
socket="$out/departure-$$.sock" log="$out/departure.log"
rm -f "$socket"
"$dir/bin/opencl-server" --socket "$socket" 2>"$log" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$socket"' EXIT
while [ ! -S "$socket" ]; do sleep 0.05; done
for run in 1 2 3; do
    LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" "$out/leave" 20 >/dev/null
    sleep 1 # the server releases once the process has gone
    echo "after run $run: server $(grep VmRSS "/proc/$server/status")"
done
cat "$log"
