#!/usr/bin/env bash
# Side by side, in one run: one full-batch training epoch over train0-5 and the prediction of the
# 8,000-atom train6, for symgnn-dist and for the published model in PyTorch
# (../shared/reference/symgnn_torch.py), with the peak memory of each. About 8 minutes on 2 cores
# (the PyTorch epoch alone takes about 190 s, and its benchmark runs a warm-up step first) and
# 20 GiB of memory for PyTorch.
# usage: tools/bench_vs_torch.sh [THREADS]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
data=$here/../shared/datasets/cuzr-symgnn
ref=$here/../shared/reference/symgnn_torch.py
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
peak() { awk -F': ' '/Maximum resident set size/ {printf "%.2f GiB", $2 / 1048576}' "$1"; }

# Ours: the published setting (fixed transforms), five epochs; the median of epochs 2-5 (the
# first pays for fresh pages). Then the same cores as MPI ranks of one thread each,
# data-parallel (--groups: each rank holds three of the six glasses; BatchNorm statistics and
# gradients are summed over the ranks, so each step is the same full-batch step).
# SYMGNN_BASELINE=path/to/another/symgnn-dist measures that binary the same way, in the same run
# (a change's before and after); SYMGNN_SKIP_TORCH=1 leaves PyTorch out.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
median_epoch() {
  awk -F, 'NR > 2 {print $5}' "$1/curve.csv" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'
}
run_ours() {  # BINARY NAME
  /usr/bin/time -v "$1" train --config "$here/configs/symgnn-cuzr-paper.ini" \
    --train "$data"/train{0,1,2,3,4,5}.extxyz --val "$data/train6.extxyz" --epochs 5 \
    --eval-every 1 --threads "$threads" --out "$work/$2" > "$work/$2.log" 2> "$work/$2.time"
  /usr/bin/time -v mpirun -np "$threads" --bind-to core -x OMP_NUM_THREADS=1 \
    "$1" train --config "$here/configs/symgnn-cuzr-paper.ini" \
    --train "$data"/train{0,1,2,3,4,5}.extxyz --val "$data/train6.extxyz" --epochs 5 \
    --eval-every 1 --threads 1 --groups "$threads" --grid 1x1x1 --out "$work/$2-ranks" \
    > "$work/$2-ranks.log" 2> "$work/$2-ranks.time"
}
run_ours "$here/build/symgnn-dist" ours
ours_epoch=$(median_epoch "$work/ours")
ranks_epoch=$(median_epoch "$work/ours-ranks")
if [ -n "${SYMGNN_BASELINE:-}" ]; then
  run_ours "$SYMGNN_BASELINE" base
  same="identical"
  for group in params buffers optimizer; do
    h5diff -q "$work/ours/last.h5" "$work/base/last.h5" "/$group" "/$group" >/dev/null ||
      same="different"
  done
fi
/usr/bin/time -v "$here/build/symgnn-dist" predict "$work/ours/last.h5" "$data/train6.extxyz" \
  --threads "$threads" --out "$work/pred" > "$work/pred.log" 2> "$work/pred.time"
ours_predict=$(sed -n 's/.*(graph + prediction \([0-9.]*\) s).*/\1/p' "$work/pred.log")

# PyTorch: its own benchmark mode (a warm-up step, then one timed epoch, then inference).
if [ -z "${SYMGNN_SKIP_TORCH:-}" ]; then
  /usr/bin/time -v /usr/bin/python3 "$ref" bench "$data" --epochs 1 --threads "$threads" \
    > "$work/torch.log" 2> "$work/torch.time"
  torch_epoch=$(sed -n 's/.*train_epoch_s median \([0-9.]*\).*/\1/p' "$work/torch.log")
  torch_predict=$(sed -n 's/.*infer_8000_atoms_s \([0-9.]*\).*/\1/p' "$work/torch.log")
fi

echo "| ($threads threads, $(date -u +%Y-%m-%d)) | training epoch, train0-5 | peak memory | predict train6 (8,000 atoms) |"
echo "| --- | --- | --- | --- |"
echo "| symgnn-dist | ${ours_epoch} s | $(peak "$work/ours.time") | ${ours_predict} s (with graph; peak $(peak "$work/pred.time")) |"
echo "| symgnn-dist, $threads MPI ranks x 1 thread (--groups $threads) | ${ranks_epoch} s | $(peak "$work/ours-ranks.time") per rank | |"
if [ -n "${SYMGNN_BASELINE:-}" ]; then
  echo "| baseline $SYMGNN_BASELINE | $(median_epoch "$work/base") s | $(peak "$work/base.time") | |"
  echo "| baseline, $threads MPI ranks x 1 thread | $(median_epoch "$work/base-ranks") s | $(peak "$work/base-ranks.time") per rank | |"
  echo "weights, running statistics and optimiser state after 5 epochs (threads): $same to the baseline's"
fi
if [ -z "${SYMGNN_SKIP_TORCH:-}" ]; then
  echo "| PyTorch reference | ${torch_epoch} s | $(peak "$work/torch.time") | ${torch_predict} s (graph excluded) |"
  awk -v a="$torch_epoch" -v b="$ours_epoch" -v c="$ranks_epoch" \
    'BEGIN {printf "speed-up of a training epoch: %.1fx (threads), %.1fx (ranks)\n", a / b, a / c}'
fi
