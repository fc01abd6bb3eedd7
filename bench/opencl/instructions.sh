#!/usr/bin/env bash
# Instructions the runtime spends per forwarded OpenCL call, counted by
# callgrind: deterministic, so a change to the hot path can be judged on
# this noisy 2-CPU machine where wall-clock medians move by 2x with load.
#
# Runs the `calls` workload (clSetKernelArg + clEnqueueNDRangeKernel per
# launch) under callgrind, guest and API server each, and prints per call:
#   server  API server's handle_call, without the vendor's own work
#   guest   the guest library's call, without loading its plan
#   send    of which putting the message on the ring
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

# Runs LAUNCHES launches under callgrind; prints the inclusive instruction
# counts of the server's handle_call, the vendor's dispatch, the guest's
# call and its transport send.
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
    echo "$(inclusive "$server_out" 'call.rs:cava_runtime::marshal::server::call::handle_call \[')" \
        "$(inclusive "$server_out" '_server::dispatch \[')" \
        "$(inclusive "$out/callgrind-guest.out" 'guest.rs:cava_runtime::marshal::guest::call \[')" \
        "$(inclusive_sum "$out/callgrind-guest.out" 'as cava_runtime::transport::Transport>::send( \[|$)')"
}

# inclusive count of the first symbol matching a pattern
inclusive() { callgrind_annotate --inclusive=yes "$1" 2>/dev/null | grep -E "$2" | head -1 | awk '{gsub(",", "", $1); print $1 + 0}'; }
# the same summed over every line matching: a function whose inlined code
# comes from several source files is listed once per file
inclusive_sum() { callgrind_annotate --inclusive=yes "$1" 2>/dev/null | grep -E "$2" | awk '{gsub(",", "", $1); n += $1} END {print n + 0}'; }

# Two runs, LAUNCHES apart: their difference is the steady state, free of
# everything done once (loading the plan, building the program, warm-up).
read -r h1 v1 c1 s1 < <(measure 1000)
read -r h2 v2 c2 s2 < <(measure $((1000 + launches)))
# a symbol that moved (a renamed function, another file) prints nothing and
# shifts the columns: refuse rather than print wrong figures
if [ -z "$s1" ] || [ -z "$s2" ]; then
    echo "a measured function was not found in callgrind's output: update the patterns in $0" >&2
    exit 1
fi
calls=$((launches * 2))
echo "${CAVA_RUN_DIR:-commit $(git rev-parse --short HEAD)}, $launches launches over $transport, instructions per call:"
echo "server $(( ((h2 - v2) - (h1 - v1)) / calls ))  vendor $(( (v2 - v1) / calls ))  guest $(( (c2 - c1) / calls ))  guest send $(( (s2 - s1) / calls ))"
