#!/usr/bin/env bash
# Runs the paper's job files at full scale into OUT_DIR, one archive per job
# (OUT_DIR/JOBNAME.h5), resuming whatever is already there, one job after the
# other. Meant for nohup or a batch script; watch it with `ranksweep status`.
# Usage: scripts/paper-runs.sh [--ranks N] [--slice I/N] OUT_DIR JOB.yaml...
set -euo pipefail

ranks=3
slice=""
while [[ $# -gt 0 && $1 == --* ]]; do
  case "$1" in
    --ranks) ranks="$2"; shift 2 ;;
    --slice) slice="$2"; shift 2 ;;
    *) echo "usage: scripts/paper-runs.sh [--ranks N] [--slice I/N] OUT_DIR JOB.yaml..." >&2; exit 2 ;;
  esac
done
if [[ $# -lt 2 ]]; then
  echo "usage: scripts/paper-runs.sh [--ranks N] [--slice I/N] OUT_DIR JOB.yaml..." >&2
  exit 2
fi
out="$1"; shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
exe="${RANKSWEEP:-$root/build/src/cli/ranksweep}"
mkdir -p "$out"
# OUT_DIR and job files given relative to where the script is called from stay
# so after the cd below (a job file not found there is taken from the root).
out="$(cd "$out" && pwd)"
jobs=()
for job in "$@"; do
  if [[ -f $job ]]; then jobs+=("$(cd "$(dirname "$job")" && pwd)/$(basename "$job")"); else jobs+=("$job"); fi
done
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
# Relative data paths in the job files are taken from the repository root.
cd "$root"
for job in "${jobs[@]}"; do
  name="$(basename "$job" .yaml)"
  [[ -n $slice ]] && name="$name.slice${slice%/*}of${slice#*/}"
  archive="$out/$name.h5"
  args=(run "$job" -o "$archive" --progress-every 60)
  [[ -n $slice ]] && args+=(--slice "$slice")
  [[ -e $archive ]] && args+=(--resume)
  echo "paper-runs: $(date -u +%FT%TZ) $job -> $archive (${ranks} ranks)"
  rc=0
  "${RANKSWEEP_MPIRUN:-mpirun}" -np "$ranks" "$exe" "${args[@]}" || rc=$?
  echo "paper-runs: $(date -u +%FT%TZ) $job exit $rc"
  # 3: drained (a signal); stop here so a requeue resumes from this job.
  if [[ $rc -eq 3 ]]; then exit 3; fi
done
exit 0
