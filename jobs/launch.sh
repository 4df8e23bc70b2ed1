# Sourced by the job templates, not run: finds symgnn-dist, says how to start the job's ranks
# (srun under SLURM, mpirun elsewhere) with how many OpenMP threads, and runs a step so that the
# signals a batch system sends reach symgnn-dist while the job script lives on to requeue.
#
# Reads: SYMGNN_HOME (the checkout), SYMGNN_BIN (default $SYMGNN_HOME/build/symgnn-dist),
# SYMGNN_NP (ranks under mpirun, default 2), SYMGNN_SRUN_MPI (srun's --mpi, default pmix),
# SYMGNN_DEVICE (cpu or cuda, default cpu: with cuda under SLURM each task gets one GPU of its
# node, srun --gpus-per-task=1 --gpu-bind=closest, and symgnn-dist takes the one it sees).
# Sets:  SYMGNN_BIN, SYMGNN_LAUNCH (an array: the launcher and its options), SYMGNN_LAUNCH_ONE
#        (the same for one rank), SYMGNN_JOB_RANKS, OMP_NUM_THREADS, SYMGNN_DEVICE.
# shellcheck disable=SC2034  # the variables are for the scripts that source this file

: "${SYMGNN_BIN:=$SYMGNN_HOME/build/symgnn-dist}"
if [ ! -x "$SYMGNN_BIN" ]; then
  echo "job: $SYMGNN_BIN is not an executable: build it (bash tools/setup.sh) or set SYMGNN_BIN" >&2
  exit 2
fi

: "${SYMGNN_DEVICE:=cpu}"
case "$SYMGNN_DEVICE" in
  cpu | cuda | cuda:*) ;;
  *) echo "job: SYMGNN_DEVICE must be cpu or cuda, not '$SYMGNN_DEVICE'" >&2; exit 2 ;;
esac
if [ -n "${SLURM_JOB_ID:-}" ]; then
  # srun does not pass the batch job's --cpus-per-task on to its steps (SLURM 22.05 and later).
  export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-1}
  SYMGNN_JOB_RANKS=${SLURM_NTASKS:-1}
  SYMGNN_LAUNCH=(srun --mpi="${SYMGNN_SRUN_MPI:-pmix}" --cpus-per-task="$OMP_NUM_THREADS")
  [ "$SYMGNN_DEVICE" = cpu ] || SYMGNN_LAUNCH+=(--gpus-per-task=1 --gpu-bind=closest)
  SYMGNN_LAUNCH_ONE=("${SYMGNN_LAUNCH[@]}" --ntasks=1 --nodes=1)
else
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
  SYMGNN_JOB_RANKS=${SYMGNN_NP:-2}
  SYMGNN_LAUNCH=(mpirun -np "$SYMGNN_JOB_RANKS" --bind-to none -x OMP_NUM_THREADS)
  SYMGNN_LAUNCH_ONE=()  # a singleton MPI process needs no launcher
fi

# run_step COMMAND...: runs COMMAND in the background and returns its exit status. SIGTERM or
# SIGUSR1 sent to this script (scancel --batch/--full, sbatch --signal=B:...) is passed on as
# SIGUSR1, which srun and mpirun forward to every rank: symgnn-dist train then checkpoints and
# exits with 75. (Signals SLURM sends to the job's steps reach the ranks directly.)
# With SYMGNN_DRY_RUN=1 it prints the step's command line ("launch: ...") instead of running it.
run_step() {
  if [ "${SYMGNN_DRY_RUN:-0}" = 1 ]; then
    echo "launch: $*"
    return 0
  fi
  "$@" &
  local pid=$! status
  trap 'interrupted=1; kill -USR1 '"$pid"' 2>/dev/null' TERM USR1
  while :; do
    interrupted=0
    status=0
    wait "$pid" || status=$?
    [ "$interrupted" = 1 ] || break  # wait returned for the signal: wait on for the step
  done
  trap - TERM USR1
  return "$status"
}
