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
# first pays for fresh pages).
/usr/bin/time -v "$here/build/symgnn-dist" train --config "$here/configs/symgnn-cuzr-paper.ini" \
  --train "$data"/train{0,1,2,3,4,5}.extxyz --val "$data/train6.extxyz" --epochs 5 \
  --eval-every 1 --threads "$threads" --out "$work/ours" > "$work/ours.log" 2> "$work/ours.time"
ours_epoch=$(awk -F, 'NR > 2 {print $5}' "$work/ours/curve.csv" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
# Ours again with the same cores as MPI ranks of one thread each, data-parallel (--groups: each
# rank holds three of the six glasses; BatchNorm statistics and gradients are summed over the
# ranks, so each step is the same full-batch step).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
/usr/bin/time -v mpirun -np "$threads" --bind-to core -x OMP_NUM_THREADS=1 \
  "$here/build/symgnn-dist" train --config "$here/configs/symgnn-cuzr-paper.ini" \
  --train "$data"/train{0,1,2,3,4,5}.extxyz --val "$data/train6.extxyz" --epochs 5 \
  --eval-every 1 --threads 1 --groups "$threads" --grid 1x1x1 --out "$work/ranks" \
  > "$work/ranks.log" 2> "$work/ranks.time"
ranks_epoch=$(awk -F, 'NR > 2 {print $5}' "$work/ranks/curve.csv" | sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
/usr/bin/time -v "$here/build/symgnn-dist" predict "$work/ours/last.h5" "$data/train6.extxyz" \
  --threads "$threads" --out "$work/pred" > "$work/pred.log" 2> "$work/pred.time"
ours_predict=$(sed -n 's/.*(graph + prediction \([0-9.]*\) s).*/\1/p' "$work/pred.log")

# PyTorch: its own benchmark mode (a warm-up step, then one timed epoch, then inference).
/usr/bin/time -v /usr/bin/python3 "$ref" bench "$data" --epochs 1 --threads "$threads" \
  > "$work/torch.log" 2> "$work/torch.time"
torch_epoch=$(sed -n 's/.*train_epoch_s median \([0-9.]*\).*/\1/p' "$work/torch.log")
torch_predict=$(sed -n 's/.*infer_8000_atoms_s \([0-9.]*\).*/\1/p' "$work/torch.log")

echo "| ($threads threads, $(date -u +%Y-%m-%d)) | training epoch, train0-5 | peak memory | predict train6 (8,000 atoms) |"
echo "| --- | --- | --- | --- |"
echo "| symgnn-dist | ${ours_epoch} s | $(peak "$work/ours.time") | ${ours_predict} s (with graph; peak $(peak "$work/pred.time")) |"
echo "| symgnn-dist, $threads MPI ranks x 1 thread (--groups $threads) | ${ranks_epoch} s | $(peak "$work/ranks.time") per rank | |"
echo "| PyTorch reference | ${torch_epoch} s | $(peak "$work/torch.time") | ${torch_predict} s (graph excluded) |"
awk -v a="$torch_epoch" -v b="$ours_epoch" -v c="$ranks_epoch" \
  'BEGIN {printf "speed-up of a training epoch: %.1fx (threads), %.1fx (ranks)\n", a / b, a / c}'
