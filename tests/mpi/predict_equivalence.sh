#!/usr/bin/env bash
# `predict` on P ranks against one process, from an HDF5 structure read in parallel (each rank
# its block) to the HDF5 and extxyz outputs written in parallel: the same atoms, columns and
# metrics, and predictions equal to float32 round-off.
# usage: predict_equivalence.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
"$bin" train --train "$repo/data/cuzr/train0.extxyz" --val "$repo/data/cuzr/train6.extxyz" \
  --epochs 2 --eval-every 1 --dim 8 --heads "2 1" --decoder-layers 2 --seed 5 \
  --out "$work/model" > "$work/train.log"
"$bin" convert "$repo/data/cuzr/train6.extxyz" "$work/glass.h5"
"$bin" predict "$work/model/last.h5" "$work/glass.h5" --out "$work/serial" > "$work/serial.log"
mpirun -np 2 --oversubscribe --bind-to none "$bin" predict "$work/model/last.h5" "$work/glass.h5" \
  --grid 2x1x1 --out "$work/p2" > "$work/p2.log"
mpirun -np 4 --oversubscribe --bind-to none "$bin" predict "$work/model/last.h5" "$work/glass.h5" \
  --grid 2x2x1 --out "$work/p4" > "$work/p4.log"
PYTHONPATH=$(dirname "$0") /usr/bin/python3 - "$work" <<'PY'
import re, sys
import numpy as np
from h5_datasets import datasets
work = sys.argv[1]
def metrics(log):
    return re.findall(r"Pearson (\S+)  MAE (\S+)  RMSE (\S+)", open(log).read())
ref = datasets(f"{work}/serial/glass.pred.h5")
ref_text = open(f"{work}/serial/glass.pred.extxyz").read().splitlines()
pred = "structures/000000/properties/eb_pred"
assert ref[pred].shape == (8000,), ref[pred].shape
failed = False
for name in ["p2", "p4"]:
    got = datasets(f"{work}/{name}/glass.pred.h5")
    same = sorted(got) == sorted(ref) and all(
        np.array_equal(got[k], ref[k]) for k in ref if k != pred)
    worst = np.max(np.abs(got[pred] - ref[pred]) / (np.abs(ref[pred]) + 1e-3))
    text = open(f"{work}/{name}/glass.pred.extxyz").read().splitlines()
    text_ok = len(text) == len(ref_text) and text[:2] == ref_text[:2] and all(
        a.rsplit(" ", 1)[0] == b.rsplit(" ", 1)[0] and
        abs(float(a.rsplit(" ", 1)[1]) - float(b.rsplit(" ", 1)[1])) < 1e-4
        for a, b in zip(text[2:], ref_text[2:]))
    m_ok = metrics(f"{work}/{name}.log") == metrics(f"{work}/serial.log") != []
    ok = same and worst < 1e-5 and text_ok and m_ok
    failed |= not ok
    print(f"{name}: other datasets identical {same}, worst relative prediction {worst:.1e}, "
          f"extxyz {text_ok}, metrics {metrics(f'{work}/{name}.log')} {'ok' if ok else 'FAIL'}")
sys.exit(1 if failed else 0)
PY
