#!/usr/bin/env bash
# The sanitizer and fuzz gate of CI (.ci/run runs it after the test suite):
#  1. a clang build with AddressSanitizer and UndefinedBehaviorSanitizer
#     (-Db_sanitize=address,undefined) that also builds the libFuzzer targets
#     (-Dfuzz=true), in build-gate/;
#  2. the unit tests under the sanitizers, then a short sweep on 2 MPI ranks
#     and its resume, `show` and `status` on the result;
#  3. each fuzz target (job parser, IDX and .npy readers, archive open) for
#     FUZZ_SECONDS (default 60) on a copy of its committed seed corpus
#     (tests/fuzz/corpus/); a crash fails the gate and leaves its input in
#     build-gate/fuzz-crashes/ (add it to the corpus once fixed: the corpus is
#     replayed first on every run, so it then stays a regression test).
# Usage: bash scripts/ci-gate.sh   (after scripts/setup.sh has installed the packages)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
B="${RANKSWEEP_GATE_BUILD:-build-gate}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
# Open MPI and HDF5 keep memory until exit: leaks are not the gate's subject.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:detect_odr_violation=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
t0=$(date +%s)
say() { echo "ci-gate: [$(( $(date +%s) - t0 )) s] $*"; }

if [[ ! -f "$B/build.ninja" ]]; then
  CC=clang meson setup "$B" --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
    -Dfuzz=true -Dslurm_tests=false -Dtorch_tests=false > /tmp/ranksweep-gate-setup.log 2>&1 \
    || { cat /tmp/ranksweep-gate-setup.log; exit 1; }
fi
ninja -C "$B" > /dev/null
say "sanitizer build ready ($B)"

meson test -C "$B" --num-processes 1 --print-errorlogs core fpenv job-unit data-unit model-unit \
  measure-unit model-metrics ib-gaussian
say "unit tests passed under ASan and UBSan"

W="$(mktemp -d /tmp/ranksweep-gate.XXXXXX)"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$W"' EXIT # this shell only, not a child killed before its exec
RS="$B/src/cli/ranksweep"
mpirun -np 2 "$RS" run tests/e2e/small.yaml -o "$W/s.h5" --quiet
mpirun -np 2 "$RS" run tests/e2e/small.yaml -o "$W/s.h5" --quiet --resume
"$RS" show "$W/s.h5" > /dev/null
"$RS" status "$W/s.h5" > /dev/null
say "a sweep, its resume, show and status ran clean under ASan and UBSan"

mkdir -p "$B/fuzz-crashes"
for t in job idx npy archive; do
  exe="$B/tests/fuzz/fuzz_$t"
  [[ -x $exe ]] || { echo "ci-gate: $exe was not built" >&2; exit 1; }
  corpus="$W/corpus-$t"
  cp -r "tests/fuzz/corpus/$t" "$corpus"
  log="$B/fuzz-$t.log"
  if ! "$exe" -max_total_time="$FUZZ_SECONDS" -timeout=20 -rss_limit_mb=4096 \
       -artifact_prefix="$B/fuzz-crashes/$t-" "$corpus" > "$log" 2>&1; then
    tail -n 40 "$log"
    echo "ci-gate: fuzz_$t found a crash; its input is in $B/fuzz-crashes/" >&2
    exit 1
  fi
  runs=$(grep -o 'Done [0-9]* runs' "$log" | tail -n 1 || true)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 || true)
  say "fuzz_$t: ${runs:-?} in ${FUZZ_SECONDS} s, ${cov:-cov ?}, no crash"
done
say "gate passed"
