#!/usr/bin/env bash
# README command 2: set up, build with warnings as errors, and run every test; then the sanitizer
# pass (tools/sanitize.sh: short fuzzing runs and the unit tests under ASan and UBSan).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# ctest -j 2 runs two tests of two threads each on two cores: OpenMP threads that spin at a
# barrier take the core their partner needs (a 0.5 s test took 600 s on a CI machine).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
SYMGNN_CMAKE_FLAGS="-DSYMGNN_WERROR=ON ${SYMGNN_CMAKE_FLAGS:-}" "$here/tools/setup.sh" "$here/build"
cd "$here/build"
ctest --output-on-failure -j 2 --timeout 900
bash "$here/tools/sanitize.sh"
