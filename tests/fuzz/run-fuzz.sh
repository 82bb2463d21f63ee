#!/usr/bin/env bash
# run-fuzz.sh FUZZER SEEDS WORK [libFuzzer options...]
# Run the libFuzzer target on a work corpus in WORK/corpus (new inputs go
# there, never into the seed folder SEEDS), crash artifacts in WORK/.
# Options shared by the ctest runs and the long run (README.md); more
# options (-max_total_time=, -runs=, -seed=, ...) follow.  A failed check,
# a sanitizer report, a crash, a leak or a timeout exits non-zero.
set -euo pipefail
fuzzer=$1 seeds=$2 work=$3
shift 3
mkdir -p "$work/corpus"
# symbolized sanitizer stacks when an llvm-symbolizer is installed
sym=$(command -v llvm-symbolizer-16 || command -v llvm-symbolizer || true)
[[ -n $sym ]] && export ASAN_SYMBOLIZER_PATH=$sym
exec "$fuzzer" -max_len=512 -timeout=30 -rss_limit_mb=4096 -error_exitcode=1 \
  -print_final_stats=1 -artifact_prefix="$work/" "$@" "$work/corpus" "$seeds"
