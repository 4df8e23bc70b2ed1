#!/usr/bin/env bash
# Installs the Debian packages symgnn-dist needs (only those missing), then configures and builds.
# Usage: tools/setup.sh [BUILD_DIR]   (default: build)   Extra CMake flags: SYMGNN_CMAKE_FLAGS.
#        tools/setup.sh --packages-only   (install, do not build; more packages: SYMGNN_PACKAGES)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
packages_only=0
if [[ ${1:-} == --packages-only ]]; then packages_only=1; shift; fi
build=${1:-$here/build}

packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin libhdf5-openmpi-dev
          hdf5-tools libboost-program-options-dev libopenblas-dev libopenblas-openmp-dev libgtest-dev libgmock-dev
          googletest libbenchmark-dev python3-torch python3-numpy python3-h5py python3-matplotlib
          slurm-wlm munge libgudhi-dev libcgal-dev python3-venv python3-dev pybind11-dev
          python3-pybind11 python3-ase)
read -r -a extra <<< "${SYMGNN_PACKAGES:-}"
packages+=("${extra[@]}")
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd=sudo
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
((packages_only)) && exit 0

# nvcc lives outside PATH on stock CUDA installs; with it the CUDA backend is built (AUTO).
if ! command -v nvcc >/dev/null && [ -x /usr/local/cuda/bin/nvcc ]; then
  export PATH=/usr/local/cuda/bin:$PATH
fi

jobs=$(nproc)
# shellcheck disable=SC2086  # the flags are words
cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=Release ${SYMGNN_CMAKE_FLAGS:-} >/dev/null
cmake --build "$build" -j "$jobs"

# HomCloud (PyPI) in a virtual environment of the build folder, for the test that checks our
# optimal cycles against it; that test skips, saying why, when this fails (no PyPI, no wheel).
venv=$build/homcloud-venv
if ! "$venv/bin/python" -c 'import homcloud.interface' 2>/dev/null; then
  if /usr/bin/python3 -m venv --system-site-packages "$venv" &&
     "$venv/bin/pip" install -q --disable-pip-version-check homcloud==5.4.0; then
    echo "setup: HomCloud installed in $venv"
  else
    echo "setup: HomCloud could not be installed; its cross-check test will skip"
  fi
fi
