#!/usr/bin/env bash
# The `calls` workload (clSetKernelArg + clEnqueueNDRangeKernel per launch)
# natively and through one or more builds of the guest library and API
# server, interleaved round by round so that the machine's load hits them
# alike; prints each round and the medians, with ratios against native,
# and the median of each round's ratio to native.
# Each round also runs `relayed` (relayed.c: the calls made by a second
# thread of the application, fed by a lock-free ring), the bound for a
# forwarder that makes the vendor's calls on a thread of its own.
# For comparing two commits on a noisy machine, where `run.sh`'s three runs
# per path are too few.
#
#   bench/opencl/alternate.sh ROUNDS DIR...   (DIR: a `cava run` build, such
#       as target/cava-run/opencl, or another checkout's; VAR=VALUE@DIR runs
#       that build with VAR=VALUE in the guest's and the server's
#       environment, e.g. CAVA_LEAN_ENCODING=0@target/cava-run/opencl)
# Results: book/src/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null
rounds=${1:?usage: alternate.sh ROUNDS DIR...}
shift
[ $# -gt 0 ] || { echo "usage: alternate.sh ROUNDS DIR..." >&2; exit 2; }
out=target/cava-bench/opencl
source bench/opencl/common.sh
build_workloads
# the workload's µs per launch, if its result checked
per_op() { grep 'check=ok' | sed 's/.*per_op_us=\([0-9.]*\).*/\1/' | head -1; }
# one forwarded run: a fresh API server, the workload over shared memory
forwarded() {
    local dir=$1 setting="" socket="$out/alternate-$$.sock" server us
    if [[ "$dir" == *@* ]]; then
        setting=${dir%%@*}
        dir=${dir#*@}
    fi
    rm -f "$socket"
    env $setting "$dir/bin/opencl-server" --socket "$socket" 2>/dev/null &
    server=$!
    while [ ! -S "$socket" ]; do sleep 0.05; done
    us=$(env $setting LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" CAVA_TRANSPORT=shm "$out/workloads" calls | per_op)
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$socket"
    echo "$us"
}
results="$out/alternate.txt"
: > "$results"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); µs per launch: native, relayed, then each DIR"
for round in $(seq "$rounds"); do
    line="$("$out/workloads" calls | per_op) $("$out/relayed" | per_op)"
    for dir in "$@"; do line="$line $(forwarded "$dir")"; done
    echo "$line" | tee -a "$results"
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
native=$(awk '{ print $1 }' "$results" | median)
summary="median native $native µs"
for c in $(seq 2 $(($# + 2))); do
    m=$(awk -v c="$c" '{ print $c }' "$results" | median)
    name=$([ "$c" = 2 ] && echo relayed || echo "DIR $((c - 2))")
    summary="$summary; $name $m µs ($(awk -v a="$m" -v b="$native" 'BEGIN { printf "%.2f", a / b }')x)"
done
echo "$summary"
# the median of each round's own ratio: a round's paths ran back to back,
# so this cancels the load that moved between rounds
ratios="median per-round ratio to native:"
for c in $(seq 2 $(($# + 2))); do
    name=$([ "$c" = 2 ] && echo relayed || echo "DIR $((c - 2))")
    r=$(awk -v c="$c" '{ printf "%.4f\n", $c / $1 }' "$results" | median)
    ratios="$ratios $name $(awk -v r="$r" 'BEGIN { printf "%.2f", r }')x;"
done
echo "${ratios%;}"
