# Sourced by the OpenCL bench scripts (from the repository root).

# The `cava run` build of the OpenCL spec to measure: DIR when given, else
# this checkout's, built first (release).
cava_run_dir() {
    if [ -n "${1:-}" ]; then
        echo "$1"
        return
    fi
    cargo build --quiet --release -p cava-cli
    target/release/cava run specs/opencl.lapis -- true >/dev/null 2>&1
    echo target/cava-run/opencl
}

# Compiles the workloads (bench/opencl/workloads.c, relayed.c) into $out.
build_workloads() {
    mkdir -p "$out"
    cc -std=c99 -O2 -o "$out/workloads" bench/opencl/workloads.c -lOpenCL
    cc -std=c11 -O2 -o "$out/relayed" bench/opencl/relayed.c -lOpenCL -lpthread
}

# The median of the numbers on standard input, one per line.
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
