#!/usr/bin/env bash
# OpenCL workloads natively and through CAVA, in one run, on both transports:
# a call-intensive one (thousands of tiny kernels), a data-intensive one
# (64 MiB transfers) and a compute-intensive one (a matrix multiply). Each
# is run REPS times per path, the paths interleaved so that load changes hit
# them alike; the table shows medians and ratios against native.
#
#   bench/opencl/run.sh [REPS]        (default 3; results: book/src/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/env.sh
reps=${1:-3}
out=target/cava-bench/opencl
source bench/opencl/common.sh
build_workloads
cargo build --quiet --release -p cava-cli
cava=target/release/cava
# build once (and warm PoCL's kernel cache) before timing anything
"$cava" run specs/opencl.lapis -- "$out/workloads" calls >/dev/null

results="$out/results.txt"
: > "$results"
for workload in calls data compute; do
    for rep in $(seq "$reps"); do
        for path in native shm unix; do
            if [ "$path" = native ]; then
                line=$("$out/workloads" "$workload" | head -1)
            else
                line=$("$cava" run specs/opencl.lapis --transport "$path" -- "$out/workloads" "$workload" 2>/dev/null | head -1)
            fi
            case "$line" in *check=ok*) ;; *) echo "$workload on $path: wrong result: $line" >&2; exit 1 ;; esac
            us=$(echo "$line" | sed 's/.*per_op_us=\([0-9.]*\).*/\1/')
            echo "$workload $path $us" >> "$results"
        done
    done
done

echo "cava OpenCL workloads: $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), $reps runs per path"
echo
echo "| workload | per op | native | shm | unix | shm/native | unix/native |"
echo "|---|---|---|---|---|---|---|"
for workload in calls data compute; do
    median() { grep "^$workload $1 " "$results" | awk '{print $3}' | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
    n=$(median native); s=$(median shm); u=$(median unix)
    case $workload in calls) what="launch (µs)";; data) what="64 MiB transfer (µs)";; compute) what="384² matmul (µs)";; esac
    awk -v w="$workload" -v what="$what" -v n="$n" -v s="$s" -v u="$u" \
        'BEGIN { printf "| %s | %s | %.1f | %.1f | %.1f | %.2fx | %.2fx |\n", w, what, n, s, u, s / n, u / n }'
done
