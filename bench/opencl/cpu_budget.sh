#!/usr/bin/env bash
# Where the CPU time of a launch goes, natively and forwarded: the `calls`
# workload (clSetKernelArg + clEnqueueNDRangeKernel per launch) reports
# its process's CPU time per launch over its timed round (natively that
# process holds PoCL's workers; forwarded it is the application with the
# guest library), and the API server's CPU time over the same round (its
# channel thread, PoCL's workers, the rest) is read from
# /proc/PID/task/*/stat when the round begins and ends.
#
# On a machine with C cores a launch cannot take less wall-clock time than
# its CPU time / C, so when PoCL's workers and the forwarding share few
# cores, every microsecond of CPU the guest or the server spends shows.
#
#   bench/opencl/cpu_budget.sh [ROUNDS] [shm|unix] [LAUNCHES]
#       (default 5 rounds over shm, 200000 launches each)
#   CAVA_RUN_DIR=DIR bench/opencl/cpu_budget.sh ...  (another `cava run` build)
# Results: book/src/benchmarks.md
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh >/dev/null
rounds=${1:-5}
transport=${2:-shm}
launches=${3:-200000}
out=target/cava-bench/opencl
source bench/opencl/common.sh
build_workloads
dir=$(cava_run_dir "${CAVA_RUN_DIR:-}")

# "TID µs" for each thread of PID alive now (utime + stime, clock ticks:
# the rounds must last long enough, a second or so, for ticks not to matter)
threads_us() {
    local t
    for t in /proc/"$1"/task/*; do
        awk -v hz="$(getconf CLK_TCK)" -v tid="${t##*/}" '{ printf "%s %d\n", tid, ($14 + $15) * 1000000 / hz }' "$t"/stat 2>/dev/null || true
    done
}

# Waits until the workload's log (or the workload, PID) says PATTERN.
await() {
    while ! grep -q "$3" "$1"; do
        kill -0 "$2" 2>/dev/null || return 0
        sleep 0.01
    done
}

# Runs the workload (env from the arguments after SERVER); prints "wall
# app-cpu app-main-thread-cpu [channel-cpu rest-cpu]" in µs per launch,
# the last two the API server's busiest thread (the channel thread) and
# its other threads.
sample() {
    local server=$1 log="$out/cpu_budget-$$.log"
    shift
    : >"$log"
    env WORKLOADS_LINGER=1 "$@" "$out/workloads" calls "$launches" >"$log" 2>&1 &
    local app=$!
    await "$log" "$app" 'timed round begins'
    threads_us "$app" >"$log.app"
    if [ -n "$server" ]; then
        threads_us "$server" >"$log.threads"
    fi
    await "$log" "$app" 'timed round ends'
    # the application's own thread (the rest of its CPU time: PoCL's
    # workers natively, the guest library's callback thread forwarded)
    local main split=""
    main=$(threads_us "$app" | awk -v n="$launches" -v pid="$app" 'NR == FNR { t[$1] = $2; next } $1 == pid { printf "%.3f", ($2 - t[$1]) / n }' "$log.app" -)
    rm -f "$log.app"
    if [ -n "$server" ]; then
        # the workload lingers, so that every server thread of the round is
        # still there: its busiest (the channel thread), and the others
        # (PoCL's workers, those that started during the round included)
        split=$(threads_us "$server" | awk -v n="$launches" 'NR == FNR { t[$1] = $2; next } { d = $2 - t[$1]; s += d; if (d > m) m = d } END { printf "%.3f %.3f", m / n, (s - m) / n }' "$log.threads" -)
        rm -f "$log.threads"
    fi
    wait "$app" || { cat "$log" >&2; return 1; }
    local us cpu
    us=$(grep 'check=ok' "$log" | sed 's/.*per_op_us=\([0-9.]*\).*/\1/')
    cpu=$(grep 'process_cpu_us=' "$log" | sed 's/.*process_cpu_us=\([0-9.]*\).*/\1/')
    [ -n "$us" ] && [ -n "$cpu" ] || { cat "$log" >&2; return 1; }
    rm -f "$log"
    echo "$us $cpu $main $split"
}

echo "load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; per launch, µs"
echo "native: wall cpu app-thread-cpu | forwarded ($transport): wall guest-cpu guest-app-thread-cpu server-channel-cpu server-other-cpu"
results="$out/cpu_budget.txt"
: >"$results"
for round in $(seq "$rounds"); do
    native=$(sample "")
    socket="$out/cpu_budget-$$.sock"
    rm -f "$socket"
    "$dir/bin/opencl-server" --socket "$socket" 2>/dev/null &
    server=$!
    while [ ! -S "$socket" ]; do sleep 0.05; done
    forwarded=$(sample "$server" LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" CAVA_TRANSPORT="$transport")
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    rm -f "$socket"
    echo "$native | $forwarded" | tee -a "$results"
done
echo "load $(cut -d' ' -f1-3 /proc/loadavg)"
col() { awk -v c="$1" '{ gsub(/\|/, ""); print $c }' "$results" | median; }
nw=$(col 1) nc=$(col 2) nm=$(col 3) fw=$(col 4) fg=$(col 5) fm=$(col 6) fc=$(col 7) fo=$(col 8)
awk -v nw="$nw" -v nc="$nc" -v nm="$nm" -v fw="$fw" -v fg="$fg" -v fm="$fm" -v fc="$fc" -v fo="$fo" 'BEGIN {
    printf "median native: %.2f wall, %.2f CPU: application thread %.2f, PoCL workers %.2f\n", nw, nc, nm, nc - nm
    printf "median forwarded: %.2f wall (%.2fx), %.2f CPU (%.2fx): guest %.2f (application thread %.2f), server channel thread %.2f, server other threads %.2f\n", fw, fw / nw, fg + fc + fo, (fg + fc + fo) / nc, fg, fm, fc, fo
}'
