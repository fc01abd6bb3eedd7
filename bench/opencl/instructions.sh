#!/usr/bin/env bash
# Instructions the runtime spends per forwarded OpenCL call, counted by
# callgrind: deterministic, so a change to the hot path can be judged on
# this noisy 2-CPU machine where wall-clock medians move by 2x with load.
#
# Runs the `calls` workload (clSetKernelArg + clEnqueueNDRangeKernel per
# launch) under callgrind, guest and API server each, and prints per call:
#   server  the API server's own (its executable's instructions, and the C
#           library functions it calls), without the vendor's
#   vendor  the rest of the API server process: PoCL and its threads
#   guest   the guest library's own (likewise)
# Counted by object, not by function, so link-time optimization inlining
# the runtime's functions into each other changes nothing.
#
#   bench/opencl/instructions.sh [LAUNCHES] [shm|unix]   (default 20000 shm)
#   CAVA_RUN_DIR=DIR bench/opencl/instructions.sh ...  (a `cava run --dir DIR` build)
# Needs valgrind (apt-get install valgrind). Results: book/src/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null
command -v valgrind >/dev/null || { echo "valgrind is needed: apt-get install valgrind" >&2; exit 1; }
launches=${1:-20000}
transport=${2:-shm}
out=target/cava-bench/opencl
source bench/opencl/common.sh
build_workloads
# CAVA_RUN_DIR: measure an existing build instead (e.g. an older commit's)
dir=$(cava_run_dir "${CAVA_RUN_DIR:-}")

# Runs LAUNCHES launches under callgrind; prints the server's own
# instructions, the server process's total and the guest library's own.
measure() {
    local n=$1 socket="$out/callgrind-$$.sock"
    rm -f "$socket" "$out"/callgrind-*.out*
    valgrind --tool=callgrind --callgrind-out-file="$out/callgrind-server.out" \
        "$dir/bin/opencl-server" --socket "$socket" 2>/dev/null &
    local server=$!
    while [ ! -S "$socket" ]; do sleep 0.1; done
    LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" CAVA_TRANSPORT="$transport" \
        valgrind --tool=callgrind --callgrind-out-file="$out/callgrind-guest.out" \
        "$out/workloads" calls "$n" >/dev/null 2>&1
    # the server dumps on request, then is stopped
    sleep 1
    callgrind_control -d "$server" >/dev/null 2>&1
    sleep 2
    kill -9 "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$socket"
    local server_out
    server_out=$(ls "$out"/callgrind-server.out* | tail -1)
    echo "$(split "$server_out" "/bin/opencl-server")" \
        "$(total "$server_out")" \
        "$(split "$out/callgrind-guest.out" "/lib/libOpenCL.so.1")"
}

# what one object spent itself, and in the C library functions it called
# (memcpy, malloc); by object, so inlining across crates moves nothing
split() { python3 bench/opencl/callgrind_split.py "$1" "$2"; }
# everything the process ran
total() { grep -m1 '^summary:' "$1" | awk '{print $2}'; }

# Two runs, LAUNCHES apart: their difference is the steady state, free of
# everything done once (loading the plan, building the program, warm-up).
read -r h1 t1 g1 < <(measure 1000)
read -r h2 t2 g2 < <(measure $((1000 + launches)))
if [ -z "$g1" ] || [ -z "$g2" ] || [ "$h1" = 0 ] || [ "$g1" = 0 ]; then
    echo "the server's or the guest library's object was not found in callgrind's output" >&2
    exit 1
fi
calls=$((launches * 2))
echo "${CAVA_RUN_DIR:-commit $(git rev-parse --short HEAD)}, $launches launches over $transport, instructions per call:"
echo "server $(( (h2 - h1) / calls ))  vendor $(( ((t2 - t1) - (h2 - h1)) / calls ))  guest $(( (g2 - g1) / calls ))"
