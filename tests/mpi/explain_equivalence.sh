#!/usr/bin/env bash
# `explain` with its centres spread over 1, 2 and 4 ranks: the same masks, predictions, loss
# curves, Table 6 and per-atom importance, bit for bit (each centre's mask is keyed by the seed
# and the centre, whichever rank explains it).
# usage: explain_equivalence.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
"$bin" train --train "$repo/data/cuzr/train0.extxyz" --val "$repo/data/cuzr/train6.extxyz" \
  --epochs 2 --eval-every 1 --dim 8 --heads "2 2 1" --decoder-layers 2 --seed 5 \
  --out "$work/model" > "$work/train.log"
args=("$work/model/last.h5" "$repo/data/cuzr/train6.extxyz" --random 5 --seed 3 --steps 25)
"$bin" explain "${args[@]}" --out "$work/serial" > "$work/serial.log"
for np in 2 4; do
  mpirun -np $np --oversubscribe --bind-to none "$bin" explain "${args[@]}" --out "$work/p$np" \
    > "$work/p$np.log"
done
PYTHONPATH=$(dirname "$0") /usr/bin/python3 - "$work" <<'PY'
import sys
import numpy as np
from h5_datasets import datasets
work = sys.argv[1]
ref = datasets(f"{work}/serial/train6.explain.h5")
assert ref["centres/id"].shape == (5,), ref["centres/id"].shape
assert len(np.unique(ref["edges/centre"])) == 5
failed = False
for name in ["p2", "p4"]:
    got = datasets(f"{work}/{name}/train6.explain.h5")
    h5_ok = sorted(got) == sorted(ref) and all(np.array_equal(got[k], ref[k]) for k in ref)
    same = [open(f"{work}/{name}/train6.{f}").read() == open(f"{work}/serial/train6.{f}").read()
            for f in ("table6.csv", "explain.extxyz")]
    ok = h5_ok and all(same)
    failed |= not ok
    print(f"{name}: explain.h5 identical {h5_ok}, table6.csv {same[0]}, extxyz {same[1]}: "
          f"{'ok' if ok else 'FAIL'}")
sys.exit(1 if failed else 0)
PY
