#!/usr/bin/env bash
# A full disk while writing: structures in each format, predictions and training checkpoints fail
# with the file named and the system's reason, exit status 1, and leave nothing behind, neither
# under the file's name nor under a temporary one; a checkpoint already there stays whole and
# loads. The disks are small tmpfs mounts in a private mount namespace, so this needs root and
# unshare(1); without them it is skipped (exit status 77, saying why).
# usage: disk_full.sh BINARY REPO_DIR WORK_DIR
set -euo pipefail
bin=$1 repo=$2 work=$3
if [[ ${DISK_FULL_INSIDE:-} != 1 ]]; then
  rm -rf "$work" && mkdir -p "$work/probe"
  if ! unshare -m sh -c "mount -t tmpfs -o size=64k tmpfs '$work/probe'" 2> "$work/probe.log"; then
    echo "SKIP: no private tmpfs mounts here (needs root and unshare -m): $(cat "$work/probe.log")"
    exit 77
  fi
  DISK_FULL_INSIDE=1 exec unshare -m "$0" "$@"
fi
export OMP_NUM_THREADS=1
fail() { echo "FAIL: $*" >&2; exit 1; }
mount_disk() {  # dir size
  mkdir -p "$1" && mount -t tmpfs -o "size=$2" tmpfs "$1"
}
# The command fails with status 1, naming $1 and the reason; $2 holds nothing but what $3 lists.
expect_full() {  # file dir kept -- command...
  local file=$1 dir=$2 kept=$3
  shift 4
  local status=0
  "$@" > "$work/out.log" 2>&1 || status=$?
  [[ $status == 1 ]] || fail "$* exited $status, not 1: $(cat "$work/out.log")"
  grep -q "$file" "$work/out.log" || fail "$*: the error does not name $file: $(cat "$work/out.log")"
  grep -q "No space left on device" "$work/out.log" ||
    fail "$*: the error gives no reason: $(cat "$work/out.log")"
  local left
  left=$(cd "$dir" && find . -type f | sort | tr '\n' ' ')
  [[ $left == "$kept" ]] || fail "$*: left '$left' in $dir, expected '$kept'"
  echo "ok: $(grep -m1 error "$work/out.log")"
}
glass=$repo/data/cuzr/train0.extxyz  # 8,000 atoms: 0.6 MB as extxyz

disk=$work/disk
mount_disk "$disk" 256k
for ext in extxyz h5 dump; do
  expect_full "$disk/glass.$ext" "$disk" "" -- "$bin" convert "$glass" "$disk/glass.$ext"
done

# Training: a first epoch fits; the disk then fills, and the next checkpoint cannot be written.
run=$work/train/run
mount_disk "$work/train" 4m
args=(--train "$glass" --val "$repo/data/cuzr/train6.extxyz" --dim 4 --heads "2 1"
      --decoder-layers 1 --eval-every 1 --checkpoint-every 1 --eval-transforms 2 --out "$run")
"$bin" train "${args[@]}" --epochs 1 > "$work/first.log" 2>&1 || fail "first epoch: $(cat "$work/first.log")"
kept=$(cd "$run" && find . -type f | sort | tr '\n' ' ')
cp "$run/last.h5" "$work/last.h5.before"
dd if=/dev/zero of="$work/train/filler" bs=4k 2> /dev/null || true
expect_full "$run/" "$run" "$kept" -- "$bin" train "${args[@]}" --epochs 3 --restart auto
cmp -s "$run/last.h5" "$work/last.h5.before" || fail "last.h5 changed"
# Predictions onto the full disk, from the checkpoint kept whole.
expect_full "$run/predictions/" "$run" "$kept" -- \
  "$bin" predict "$run/last.h5" "$glass" --eval-transforms 2 --out "$run/predictions"
rm "$work/train/filler"
"$bin" predict "$run/last.h5" "$glass" --eval-transforms 2 --out "$work/predicted" > "$work/p.log" 2>&1 ||
  fail "the kept checkpoint does not load: $(cat "$work/p.log")"
echo "disk_full: all outputs refused cleanly"
