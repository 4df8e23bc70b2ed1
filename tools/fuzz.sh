#!/usr/bin/env bash
# A fuzzing campaign (fuzz/): builds the libFuzzer targets with clang, AddressSanitizer and
# UndefinedBehaviorSanitizer in build-fuzz/, then runs each for a time budget from the test files
# (and the inputs kept in fuzz/corpus/) as seeds. Findings (crash-*, leak-*, timeout-*, oom-*) land
# in out/fuzz/TARGET/; a fixed one is kept as fuzz/corpus/TARGET/NAME, which every ctest run then
# replays (Fuzz.Replay.TARGET).
# usage: tools/fuzz.sh [TARGET...]   (extxyz dump data h5 config checkpoint; default: all)
# env:   FUZZ_SECONDS per target (300), FUZZ_RUNS inputs per target (a campaign's count: each
#        target stops at whichever limit comes first), FUZZ_JOBS parallel build jobs (2), FUZZ_OUT
#        (out/fuzz), FUZZ_BUILD=0 to run the targets already in build-fuzz/ (a second fuzz.sh
#        beside a first on another core), FUZZ_KEEP_GOING=1 to go on past findings (libFuzzer's
#        fork mode, without leak checks: for h5, where damaged files crash HDF5 itself every few
#        seconds): only findings in our code then fail the run. Each finding is attributed to our
#        code or a library in TARGET/findings.md (tools/fuzz_triage.py)
set -euo pipefail
shopt -s nullglob
repo=$(cd "$(dirname "$0")/.." && pwd)
seconds=${FUZZ_SECONDS:-300}
out=${FUZZ_OUT:-$repo/out/fuzz}
formats=("$@")
[[ ${#formats[@]} -gt 0 ]] || formats=(extxyz dump data h5 config checkpoint)
declare -A seeds=([extxyz]="tests/data/extxyz/*.extxyz" [dump]="tests/data/lammps/*.dump"
                  [data]="tests/data/lammps/*.data" [h5]="" [config]="configs/*.ini"
                  [checkpoint]="")
# HDF5 files are larger than text ones: the seeds (18 and 40 kB) must fit whole.
declare -A max_len=([h5]=65536 [checkpoint]=65536)
# h5 reads every input first in a forked child, which inherits libFuzzer's malloc hook: a huge
# allocation there (a damaged size field) would be written up as an oom-* finding although the
# parent refuses the file. The hook's limit goes beyond what AddressSanitizer allocates (1 TiB);
# the parent's memory is still watched by -rss_limit_mb.
declare -A malloc_limit=([h5]=1048576)
for f in "${formats[@]}"; do
  [[ -n ${seeds[$f]+set} ]] ||
    { echo "fuzz: unknown target '$f' (extxyz dump data h5 config checkpoint)" >&2; exit 2; }
done
runs=()
[[ -z ${FUZZ_RUNS:-} ]] || runs=(-runs="$FUZZ_RUNS")
keep_going=()
[[ ${FUZZ_KEEP_GOING:-0} == 0 ]] ||
  keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 -detect_leaks=0)
if [[ ${FUZZ_BUILD:-1} != 0 ]]; then
  SYMGNN_PACKAGES=clang bash "$repo/tools/setup.sh" --packages-only  # and the libraries' packages
  mkdir -p "$repo/build-fuzz"
  CC=clang CXX=clang++ cmake -S "$repo" -B "$repo/build-fuzz" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DSYMGNN_FUZZ=ON -DSYMGNN_SANITIZE=address,undefined -DSYMGNN_TESTS=ON -DSYMGNN_BENCH=OFF \
    -DSYMGNN_CUDA=OFF -DSYMGNN_PYTHON=OFF > "$repo/build-fuzz/build.log"
  cmake --build "$repo/build-fuzz" -j "${FUZZ_JOBS:-2}" \
    --target "${formats[@]/#/fuzz_}" >> "$repo/build-fuzz/build.log"
fi

status=0
for f in "${formats[@]}"; do
  dir=$out/$f
  mkdir -p "$dir/corpus"
  # shellcheck disable=SC2086  # the glob expands here
  [[ -z ${seeds[$f]} ]] || cp $repo/${seeds[$f]} "$dir/corpus/"
  [[ -d $repo/fuzz/corpus/$f ]] && cp "$repo/fuzz/corpus/$f"/* "$dir/corpus/"
  echo "fuzz: $f for $seconds s${FUZZ_RUNS:+ or $FUZZ_RUNS inputs} ($(date -u +%H:%M) UTC)," \
    "findings in $dir"
  # Memory beyond 2 GiB or 10 s on one input is a finding too: a reader must refuse, not try.
  found=0
  (cd "$dir" && ASAN_OPTIONS=detect_leaks=1 "$repo/build-fuzz/fuzz/fuzz_$f" corpus \
      -max_total_time="$seconds" "${runs[@]}" "${keep_going[@]}" -rss_limit_mb=2048 -timeout=10 \
      -max_len="${max_len[$f]:-16384}" -malloc_limit_mb="${malloc_limit[$f]:-2048}" \
      -print_final_stats=1 > fuzz.log 2>&1) || found=1
  findings=("$dir"/{crash,leak,timeout,oom}-*)
  if [[ ${#findings[@]} -gt 0 ]]; then
    echo "fuzz: $f found ${#findings[@]}, attributed in $dir/findings.md:"
    python3 "$repo/tools/fuzz_triage.py" "$repo/build-fuzz/fuzz/fuzz_$f" "${findings[@]}" \
      > "$dir/findings.md" || status=1
    [[ ${#keep_going[@]} -gt 0 ]] || status=1
    tail -n 1 "$dir/findings.md"
  elif [[ $found != 0 ]]; then
    echo "fuzz: $f stopped without a finding; see $dir/fuzz.log"
    status=1
  fi
  grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$dir/fuzz.log" || true
  # Fork mode prints no final stats: its last progress line counts the inputs run.
  [[ ${#keep_going[@]} -eq 0 ]] || grep -E '^#[0-9]+: ' "$dir/fuzz.log" | tail -n 1
done
exit $status
