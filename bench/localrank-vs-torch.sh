#!/usr/bin/env bash
# Local-rank benchmark, ranksweep vs PyTorch (functorch vmap(jacfwd) + svdvals),
# on identical float64 weights and points exported by the C side: a
# 784-200-200-200-200-10 ReLU network, 128 points x 4 hidden layers, eps ladder
# (0.1, 0.01, 0.001) + NumPy tolerance + full spectra; random-init and planted
# low-rank weights; 1 and 2 threads. Fails if any count differs.
set -euo pipefail

usage() { echo "usage: $0 [BUILD_DIR (default: build-measure)] [POINTS (default: 128)]" >&2; exit 2; }
[[ $# -le 2 ]] || usage
[[ "${1:-}" == -h || "${1:-}" == --help ]] && usage
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-measure}
points=${2:-128}
bench="$build/bench/bench_localrank"
[[ -x "$bench" ]] || { echo "$0: $bench not built (ninja -C $build bench/bench_localrank)" >&2; exit 1; }
py=/usr/bin/python3
work=$(mktemp -d)
trap '[[ $BASHPID != "$$" ]] || rm -rf "$work"' EXIT # this shell only, not a child killed before its exec
export OPENBLAS_NUM_THREADS=1 # both sides: threads are set explicitly in each program

echo "machine: $(lscpu | grep 'Model name' | sed 's/.*: *//'), $(nproc) cores"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
status=0
echo "wall = median wall-clock time per evaluation; cpu = process CPU time (all threads)"
printf '%-8s %-7s %-10s %-10s %-7s %-10s %-10s %-7s %s\n' weights threads rs_wall_s torch_wall ratio rs_cpu_s torch_cpu ratio counts
for kind in random lowrank; do
  for threads in 1 2; do
    out="$work/$kind-$threads"
    "$bench" --kind "$kind" --threads "$threads" --points "$points" --reps 5 --export "$out" > "$out.c.txt"
    OMP_NUM_THREADS=$threads "$py" "$root/bench/torch_localrank.py" "$out" --threads "$threads" \
      > "$out.py.txt" || true
    ct=$(awk '/^ranksweep_time_s/ {print $2}' "$out.c.txt")
    tt=$(awk '/^torch_time_s/ {print $2}' "$out.py.txt")
    cc=$(awk '/^ranksweep_cpu_s/ {print $2}' "$out.c.txt")
    tc=$(awk '/^torch_cpu_s/ {print $2}' "$out.py.txt")
    nd=$(awk '/^counts_differing/ {print $2}' "$out.py.txt")
    if [[ -z "$tt" || -z "$nd" ]]; then
      echo "torch side failed:" >&2; cat "$out.py.txt" >&2; exit 1
    fi
    verdict=identical
    if [[ "$nd" != 0 ]]; then verdict="$nd DIFFER"; status=1; fi
    ratio=$(awk -v a="$tt" -v b="$ct" 'BEGIN {printf "%.1fx", a / b}')
    cratio=$(awk -v a="$tc" -v b="$cc" 'BEGIN {printf "%.1fx", a / b}')
    printf '%-8s %-7s %-10s %-10s %-7s %-10s %-10s %-7s %s\n' "$kind" "$threads" "$ct" "$tt" "$ratio" \
      "$cc" "$tc" "$cratio" "$verdict"
  done
done
grep -E '^openblas_config' "$work/random-1.c.txt"
grep -E '^torch ' "$work/random-1.py.txt"
exit $status
