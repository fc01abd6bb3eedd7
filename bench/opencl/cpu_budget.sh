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

# "TID µs voluntary nonvoluntary name" for each thread of PID alive now
# (CPU time: utime + stime, clock ticks, so the rounds must last a second
# or so for ticks not to matter; then its context switches: sleeps, and
# preemptions)
threads_us() {
    local t
    for t in /proc/"$1"/task/*; do
        awk -v hz="$(getconf CLK_TCK)" -v tid="${t##*/}" -v name="$(tr ' ' _ <"$t"/comm 2>/dev/null)" \
            'FNR == NR { cpu = ($14 + $15) * 1000000 / hz; next }
             /^voluntary_ctxt_switches/ { v = $2 } /^nonvoluntary_ctxt_switches/ { nv = $2 }
             END { printf "%s %d %d %d %s\n", tid, cpu, v, nv, name }' "$t"/stat "$t"/status 2>/dev/null || true
    done
}

# The difference of two threads_us samples (files), per launch: "tid cpu
# voluntary nonvoluntary" for each thread alive in both
per_launch() {
    awk -v n="$launches" 'NR == FNR { c[$1] = $2; v[$1] = $3; nv[$1] = $4; next }
        ($1 in c) { printf "%s %.3f %.3f %.3f\n", $1, ($2 - c[$1]) / n, ($3 - v[$1]) / n, ($4 - nv[$1]) / n }' "$1" "$2"
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
    threads_us "$app" >"$log.app1"
    # context switches per launch of the application's threads
    switches "app" "$log.app" "$log.app1" "$app"
    rm -f "$log.app" "$log.app1"
    if [ -n "$server" ]; then
        # the workload lingers, so that every server thread of the round is
        # still there: the channel thread (the busiest `cava-channel`
        # thread: PoCL's workers, started from it, inherit its name), and
        # the others (PoCL's workers, those started during the round too)
        threads_us "$server" >"$log.threads1"
        split=$(awk -v n="$launches" 'NR == FNR { t[$1] = $2; next } { d = $2 - t[$1]; s += d; if ($5 == "cava-channel" && d > m) m = d } END { printf "%.3f %.3f", m / n, (s - m) / n }' "$log.threads" "$log.threads1")
        switches "server" "$log.threads" "$log.threads1" ""
        rm -f "$log.threads" "$log.threads1"
    fi
    wait "$app" || { cat "$log" >&2; return 1; }
    local us cpu
    us=$(grep 'check=ok' "$log" | sed 's/.*per_op_us=\([0-9.]*\).*/\1/')
    cpu=$(grep 'process_cpu_us=' "$log" | sed 's/.*process_cpu_us=\([0-9.]*\).*/\1/')
    [ -n "$us" ] && [ -n "$cpu" ] || { cat "$log" >&2; return 1; }
    rm -f "$log"
    echo "$us $cpu $main $split"
}

# Appends to $switched the context switches per launch of a process's
# threads (voluntary: the thread slept; nonvoluntary: it was preempted):
# of its main thread (the application's; the API server's channel
# thread, its busiest, as PoCL's workers inherit its name) and of all the
# others together, one line each: "round process/thread voluntary
# nonvoluntary"
switches() {
    per_launch "$2" "$3" | sort -k2 -g | awk -v round="$round" -v who="$mode-$1" -v main="$4" '
        { tid[NR] = $1; v[NR] = $3; nv[NR] = $4 }
        END {
            m = main == "" ? NR : 0
            for (i = 1; i <= NR; i++) if (tid[i] == main) m = i
            for (i = 1; i <= NR; i++) if (i != m) { ov += v[i]; onv += nv[i] }
            printf "%s %s/main %s %s\n%s %s/others %.3f %.3f\n", round, who, v[m], nv[m], round, who, ov, onv
        }' >>"$switched"
}

switched="$out/cpu_budget-switches.txt"
: >"$switched"
echo "load $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs; per launch, µs"
echo "native: wall cpu app-thread-cpu | forwarded ($transport): wall guest-cpu guest-app-thread-cpu server-channel-cpu server-other-cpu"
results="$out/cpu_budget.txt"
: >"$results"
for round in $(seq "$rounds"); do
    mode=native
    native=$(sample "")
    socket="$out/cpu_budget-$$.sock"
    rm -f "$socket"
    "$dir/bin/opencl-server" --socket "$socket" 2>/dev/null &
    server=$!
    while [ ! -S "$socket" ]; do sleep 0.05; done
    mode=forwarded
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
echo "median context switches per launch: voluntary (slept), nonvoluntary (preempted)"
echo "  (main: the application's thread; the API server's channel thread)"
for key in $(awk '{ print $2 }' "$switched" | sort -u); do
    printf "  %-26s %6.3f %6.3f\n" "$key" "$(awk -v k="$key" '$2 == k { print $3 }' "$switched" | median)" "$(awk -v k="$key" '$2 == k { print $4 }' "$switched" | median)"
done
