#!/usr/bin/env bash
# Interrupted training resumes exactly, without a batch system:
# - SIGTERM and SIGUSR1 mid-run: a checkpoint within the epoch in progress, exit status 75, and
#   `--restart auto` ends with the weights of an uninterrupted run, bit for bit;
# - kill -9 mid-run: the resume starts from the last periodic checkpoint, drops the curve lines
#   it computes again, and ends bit for bit where the uninterrupted run ends;
# - a last.h5 cut short plus a stray temporary file: `--restart auto` passes over both (with a
#   warning) and resumes from the newest complete checkpoint (best.h5).
# usage: train_interrupts.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
export OMP_NUM_THREADS=1
rm -rf "$work" && mkdir -p "$work"
epochs=16
args=(--train "$repo/data/cuzr/train0.extxyz" --val "$repo/data/cuzr/train6.extxyz"
      --eval-every 1 --checkpoint-every 4 --dim 8 --heads "2 1" --decoder-layers 2
      --eval-transforms 2 --seed 5 --refresh-bn)
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bin" train "${args[@]}" --epochs $epochs --out "$work/straight" > "$work/straight.log"

curve_lines() { [ -f "$1/curve.csv" ] && wc -l < "$1/curve.csv" || echo 0; }
# Starts a run in the background and waits until its curve has more than $2 lines.
start_and_wait() {  # dir lines
  "$bin" train "${args[@]}" --epochs $epochs --out "$1" > "$1.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    [ "$(curve_lines "$1")" -gt "$2" ] && return 0
    kill -0 $pid 2>/dev/null || fail "$1: the run ended before it could be interrupted"
    sleep 0.1
  done
  fail "$1: no progress"
}

for sig in TERM USR1; do
  start_and_wait "$work/sig$sig" 3
  kill -$sig $pid
  status=0
  wait $pid || status=$?
  [ $status -eq 75 ] || fail "SIG$sig: exit status $status, expected 75"
  grep -q "SIG$sig received: stopping at epoch" "$work/sig$sig.log" || fail "SIG$sig: no message"
  "$bin" train "${args[@]}" --epochs $epochs --out "$work/sig$sig" --restart auto \
    >> "$work/sig$sig.log"
  echo "SIG$sig: exit status 75, $(grep -o 'stopping at epoch [0-9]*' "$work/sig$sig.log")"
done

start_and_wait "$work/killed" 9  # past the periodic checkpoint of epoch 8
kill -9 $pid
wait $pid 2>/dev/null || true
"$bin" train "${args[@]}" --epochs $epochs --out "$work/killed" --restart auto >> "$work/killed.log"
grep -q "restarting from .*/killed/\(last\|best\).h5 at epoch" "$work/killed.log" ||
  fail "kill -9: did not resume from a checkpoint"
echo "kill -9: $(grep -o 'restarting from .*' "$work/killed.log")"

# last.h5 cut short (as by a full disk under a writer without atomic rename) and a stray
# temporary of an interrupted write: best.h5 (epoch <= 8) is the newest complete checkpoint.
"$bin" train "${args[@]}" --epochs 8 --out "$work/corrupt" > "$work/corrupt.log"
size=$(stat -c %s "$work/corrupt/last.h5")
head -c $((size / 2)) "$work/corrupt/last.h5" > "$work/corrupt/last.h5.part"
mv "$work/corrupt/last.h5.part" "$work/corrupt/last.h5"
head -c 1000 "$work/corrupt/best.h5" > "$work/corrupt/last.h5.tmp.12345.0"
"$bin" train "${args[@]}" --epochs $epochs --out "$work/corrupt" --restart auto \
  > "$work/corrupt-resume.log" 2>&1
grep -q "warning: --restart auto passes over .*/corrupt/last.h5" "$work/corrupt-resume.log" ||
  fail "corrupt last.h5 was not reported"
grep -q "restarting from .*/corrupt/best.h5" "$work/corrupt-resume.log" ||
  fail "did not resume from best.h5"
echo "corrupt last.h5: $(grep -o 'restarting from .*' "$work/corrupt-resume.log")"

/usr/bin/python3 - "$work" $epochs <<'PY'
import csv, sys
import h5py, numpy as np
work, epochs = sys.argv[1], int(sys.argv[2])
def weights(name):
    with h5py.File(f"{work}/{name}/last.h5") as h:
        assert h["state"].attrs["epoch"] == epochs, (name, h["state"].attrs["epoch"])
        return {k: h[g][k][()] for g in ("params", "buffers") for k in h[g]}
def curve(name):  # everything but the timings
    with open(f"{work}/{name}/curve.csv") as f:
        return [(r["epoch"], r["loss"], r["train_pearson"], r["val_pearson"])
                for r in csv.DictReader(f)]
ref_w, ref_c = weights("straight"), curve("straight")
failed = False
for name in ["sigTERM", "sigUSR1", "killed", "corrupt"]:
    w = weights(name)
    same = w.keys() == ref_w.keys() and all(np.array_equal(w[k], ref_w[k]) for k in ref_w)
    c = curve(name)
    same_curve = c == ref_c
    failed |= not (same and same_curve)
    print(f"{name:8s} weights {'bitwise equal' if same else 'DIFFER'}, curve "
          f"{'as uninterrupted' if same_curve else 'DIFFERS'} ({len(c)} lines)")
sys.exit(1 if failed else 0)
PY
