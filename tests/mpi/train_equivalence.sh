#!/usr/bin/env bash
# Five training steps on P ranks (decomposed, data-parallel, mixed) against one process: the same
# losses and Pearson values each epoch, and the same weights at the end, to float32 round-off.
# And a restart on another rank count: three steps on one process, then two more on four ranks
# from its checkpoint, ending where the five serial steps end. Each parallel run reports its
# communication time (halo exchanges, gradient sums) within its training steps' time.
# usage: train_equivalence.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
args=(--train "$repo/data/cuzr/train0.extxyz" "$repo/data/cuzr/train6.extxyz"
      --val "$repo/data/cuzr/train6.extxyz" --eval-every 1 --dim 8 --heads "2 1"
      --decoder-layers 2 --seed 3)
"$bin" train "${args[@]}" --epochs 5 --out "$work/serial" > "$work/serial.log"
run() {  # name ranks options...
  local name=$1 ranks=$2; shift 2
  mpirun -np "$ranks" --oversubscribe --bind-to none "$bin" train "${args[@]}" --epochs 5 "$@" \
    --out "$work/$name" > "$work/$name.log"
}
run decomposed 4 --grid 2x2x1
run data-parallel 2 --groups 2 --grid 1x1x1
run mixed 4 --groups 2 --grid 2x1x1
"$bin" train "${args[@]}" --epochs 3 --out "$work/restarted" > "$work/first-part.log"
run restarted 4 --grid 2x2x1 --restart auto
/usr/bin/python3 - "$work" <<'PY'
import csv, re, sys
import h5py, numpy as np
work = sys.argv[1]
def curve(name):  # the restarted run's curve.csv holds both parts
    with open(f"{work}/{name}/curve.csv") as f:
        return [(float(r["loss"]), float(r["train_pearson"]), float(r["val_pearson"]))
                for r in csv.DictReader(f)]
def weights(name):
    with h5py.File(f"{work}/{name}/last.h5") as h:
        return np.concatenate([np.ravel(h["params"][k][()]).astype(float) for k in sorted(h["params"])])
ref_curve, ref_w = curve("serial"), weights("serial")
assert len(ref_curve) == 5, ref_curve
failed = False
for name in ["decomposed", "data-parallel", "mixed", "restarted"]:
    c, w = curve(name), weights(name)
    loss = max(abs(a[0] - b[0]) / b[0] for a, b in zip(c, ref_curve))
    r = max(max(abs(a[1] - b[1]), abs(a[2] - b[2])) for a, b in zip(c, ref_curve))
    dw = np.linalg.norm(w - ref_w) / np.linalg.norm(ref_w)
    ok = len(c) == 5 and loss < 1e-5 and r < 1e-4 and dw < 2e-4
    failed |= not ok
    print(f"{name:14s} losses rel {loss:.1e}  Pearson abs {r:.1e}  weights rel {dw:.1e}  "
          f"{'ok' if ok else 'FAIL'}")
pattern = (r"communication in training steps, mean / max over (\d+) ranks: halo exchange "
           r"([\d.]+) / ([\d.]+) s, gradient sums ([\d.]+) / ([\d.]+) s, of ([\d.]+) / ([\d.]+) s")
for name, ranks in [("decomposed", 4), ("data-parallel", 2), ("mixed", 4)]:
    m = re.search(pattern, open(f"{work}/{name}.log").read())
    t = [float(x) for x in m.groups()[1:]] if m else []
    ok = (m is not None and int(m[1]) == ranks and t[0] <= t[1] and t[2] <= t[3]
          and 0 < t[4] <= t[5] and t[1] + t[3] <= t[5] and (name == "data-parallel" or t[1] > 0))
    failed |= not ok
    print(f"{name:14s} communication: {m[0] if m else 'no report'}  {'ok' if ok else 'FAIL'}")
sys.exit(1 if failed else 0)
PY
