#!/usr/bin/env bash
# The sanitizer pass of the test command (docs/building.md): every fuzz target for a short time
# (tools/fuzz.sh, which builds the library with clang, AddressSanitizer, UndefinedBehaviorSanitizer
# and libFuzzer's coverage in build-fuzz/), then the unit tests in that same build folder, so
# that memory errors, undefined behaviour and leaks fail the tests, not a user's run.
# env: FUZZ_SECONDS per fuzz target (10), SANITIZE_TESTS (a gtest filter: the unit tests to run)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build=$repo/build-fuzz
# The unit tests of readers, graphs, kernels, layers, the model and its backends (45 s here). Left
# out for the test command's time: the training and explanation runs (9 minutes together; they
# passed clean on 2026-12-05) and the PyTorch parity check; and the CLI tests, whose sanitized
# executable reports at exit what Open MPI's unloaded components never freed (docs/building.md).
filter=${SANITIZE_TESTS:--Cli.*:Parity.*:Train.*:Explain.*}

# The HDF5 target too: what HDF5 1.10 itself does on damaged files (use after free, endless loops;
# fuzz/hdf5-library/README.md) now stays in the child process that reads each file first.
FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash "$repo/tools/fuzz.sh" extxyz dump data h5 config checkpoint
echo "sanitize: building the unit tests in $build ($(date -u +%H:%M) UTC)"
cmake --build "$build" -j "$(nproc)" --target symgnn_tests >> "$build/build.log"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 OMP_NUM_THREADS=2 \
  "$build/tests/symgnn_tests" --gtest_filter="$filter" --gtest_brief=1
echo "sanitize: passed"
