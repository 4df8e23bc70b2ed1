#!/usr/bin/env bash
# Issue 14, part 4: the published recipe (configs/symgnn-cuzr-paper.ini: full batch, AMSGrad 1e-4,
# clip 0.1, fixed transforms, evaluation every 10 epochs, patience 1000 epochs) on train0-5,
# validated on train6, to its own stopping rule: several thousand epochs at 5.5-7 s each on two
# cores, so it runs in pieces. Each piece resumes from the last checkpoint (--restart auto):
# bitwise on the same layout, to round-off on another (ranks, threads). When it ends it copies
# the run's restart state (last.h5, best.h5, curve.csv, train.log) to PUBLISHED_STATE, which is
# committed: out/ does not outlive a development machine, the repository does.
# usage: tools/published_run.sh [MINUTES]     (this piece's wall-time budget; 0: to the end)
# env:   PUBLISHED_RUN (out/published), PUBLISHED_STATE (docs/published-run), PUBLISHED_THREADS
#        (0: all cores), PUBLISHED_RANKS (1; N > 1: N data-parallel MPI ranks of PUBLISHED_THREADS
#        threads each, `--groups N`: the same full-batch step to round-off, and on two cores a
#        fifth faster than one process of two threads), SYMGNN_BIN, SYMGNN_DATA
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
run=${PUBLISHED_RUN:-$repo/out/published}
state=${PUBLISHED_STATE:-$repo/docs/published-run}
bin=${SYMGNN_BIN:-$repo/build/symgnn-dist}
data=${SYMGNN_DATA:-$repo/../shared/datasets/cuzr-symgnn}
minutes=${1:-0}
kept=(last.h5 best.h5 curve.csv train.log)
[[ -x $bin ]] || { echo "published_run: no binary at $bin (build first: bash tools/test.sh)" >&2; exit 2; }
mkdir -p "$run" "$state"
if [[ ! -e $run/last.h5 && -e $state/last.h5 ]]; then  # a fresh machine: continue the kept run
  for f in "${kept[@]}"; do [[ -e $state/$f ]] && cp "$state/$f" "$run/$f"; done
fi
ranks=${PUBLISHED_RANKS:-1}
launch=() layout=()
if ((ranks > 1)); then
  [ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  launch=(mpirun -np "$ranks" --bind-to none)
  layout=(--groups "$ranks" --grid 1x1x1)
  : "${PUBLISHED_THREADS:=1}"
fi
echo "== piece started $(date -u '+%Y-%m-%d %H:%M') UTC, budget ${minutes} min, $(nproc) cores, $ranks rank(s)" >> "$run/train.log"
set +e
"${launch[@]}" "$bin" train --config "$repo/configs/symgnn-cuzr-paper.ini" \
  --train "$data"/train{0,1,2,3,4,5}.extxyz --val "$data/train6.extxyz" \
  --threads "${PUBLISHED_THREADS:-0}" --time-limit "$minutes" --restart auto --plots off "${layout[@]}" \
  --out "$run" 2>&1 | tee -a "$run/train.log"
status=${PIPESTATUS[0]}
set -e
for f in "${kept[@]}"; do [[ -e $run/$f ]] && cp "$run/$f" "$state/$f"; done
exit "$status"
