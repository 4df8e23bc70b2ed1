#!/usr/bin/env bash
# A rank that fails stops the whole job with its message: an HDF5 glass whose last atom has a
# non-finite position fails only on the rank whose block holds that atom, while the other ranks
# go on into the first collective; the job must end (non-zero, message naming the file), not hang.
# usage: failing_rank.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
"$bin" train --train "$repo/data/cuzr/train6.extxyz" --val "$repo/data/cuzr/train6.extxyz" \
  --epochs 1 --dim 8 --heads "2 1" --decoder-layers 2 --out "$work/model" > "$work/train.log"
"$bin" convert "$repo/data/cuzr/train6.extxyz" "$work/bad.h5" > /dev/null
/usr/bin/python3 - "$work/bad.h5" <<'PY'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as h:
    h["structures/000000/positions"][7999, 0] = np.nan
PY
status=0
timeout 120 mpirun -np 2 --oversubscribe --bind-to none "$bin" predict "$work/model/last.h5" \
  "$work/bad.h5" --out "$work/pred" > "$work/predict.log" 2>&1 || status=$?
cat "$work/predict.log"
if [[ $status -eq 124 ]]; then echo "FAIL: the job hung (killed after 120 s)"; exit 1; fi
if [[ $status -eq 0 ]]; then echo "FAIL: the job succeeded on a bad file"; exit 1; fi
grep -q "bad.h5" "$work/predict.log" || { echo "FAIL: no message naming the file"; exit 1; }
if ls "$work/pred"/*.h5 "$work/pred"/*.extxyz > /dev/null 2>&1; then
  echo "FAIL: an output was written"; exit 1
fi
echo "ok: the job stopped with status $status and the failing rank's message"
