#!/usr/bin/env bash
# The ablation table (the paper's Table 3) on our protocol: one recipe (configs/symgnn-cuzr.ini),
# one wall-time budget per run, train0-5 -> train6, each variant with each seed; then the table
# (CSV) and a bar chart (PNG) by tools/ablation_table.py. Resumable (tools/budgeted_run.sh).
# usage: tools/ablation.sh [RUN_DIR [TABLE_DIR]]   (defaults: out/ablation, docs/ablation)
# env:   ABLATION_MINUTES (12), ABLATION_SEEDS ("1 2"), ABLATION_THREADS (1),
#        ABLATION_VARIANTS (all, in the order below), SYMGNN_BIN, SYMGNN_DATA
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/budgeted_run.sh
source "$repo/tools/budgeted_run.sh"
runs=${1:-$repo/out/ablation}
table=${2:-$repo/docs/ablation}
bin=${SYMGNN_BIN:-$repo/build/symgnn-dist}
data=${SYMGNN_DATA:-$repo/../shared/datasets/cuzr-symgnn}
minutes=${ABLATION_MINUTES:-12}
seeds=${ABLATION_SEEDS:-"1 2"}
threads=${ABLATION_THREADS:-1}
declare -A options=(
  [vonmises-k2]="--symmetrization vonmises --transforms 2"
  [vonmises-k6]="--symmetrization vonmises --transforms 6"
  [augment]="--symmetrization augment"
  [fixed]="--symmetrization fixed"
  [uniform]="--symmetrization uniform --transforms 2"
  [none]="--symmetrization none"
  [length]="--symmetrization length")
read -r -a variants <<< "${ABLATION_VARIANTS:-vonmises-k2 vonmises-k6 augment fixed uniform none length}"
for v in "${variants[@]}"; do
  [[ -n ${options[$v]+set} ]] || { echo "ablation: unknown variant '$v' (${!options[*]})" >&2; exit 2; }
done
[[ -x $bin ]] || { echo "ablation: no binary at $bin (build first: bash tools/test.sh)" >&2; exit 2; }
for seed in $seeds; do  # every variant once before any twice: a cut-short grid is still a table
  for v in "${variants[@]}"; do
    # shellcheck disable=SC2086  # the options are words
    budgeted_run "$runs/$v-seed$seed" "ablation: $v, seed $seed, $minutes minutes" \
      "$bin" train --config "$repo/configs/symgnn-cuzr.ini" ${options[$v]} --seed "$seed" \
      --threads "$threads" --time-limit "$minutes" \
      --train "$data"/train{0,1,2,3,4,5}.extxyz --val "$data/train6.extxyz"
  done
done
/usr/bin/python3 "$repo/tools/ablation_table.py" "$runs" "$table"
