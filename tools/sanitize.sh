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

# Not the HDF5 structure reader: what a short run finds there is HDF5 1.10's own (use after free,
# endless loops on damaged object headers and heaps; fuzz/hdf5-library/README.md); its campaigns
# run by hand, and what they find in our code is kept in fuzz/corpus/h5 and replayed by ctest.
FUZZ_SECONDS=${FUZZ_SECONDS:-10} bash "$repo/tools/fuzz.sh" extxyz dump data config checkpoint
echo "sanitize: building the unit tests in $build ($(date -u +%H:%M) UTC)"
cmake --build "$build" -j "$(nproc)" --target symgnn_tests >> "$build/build.log"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 OMP_NUM_THREADS=2 \
  "$build/tests/symgnn_tests" --gtest_filter="$filter" --gtest_brief=1
echo "sanitize: passed"
