#!/usr/bin/env bash
# Sweep throughput, side by side in one invocation: the same job with 1 process
# and with C+1 ranks (C workers + the dispatcher), and the dispatcher's task rate
# with empty tasks. Prints the machine, thread counts and OpenBLAS configuration.
# Usage: bash bench/sweep-throughput.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
rs="$build/src/cli/ranksweep"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
work="$(mktemp -d)"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$work"' EXIT # this shell only, not a child killed before its exec
cores=$(nproc)
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $cores cores; BLAS threads per rank: 1"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}"
"$rs" version | sed -n 's/^OpenBLAS/OpenBLAS/p'
job="$root/bench/throughput.yaml"
t() { local s; s=$(date +%s.%N); "$@"; awk -v a="$s" -v b="$(date +%s.%N)" 'BEGIN{print b-a}'; }
t1=$(t mpirun -np 1 "$rs" run "$job" -o "$work/n1.h5" --quiet | tail -1)
n=$((cores + 1))
tn=$(t mpirun -np "$n" "$rs" run "$job" -o "$work/nN.h5" --quiet | tail -1)
/usr/bin/python3 "$root/tests/e2e/compare_archives.py" "$work/n1.h5" "$work/nN.h5" > /dev/null \
  && same="identical archives" || same="ARCHIVES DIFFER"
awk -v t1="$t1" -v tn="$tn" -v n="$n" -v c="$cores" -v same="$same" 'BEGIN{
  printf "1 process: %.2f s; %d ranks (%d workers): %.2f s; throughput ratio %.2f (target >= %.2f = 0.9 x %d cores); %s\n",
    t1, n, c, tn, t1/tn, 0.9*c, c, same}' 
for w in 1 2 4; do
  mpirun -np $((w + 1)) "$rs" run --bench-dispatch 20000 | sed "s/^/dispatcher, $w worker(s): /"
done
