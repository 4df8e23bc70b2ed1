#!/usr/bin/env bash
# README command 1: set up, build, and run the main job on the sample that ships with the checkout:
# the neighbour graphs, a short training run (configs/quickstart.ini), and predictions for the
# validation glass. Outputs go to out/quickstart/.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/tools/setup.sh" "$here/build"
cd "$here"
build/symgnn-dist graph data/cuzr/train0.extxyz data/cuzr/train6.extxyz
build/symgnn-dist train --config configs/quickstart.ini --out out/quickstart
build/symgnn-dist predict out/quickstart/best.h5 data/cuzr/train6.extxyz --out out/quickstart/predictions
