#!/usr/bin/env bash
# Training recipes compared on the unseen-glass score (issue 14): the validation Pearson on
# train6 when training on train0-5 and on train3 when training on train0,1,2,4,5, each run's best
# checkpoint, the two averaged, mean +- std over seeds. One wall-time budget per run; recipes are
# options added to configs/symgnn-cuzr.ini (`base`: the config as it was before this comparison). Resumable (tools/budgeted_run.sh); a train6 run that
# the ablation grid (tools/ablation.sh) already made with the same options is linked, not rerun.
# Then tools/recipes_table.py writes the table and the curves.
# usage: tools/recipes.sh [RUN_DIR [TABLE_DIR]]   (defaults: out/recipes, docs/recipes)
# env:   RECIPE_MINUTES (12), RECIPE_SEEDS ("1 2"), RECIPE_THREADS (1), RECIPES (all, in the
#        order below), RECIPE_PROTOCOLS ("train6 train3"), ABLATION_RUNS (out/ablation),
#        SYMGNN_BIN, SYMGNN_DATA
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=tools/budgeted_run.sh
source "$repo/tools/budgeted_run.sh"
runs=${1:-$repo/out/recipes}
table=${2:-$repo/docs/recipes}
bin=${SYMGNN_BIN:-$repo/build/symgnn-dist}
data=${SYMGNN_DATA:-$repo/../shared/datasets/cuzr-symgnn}
ablation=${ABLATION_RUNS:-$repo/out/ablation}
minutes=${RECIPE_MINUTES:-12}
seeds=${RECIPE_SEEDS:-"1 2"}
threads=${RECIPE_THREADS:-1}
declare -A options=(
  [base]="--transforms 2"  # today's recipe before the recipe comparison (k = 2)
  [k6]="--transforms 6"
  [length]="--symmetrization length"
  [k6-ema]="--transforms 6 --ema 0.99"
  [k6-cosine]="--transforms 6 --lr-schedule cosine-time"
  [k6-adamw]="--transforms 6 --weight-decay 0.05")
declare -A ablation_twin=([base]=vonmises-k2 [k6]=vonmises-k6 [length]=length)
declare -A train_glasses=([train6]="0 1 2 3 4 5" [train3]="0 1 2 4 5")
read -r -a recipes <<< "${RECIPES:-base k6 length k6-ema k6-cosine k6-adamw}"
read -r -a protocols <<< "${RECIPE_PROTOCOLS:-train6 train3}"
for r in "${recipes[@]}"; do
  [[ -n ${options[$r]+set} ]] || { echo "recipes: unknown recipe '$r' (${!options[*]})" >&2; exit 2; }
done
for p in "${protocols[@]}"; do
  [[ -n ${train_glasses[$p]+set} ]] || { echo "recipes: unknown protocol '$p' (train6 train3)" >&2; exit 2; }
done
[[ -x $bin ]] || { echo "recipes: no binary at $bin (build first: bash tools/test.sh)" >&2; exit 2; }
mkdir -p "$runs"
for seed in $seeds; do  # every recipe once before any twice: a cut-short grid is still a table
  for r in "${recipes[@]}"; do
    for p in "${protocols[@]}"; do
      dir=$runs/$r-$p-seed$seed
      twin=$ablation/${ablation_twin[$r]:-none}-seed$seed
      if [[ $p == train6 && -n ${ablation_twin[$r]+set} && ! -e $dir ]] &&
        grep -q '^done: ' "$twin/train.log" 2>/dev/null; then
        ln -s "$twin" "$dir"
        continue
      fi
      train=()
      for g in ${train_glasses[$p]}; do train+=("$data/train$g.extxyz"); done
      # shellcheck disable=SC2086  # the options are words
      budgeted_run "$dir" "recipes: $r, $p, seed $seed, $minutes minutes" \
        "$bin" train --config "$repo/configs/symgnn-cuzr.ini" ${options[$r]} --seed "$seed" \
        --threads "$threads" --time-limit "$minutes" --train "${train[@]}" --val "$data/$p.extxyz"
    done
  done
done
/usr/bin/python3 "$repo/tools/recipes_table.py" "$runs" "$table"
