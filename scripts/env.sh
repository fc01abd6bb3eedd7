# Sourced by the scripts in this folder: installs the system packages the
# build and tests need (when missing, with apt-get) and sets the environment.
# Safe to source repeatedly: it does nothing that is already done.

packages=(build-essential pkg-config ca-certificates libclang-dev clang opencl-headers zlib1g-dev
    pocl-opencl-icd ocl-icd-libopencl1 ocl-icd-opencl-dev clinfo
    python3-pip python3-pyopencl python3-pytest python3-mako)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
fi
if [ ${#missing[@]} -gt 0 ]; then
    sudo_cmd=""
    if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
    echo "installing system packages: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo_cmd apt-get update -qq
    $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Several libclang versions may be installed (PoCL pulls in a newer one than
# libclang-dev); use the one whose clang headers are installed.
if [ -z "${LIBCLANG_PATH:-}" ] && [ -d /usr/lib/llvm-14/lib ]; then
    export LIBCLANG_PATH=/usr/lib/llvm-14/lib
fi

# NVIDIA's cuda.h may not be committed (licence): fetch it from PyPI for the
# `cava init` test on it. Without the network that test says it was skipped.
cuda_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cava/cuda-12.9.79"
if [ ! -f "$cuda_dir/nvidia/cuda_runtime/include/cuda.h" ] && command -v python3 >/dev/null 2>&1; then
    mkdir -p "$cuda_dir"
    if python3 -m pip download -q --no-deps "nvidia-cuda-runtime-cu12==12.9.79" -d "$cuda_dir" >/dev/null 2>&1; then
        (cd "$cuda_dir" && python3 -m zipfile -e nvidia_cuda_runtime_cu12-*.whl . >/dev/null)
    fi
fi
if [ -z "${CAVA_CUDA_INCLUDE:-}" ] && [ -f "$cuda_dir/nvidia/cuda_runtime/include/cuda.h" ]; then
    export CAVA_CUDA_INCLUDE="$cuda_dir/nvidia/cuda_runtime/include"
fi

# pyopencl's test suite is not in Debian's python3-pyopencl: fetch the
# matching sdist (tests in its test/ folder) for cava-cli/tests/pyopencl.rs.
# Without the network that test says it was skipped.
pyopencl_dir="${XDG_CACHE_HOME:-$HOME/.cache}/cava/pyopencl-2022.3.1"
if [ ! -f "$pyopencl_dir/pyopencl-2022.3.1/test/test_wrapper.py" ] && command -v python3 >/dev/null 2>&1; then
    mkdir -p "$pyopencl_dir"
    if python3 -m pip download -q --no-binary pyopencl --no-deps "pyopencl==2022.3.1" -d "$pyopencl_dir" >/dev/null 2>&1; then
        tar -xzf "$pyopencl_dir/pyopencl-2022.3.1.tar.gz" -C "$pyopencl_dir"
    fi
fi
