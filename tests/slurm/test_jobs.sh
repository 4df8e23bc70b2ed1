#!/usr/bin/env bash
# The job templates of jobs/ on a real SLURM: a one-node cluster (munged, slurmctld, slurmd)
# started here, the templates scaled down by environment variables (tests/slurm/tiny.ini, 2
# tasks) and submitted with sbatch, their outputs checked; a training job sent SIGTERM mid-run
# requeues itself, resumes and ends with the weights of the uninterrupted job, bit for bit.
# If SLURM cannot start, this test fails and says why: it never skips.
# usage: test_jobs.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
here=$(cd "$(dirname "$0")" && pwd)
source "$here/cluster.sh"
rm -rf "$work" && mkdir -p "$work"
trap 'slurm_cluster_stop "$work/cluster"' EXIT
slurm_cluster_start "$work/cluster"

fail() {
  echo "FAIL: $*" >&2
  for f in "$work"/*.out; do [ -f "$f" ] && { echo "--- $f" >&2; tail -n 30 "$f" >&2; }; done
  exit 1
}
export SYMGNN_HOME=$repo SYMGNN_BIN=$bin
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export SYMGNN_CONFIG=$here/tiny.ini
export SYMGNN_TRAIN=$repo/data/cuzr/train0.extxyz SYMGNN_VAL=$repo/data/cuzr/train6.extxyz
small=(--nodes=1 --ntasks=2 --ntasks-per-node=2 --cpus-per-task=1 --time=00:15:00)

submit() {  # name template [sbatch options...]: prints the job id
  local name=$1 template=$2
  shift 2
  sbatch --parsable --chdir="$repo" --output="$work/$name.out" "${small[@]}" "$@" \
    "$repo/jobs/$template"
}
job_state() { scontrol show job "$1" 2>/dev/null | grep -o 'JobState=[A-Z_]*' | cut -d= -f2; }
terminal_states="COMPLETED FAILED CANCELLED TIMEOUT NODE_FAIL OUT_OF_MEMORY BOOT_FAIL DEADLINE"
is_final() { [ -n "$1" ] && [[ " $terminal_states " == *" $1 "* ]]; }  # state
wait_job() {  # id name: waits until the job has ended (through any requeues), checks it completed
  local state
  for _ in $(seq 1200); do
    state=$(job_state "$1")
    [ "$state" = COMPLETED ] && return 0
    ! is_final "$state" ||
      fail "job $1 ($2) ended $state ($(scontrol show job "$1" | grep -o 'ExitCode=[0-9:]*'))"
    sleep 0.5
  done
  fail "job $1 ($2) did not end within 10 minutes (state $state)"
}

# 1. Training, decomposed over 2 ranks (srun --mpi=pmix), uninterrupted.
export SYMGNN_OUT=$work/train-straight
id=$(submit train-straight train.sbatch)
wait_job "$id" train-straight
for f in best.h5 last.h5 curve.csv; do
  [ -s "$SYMGNN_OUT/$f" ] || fail "train.sbatch wrote no $f"
done
grep -q "2 ranks in 1 group; structures split on grid" "$work/train-straight.out" ||
  fail "train.sbatch did not run decomposed over 2 ranks"
echo "train.sbatch: job $id completed, $(($(wc -l < "$SYMGNN_OUT/curve.csv") - 1)) evaluations"

# 1b. A committee: two members as a job array (jobs/committee.sbatch), each its own training
# with its own seed; predicting with both gives their mean and spread.
export SYMGNN_COMMITTEE=$work/committee
id=$(sbatch --parsable --chdir="$repo" --output="$work/committee-%a.out" "${small[@]}" \
  --array=1-2 "$repo/jobs/committee.sbatch")
for task in 1 2; do
  wait_job "${id}_$task" "committee member $task"
  [ -s "$SYMGNN_COMMITTEE/seed$task/best.h5" ] || fail "committee member $task wrote no best.h5"
  /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1]);
assert f['state'].attrs['seed'] == int(sys.argv[2])" "$SYMGNN_COMMITTEE/seed$task/best.h5" "$task" ||
    fail "committee member $task was not trained with seed $task"
done
"$bin" predict "$SYMGNN_COMMITTEE"/seed{1,2}/best.h5 "$repo/data/cuzr/train6.extxyz" \
  --eval-transforms 2 --out "$work/committee-predict" > "$work/committee-predict.log" ||
  fail "predicting with the committee failed: $(tail -n 3 "$work/committee-predict.log")"
head -n 2 "$work/committee-predict/train6.pred.extxyz" | grep -q "eb_pred:R:1:eb_std:R:1" ||
  fail "the committee's prediction has no eb_std"
echo "committee.sbatch: array job $id, 2 members with seeds 1 and 2; predict wrote eb_pred and eb_std"

# 2. The same training sent SIGTERM mid-run: checkpoint, exit 75, requeue, resume, the same end.
export SYMGNN_OUT=$work/train-interrupted
id=$(submit train-interrupted train.sbatch)
for _ in $(seq 1200); do
  [ -f "$SYMGNN_OUT/curve.csv" ] && [ "$(wc -l < "$SYMGNN_OUT/curve.csv")" -gt 4 ] && break
  # Any state but a final one (PENDING, CONFIGURING, RUNNING, ...) may still reach the curve.
  state=$(job_state "$id")
  ! is_final "$state" || fail "job $id ended $state before it could be interrupted"
  sleep 0.2
done
scancel --signal=TERM "$id"
wait_job "$id" train-interrupted
log=$work/train-interrupted.out
grep -q "SIGTERM received: stopping at epoch" "$log" || fail "no checkpoint on SIGTERM"
grep -q "stopped on a signal with a checkpoint .*; requeueing" "$log" || fail "no requeue"
grep -q "(restart 1)" "$log" || fail "the requeued job did not run again"
grep -q "restarting from .*train-interrupted/\(last\|best\).h5 at epoch" "$log" ||
  fail "the requeued job did not resume from the checkpoint"
echo "train.sbatch under scancel --signal=TERM: $(grep -o 'stopping at epoch [0-9]*' "$log"), requeued, $(grep -o 'restarting from .*' "$log")"
/usr/bin/python3 - "$work/train-straight/last.h5" "$work/train-interrupted/last.h5" <<'PY'
import sys
import h5py, numpy as np
a, b = (h5py.File(p) for p in sys.argv[1:])
assert a["state"].attrs["epoch"] == b["state"].attrs["epoch"], "different epochs"
for g in ("params", "buffers", "optimizer"):
    for k in a[g]:
        if not np.array_equal(a[g][k][()], b[g][k][()]):
            sys.exit(f"FAIL: {g}/{k} differs between the uninterrupted and the requeued job")
print(f"requeued job ends with the uninterrupted job's weights, bit for bit "
      f"(epoch {a['state'].attrs['epoch']})")
PY

# 3. Prediction over 2 ranks from a LAMMPS dump with numeric atom types only, as LAMMPS writes
# it (converted to HDF5 by one rank first, then read in parallel), as docs/running.md shows.
"$bin" convert "$repo/data/cuzr/train6.extxyz" "$work/with-elements.lammpstrj" > /dev/null
awk '/^ITEM: ATOMS/ { sub(/ element/, ""); atoms = 1; print; next }
     /^ITEM:/ { atoms = 0 } atoms { $3 = ""; $0 = $0; $1 = $1 } { print }' \
  "$work/with-elements.lammpstrj" > "$work/glass.lammpstrj"
export SYMGNN_MODEL=$work/train-straight/best.h5 SYMGNN_INPUT=$work/glass.lammpstrj
export SYMGNN_TYPE_MAP="Cu Zr" SYMGNN_OUT=$work/predict
id=$(submit predict predict.sbatch)
wait_job "$id" predict
for f in input.h5 input.pred.h5 input.pred.extxyz; do
  [ -s "$SYMGNN_OUT/$f" ] || fail "predict.sbatch wrote no $f"
done
grep -q "eb_pred" "$SYMGNN_OUT/input.pred.extxyz" || fail "no eb_pred column"
[ "$(head -n 1 "$SYMGNN_OUT/input.pred.extxyz")" = 8000 ] || fail "not 8,000 atoms predicted"
grep -q "Pearson" "$work/predict.out" || fail "predict.sbatch printed no Pearson"
echo "predict.sbatch: job $id completed: $(grep -o 'Pearson.*' "$work/predict.out" | head -n 1)"

# 4. A scaling study on 1 and 2 ranks (srun steps inside one allocation): CSV and plot.
export SYMGNN_OUT=$work/scaling SYMGNN_RANKS="1 2" SYMGNN_SERIES="strong weak"
export SYMGNN_STRONG_REPLICATE=1x1x1 SYMGNN_STEPS=1
export SYMGNN_TRAIN_ARGS="--dim 8 --heads '2 1' --decoder-layers 2 --eval-transforms 2"
id=$(submit scaling scaling.sbatch --exclusive)
wait_job "$id" scaling
[ -s "$SYMGNN_OUT/scaling.png" ] || fail "scaling.sbatch drew no plot"
rows=$(($(wc -l < "$SYMGNN_OUT/scaling.csv") - 1))
[ "$rows" -eq 4 ] || fail "scaling.csv has $rows rows, expected 4 (strong and weak, P = 1, 2)"
echo "scaling.sbatch: job $id completed, $rows rows in scaling.csv and a plot"
# 5. The GPU templates on the node's two pretend GPUs (tests/slurm/cluster.sh): one rank per GPU,
# each bound to one, and --device cuda in every launch line. SYMGNN_DRY_RUN prints the lines
# instead of running them: this machine has no GPU to run them on.
export SYMGNN_DRY_RUN=1 SYMGNN_INPUT=$work/predict/input.h5
for kind in train predict scaling; do
  export SYMGNN_OUT=$work/$kind-gpu
  id=$(submit "$kind-gpu" "$kind-gpu.sbatch" --gpus-per-node=2)
  wait_job "$id" "$kind-gpu"
  scontrol show job "$id" | grep -Eq "gres[/:]gpu[:=]2" || fail "$kind-gpu.sbatch holds no GPUs"
  line=$(grep "^launch: " "$work/$kind-gpu.out") || fail "$kind-gpu.sbatch launched nothing"
  case $kind in
    scaling) want="--launcher srun --launcher-args=--mpi=pmix --gpus-per-task=1 --gpu-bind=closest .*--device cuda" ;;
    *) want="^launch: srun --mpi=pmix --cpus-per-task=1 --gpus-per-task=1 --gpu-bind=closest $bin $kind .*--device cuda" ;;
  esac
  grep -q -- "$want" <<< "$line" || fail "$kind-gpu.sbatch launched: $line"
  echo "$kind-gpu.sbatch: job $id holds 2 GPUs; ${line:0:100}..."
done
unset SYMGNN_DRY_RUN
echo "SLURM job templates: all passed"
