# shellcheck shell=bash
# Sourced by the training grids (tools/ablation.sh, tools/recipes.sh): one resumable,
# wall-time-budgeted run. A run whose train.log ends in "done:" is kept; an unfinished one starts
# again from nothing (a resumed run would get more than its budget).
# usage: budgeted_run DIR LABEL COMMAND...   (the command's output becomes DIR/train.log)
budgeted_run() {
  local dir=$1 label=$2
  shift 2
  if grep -q '^done: ' "$dir/train.log" 2>/dev/null; then return 0; fi
  rm -rf "$dir" && mkdir -p "$dir"
  echo "$label ($(date -u +%H:%M) UTC)"
  "$@" --out "$dir" > "$dir/train.log.part" 2>&1
  mv "$dir/train.log.part" "$dir/train.log"
}
