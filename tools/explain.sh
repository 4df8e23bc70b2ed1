#!/usr/bin/env bash
# One command from a checkpoint and a glass to the paper's explanation results: symgnn-dist explain
# (edge weights, importance, Table 6), then Figures 4, 5a and 5b (tools/explain_figures.py).
# usage: tools/explain.sh MODEL.h5 STRUCTURE OUT_DIR [explain options, e.g. --nearest-origin 50]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if (($# < 3)); then
  echo "usage: tools/explain.sh MODEL.h5 STRUCTURE OUT_DIR [explain options]" >&2
  exit 2
fi
model=$1 structure=$2 out=$3
shift 3
"$here/build/symgnn-dist" explain "$model" "$structure" --out "$out" "$@"
stem=$(basename "$structure")
/usr/bin/python3 "$here/tools/explain_figures.py" "$out" "${stem%.*}"
