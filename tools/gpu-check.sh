#!/usr/bin/env bash
# The GPU check (docs/backend.md), for a machine with a GPU, the CUDA toolkit, a C++ compiler and
# CMake, and none of this project's other packages (no MPI, HDF5, Boost, OpenBLAS or network):
# builds the backends, the model and their tests for sm_80 and sm_90 (SYMGNN_BACKEND_ONLY), runs
# the backend tests (every operation and the whole model on CUDA against the CPU; bitwise
# repeatability on the GPU) and the GPU benchmark, and prints one summary. (The CPU backend of this
# build uses a reference GEMM, so CPU speed is measured in the full build, not here.) Outputs go to $OUT/gpu-check (or build-gpu/gpu-check).
#
# GoogleTest is used where installed, else built from build-gtest-src/: run
# `tools/gpu-check.sh --pack-gtest` on a machine that has Debian's googletest package to copy its
# sources there, and carry that folder with the checkout.
#   tools/gpu-check.sh [--pack-gtest]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if [ "${1:-}" = "--pack-gtest" ]; then
  rm -rf "$here/build-gtest-src"
  cp -r /usr/src/googletest "$here/build-gtest-src"
  echo "gpu-check: GoogleTest sources in build-gtest-src/ (carry it)"
  exit 0
fi
build=${SYMGNN_GPU_BUILD:-$here/build-gpu}
out=${OUT:-$build}/gpu-check
mkdir -p "$out"
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi
start=$(date +%s)
gtest=()
[ -d "$here/build-gtest-src" ] && gtest=(-DSYMGNN_GTEST_SOURCE="$here/build-gtest-src")
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
  nvcc --version | tail -1
} | tee "$out/machine.txt"
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release -DSYMGNN_BACKEND_ONLY=ON -DSYMGNN_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="80;90" -DSYMGNN_WERROR=ON "${gtest[@]}" >"$out/configure.txt"
cmake --build "$build" -j "$(nproc)" >"$out/build.txt" 2>&1 || { tail -40 "$out/build.txt"; exit 1; }
built=$(date +%s)

status=0
SYMGNN_CUDA_SYNC=1 "$build/symgnn_backend_tests" --gtest_brief=1 >"$out/tests.txt" 2>&1 || status=1
"$build/symgnn_backend_bench" --device cuda >"$out/bench-cuda.txt" 2>&1 || status=1

echo "== gpu-check summary ($(date -u +%Y-%m-%dT%H:%MZ); build $((built - start)) s, total $(($(date +%s) - start)) s)"
cat "$out/machine.txt"
grep -E "^\[  (PASSED|FAILED|SKIPPED) " "$out/tests.txt" || tail -20 "$out/tests.txt"
grep -E "FAILED|Failure" -A3 "$out/tests.txt" | head -40 || true
echo "-- benchmark (symgnn_backend_bench --device cuda)"
cat "$out/bench-cuda.txt"
exit $status
