#!/usr/bin/env bash
# Blocking transfers larger than one message (staged when forwarded):
# bench/opencl/staged.c natively and through one or more builds of the
# guest library and API server, on both transports, interleaved round by
# round so that the machine's load hits them alike; prints each run's GB/s
# (best and median of REPS transfers each way) and, at the end, the median
# over the rounds of each path's median. OpenCL buffers of 1 MiB and more
# live in the process region since e90b510 and their blocking transfers
# are not staged: forwarded runs set CAVA_REGION_BUFFERS=0 (unless the
# environment sets it), so that this measures staging.
#
#   bench/opencl/staged.sh ROUNDS [MIB [REPS]] -- [DIR...]
#       DIR: a `cava run` build, such as target/cava-run/opencl, or another
#       checkout's (default: this checkout's, built first)
# Results: book/src/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null
source bench/opencl/common.sh
rounds=${1:?usage: staged.sh ROUNDS [MIB [REPS]] -- [DIR...]}
shift
mib=512 reps=5
[ $# -gt 0 ] && [ "$1" != -- ] && { mib=$1; shift; }
[ $# -gt 0 ] && [ "$1" != -- ] && { reps=$1; shift; }
[ "${1:-}" = -- ] && shift
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=("$(cava_run_dir)")
out=target/cava-bench/opencl
mkdir -p "$out"
cc -std=c99 -O2 -o "$out/staged" bench/opencl/staged.c -lOpenCL
# "write BEST MEDIAN read BEST MEDIAN" of one run, if its bytes checked
figures() { grep 'check=ok' | sed 's/transfer=\([a-z]*\).*best_gb_per_s=\([0-9.]*\) median_gb_per_s=\([0-9.]*\).*/\1 \2 \3/' | tr '\n' ' '; }
# one forwarded run: a fresh API server, the program over TRANSPORT
forwarded() {
    local dir=$1 transport=$2 socket="$out/staged-$$.sock" server
    rm -f "$socket"
    "$dir/bin/opencl-server" --socket "$socket" 2>/dev/null &
    server=$!
    while [ ! -S "$socket" ]; do sleep 0.05; done
    LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" CAVA_TRANSPORT=$transport CAVA_REGION_BUFFERS=${CAVA_REGION_BUFFERS:-0} \
        "$out/staged" "$mib" "$reps" | figures
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$socket"
}
results="$out/staged.txt"
: > "$results"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); $mib MiB, $reps transfers each way per run; GB/s best and median"
for round in $(seq "$rounds"); do
    echo "native $("$out/staged" "$mib" "$reps" | figures)" | tee -a "$results"
    for i in "${!dirs[@]}"; do
        for transport in shm unix; do
            echo "dir$((i + 1))-$transport $(forwarded "${dirs[$i]}" "$transport")" | tee -a "$results"
        done
    done
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
for path in $(awk '{ print $1 }' "$results" | sort -u); do
    write=$(awk -v p="$path" '$1 == p { print $4 }' "$results" | median)
    read=$(awk -v p="$path" '$1 == p { print $7 }' "$results" | median)
    echo "median $path: write $write GB/s, read $read GB/s"
done
