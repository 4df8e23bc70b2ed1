# A throwaway one-node SLURM cluster on this machine, for the job-template tests (sourced).
#   slurm_cluster_start DIR   munged, slurmctld and slurmd with their key, configuration, state,
#                             spool, logs and sockets all under DIR; exports SLURM_CONF
#   slurm_cluster_stop DIR    stops the three daemons again
# Needs Debian's slurm-wlm and munge (tools/setup.sh installs them) and root, as on CI. Nothing
# outside DIR is touched: the system's munged and slurm.conf, if any, are left alone.

slurm_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_cluster_fail() {  # message DIR
  echo "SLURM could not be started on this machine: $1" >&2
  for log in "$2"/log/*.log; do
    [ -f "$log" ] && { echo "--- $log (last lines)" >&2; tail -n 20 "$log" >&2; }
  done
  return 1
}

slurm_cluster_start() {
  local dir=$1 host
  host=$(hostname)
  mkdir -p "$dir"/{state,spool,log,munge}
  for tool in munged slurmctld slurmd sbatch srun; do
    command -v "$tool" >/dev/null ||
      { slurm_cluster_fail "$tool is not installed (tools/setup.sh installs slurm-wlm and munge)" "$dir"; return 1; }
  done
  # munged refuses a key that others can read.
  head -c 1024 /dev/urandom > "$dir/munge/munge.key"
  chmod 400 "$dir/munge/munge.key"
  munged --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
    --log-file="$dir/log/munged.log" ||
    { slurm_cluster_fail "munged did not start" "$dir"; return 1; }

  local memory
  memory=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)
  # cred_expire: a requeued job may start again after this many seconds (SLURM's default 120);
  # sched_interval: the scheduler looks every second (default 60), so jobs start at once.
  cat > "$dir/slurm.conf" <<EOF
ClusterName=symgnn-test
SlurmctldHost=$host
SlurmctldPort=$(slurm_free_port)
SlurmdPort=$(slurm_free_port)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1,bf_interval=1
MpiDefault=none
JobRequeue=1
ReturnToService=2
MailProg=/bin/true
GresTypes=gpu
NodeName=$host CPUs=$(nproc) RealMemory=$memory Gres=gpu:2 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  # Two pretend GPUs (character devices that are not GPUs): the GPU job templates can be
  # submitted and their launch lines checked; nothing runs on them.
  printf 'NodeName=%s Name=gpu File=%s\n' "$host" /dev/null "$host" /dev/zero > "$dir/gres.conf"
  export SLURM_CONF=$dir/slurm.conf
  slurmctld -f "$SLURM_CONF" || { slurm_cluster_fail "slurmctld did not start" "$dir"; return 1; }
  slurmd -f "$SLURM_CONF" || { slurm_cluster_fail "slurmd did not start" "$dir"; return 1; }
  for _ in $(seq 60); do
    [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && { echo "SLURM: one-node cluster up on $host ($dir)"; return 0; }
    sleep 0.5
  done
  slurm_cluster_fail "the node did not become idle within 30 s (sinfo: $(sinfo 2>&1 | tail -n 1))" "$dir"
}

slurm_cluster_stop() {  # never fails: it runs from EXIT traps of scripts under set -e
  local dir=$1 pidfile pid
  [ -z "${SLURM_CONF:-}" ] || scancel --quiet --user=root 2>/dev/null || true
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  return 0
}
