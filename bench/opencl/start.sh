#!/usr/bin/env bash
# What a guest process spends on starting: `clinfo -l` through the OpenCL
# guest library, over shared memory, against one API server started first.
# Prints `perf stat -r 30` of it and, under callgrind, the instructions of
# the whole process and of loading the plan (`OnceLock<T>::initialize`: the
# guest's first call decodes the embedded plan and compiles its expressions).
#
#   bench/opencl/start.sh [DIR]   (DIR: a `cava run` build, default
#       target/cava-run/opencl, built first)
# Needs perf and valgrind. Results: book/src/benchmarks.md (Process start)
set -euo pipefail
cd "$(dirname "$0")/../.."
for tool in perf valgrind clinfo; do
    command -v "$tool" >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
source bench/opencl/common.sh
dir=$(cava_run_dir "${1:-}")
out=target/cava-bench/opencl
mkdir -p "$out"
socket="$out/start-$$.sock"
rm -f "$socket"
"$dir/bin/opencl-server" --socket "$socket" 2>/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -f "$socket"' EXIT
while [ ! -S "$socket" ]; do sleep 0.05; done
export LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" CAVA_TRANSPORT=shm
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
perf stat -r 30 clinfo -l 2>&1 >/dev/null | grep -E 'task-clock|elapsed'
profile="$out/start-$$.callgrind"
valgrind --tool=callgrind --callgrind-out-file="$profile" clinfo -l >/dev/null 2>&1
callgrind_annotate --inclusive=yes "$profile" 2>/dev/null |
    grep -E 'PROGRAM TOTALS|OnceLock<T>::initialize \[|binary::decode \[|compile::compile \[|serde_json::de::from_str|from_json \[' || true
rm -f "$profile"
