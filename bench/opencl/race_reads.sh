#!/usr/bin/env bash
# Runs bench/opencl/race_reads.c (async_reads.c section 10, many rounds)
# through a build of the guest library and API server, one API server per
# run, and adds up the stale reads it counts. The race it was written for
# (a read's status CL_COMPLETE before another thread's clFinish had copied
# it back) is in the book's OpenCL chapter, "Not forwarded yet".
#
#   bench/opencl/race_reads.sh DIR TRANSPORT SERVER_LIMIT GUEST_LIMIT RUNS [ROUNDS [poll|callback]]
#     DIR: a `cava build --compile` or `cava run` output; a limit of "" is
#     the default (CAVA_MAX_MESSAGE unset)
set -euo pipefail
cd "$(dirname "$0")/../.."
usage="usage: race_reads.sh DIR TRANSPORT SERVER_LIMIT GUEST_LIMIT RUNS [ROUNDS [poll|callback]]"
dir=${1:?$usage} transport=${2:?$usage} server_limit=${3?$usage} guest_limit=${4?$usage} runs=${5:?$usage}
rounds=${6:-300} mode=${7:-poll}
out=target/cava-bench/opencl
mkdir -p "$out"
cc -std=c99 -O1 -o "$out/race_reads" bench/opencl/race_reads.c -lOpenCL -lpthread
library=
for l in /usr/lib/*/libOpenCL.so.1 /usr/lib64/libOpenCL.so.1; do
    [ -e "$l" ] && library=$l && break
done
[ -n "$library" ] || { echo "no libOpenCL.so.1" >&2; exit 1; }
socket="$out/race-$$.sock"
polled=0 more=0
for run in $(seq "$runs"); do
    rm -f "$socket"
    CAVA_MAX_MESSAGE=$server_limit "$dir/bin/opencl-server" --socket "$socket" --library "$library" 2>/dev/null &
    server=$!
    while [ ! -S "$socket" ]; do sleep 0.02; done
    line=$(CAVA_MAX_MESSAGE=$guest_limit LD_LIBRARY_PATH="$dir/lib" CAVA_SERVER="$socket" CAVA_TRANSPORT="$transport" \
        "$out/race_reads" 262144 "$rounds" "$mode" | tail -1)
    kill "$server"
    wait "$server" 2>/dev/null || true
    p=$(sed -n 's/.*stale polled=\([0-9]*\).*/\1/p' <<<"$line")
    m=$(sed -n 's/.*stale after clFinish=\([0-9]*\).*/\1/p' <<<"$line")
    [ -n "$p" ] && [ -n "$m" ] || { echo "run $run: $line"; exit 1; }
    polled=$((polled + p)) more=$((more + m))
done
echo "$transport server_limit=${server_limit:-default} guest_limit=${guest_limit:-default} $mode: runs=$runs rounds=$((runs * rounds)) stale polled=$polled stale after clFinish=$more"
