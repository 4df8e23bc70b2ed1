#!/usr/bin/env bash
# One command from a checkpoint and a glass to the paper's explanation results: symgnn-dist explain
# (edge weights, importance, Table 6), then Figures 4, 5a and 5b (tools/explain_figures.py).
# usage: tools/explain.sh MODEL.h5 STRUCTURE OUT_DIR [explain options, e.g. --nearest-origin 50]
# The centres are spread over SYMGNN_NP ranks of one thread (default: one per core) under mpirun.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
if (($# < 3)); then
  echo "usage: tools/explain.sh MODEL.h5 STRUCTURE OUT_DIR [explain options]" >&2
  exit 2
fi
model=$1 structure=$2 out=$3
shift 3
np=${SYMGNN_NP:-$(nproc)}
launch=() threads=()
if ((np > 1)) && command -v mpirun >/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
  launch=(mpirun -np "$np" --bind-to none)
  [[ " $* " == *" --threads"* ]] || threads=(--threads 1)
fi
"${launch[@]}" "$here/build/symgnn-dist" explain "$model" "$structure" --out "$out" "${threads[@]}" "$@"
stem=$(basename "$structure")
/usr/bin/python3 "$here/tools/explain_figures.py" "$out" "${stem%.*}"
