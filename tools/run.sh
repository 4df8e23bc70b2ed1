#!/usr/bin/env bash
# README command 1: set up, build, and run the main job on the sample that ships with the checkout.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/tools/setup.sh" "$here/build"
"$here/build/symgnn-dist" graph --config "$here/configs/symgnn-cuzr.ini" \
  "$here/data/cuzr/train0.extxyz" "$here/data/cuzr/train6.extxyz"
