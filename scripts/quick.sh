#!/usr/bin/env bash
# README command 1, after set-up: the default sweep (the embedded jobs/quick.yaml)
# on local MPI ranks, its summary, and a plot. Re-running continues or reuses
# the archive (--resume), never overwrites it.
# Usage: bash scripts/quick.sh [BUILD_DIR]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
[[ "$build" = /* ]] || build="$root/$build"
bin="$build/src/cli/ranksweep"
out="$root/out"
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# One worker per core plus rank 0, which dispatches and mostly sleeps.
ranks=$(( $(nproc) + 1 ))

# the plan's totals, its time estimate and what it timed on this machine
"$bin" plan "$root/jobs/quick.yaml" |
  sed -n '/^totals/,/^assumptions/{/^assumptions/!p}; /^calibrated/p'
echo "== sweep: mpirun -np $ranks ranksweep run jobs/quick.yaml -o out/quick.h5 --resume"
mpirun -np "$ranks" "$bin" run "$root/jobs/quick.yaml" -o "$out/quick.h5" --resume
echo "== summary: ranksweep show out/quick.h5"
"$bin" show "$out/quick.h5"
/usr/bin/python3 "$root/analysis/plot_localrank.py" "$out/quick.h5" -o "$out/quick-localrank.png"
echo "archive: $out/quick.h5    plot: $out/quick-localrank.png"
