#!/usr/bin/env bash
# Whole runs of a real job, two binaries side by side: each binary runs the
# same slice of JOB (`ranksweep run --slice SLICE`, one MPI rank, so training,
# measurement, checkpoint metrics and archive writes all run in that process)
# to the end, both at once and unbound (mpirun would pin both to core 0); CPU
# time and wall time of each, the ratio, and the per-unit costs each run's
# status file measured. Use it to compare a build against an older one (git
# worktree add /tmp/base REV; meson setup /tmp/base/build; ninja -C
# /tmp/base/build src/cli/ranksweep).
# Usage: bench/whole-run.sh BIN_A BIN_B JOB.yaml [SLICE=0/1] [OUT_DIR=mktemp]
# Run from the directory the job's data paths are relative to (the repository
# root for the shipped jobs). Needs 2 idle cores for meaningful wall times;
# CPU times leave out other load, not its cache and memory traffic.
set -euo pipefail

(($# >= 3 && $# <= 5)) || { echo "usage: bench/whole-run.sh BIN_A BIN_B JOB.yaml [SLICE=0/1] [OUT_DIR]" >&2; exit 2; }
a="$1" b="$2" job="$3" slice="${4:-0/1}"
out="${5:-$(mktemp -d /tmp/whole-run.XXXXXX)}"
for x in "$a" "$b"; do [[ -x $x ]] || { echo "whole-run.sh: $x is not an executable" >&2; exit 2; }; done
[[ -f $job ]] || { echo "whole-run.sh: $job: no such job file" >&2; exit 2; }
mkdir -p "$out"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

machine_line
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, 1 rank and 1 thread per side, job $job, slice $slice"
pids=()
for side in a b; do
  bin="${!side}"
  rm -f "$out/$side.h5" "$out/$side.h5.status"
  /usr/bin/time -f '%U %S %e' -o "$out/$side.time" \
    "${launcher[@]}" -np 1 --bind-to none "$bin" run "$job" -o "$out/$side.h5" --slice "$slice" -q \
    >"$out/$side.log" 2>&1 &
  pids+=($!)
done
rc=0
for p in "${pids[@]}"; do wait "$p" || rc=1; done
((rc == 0)) || { echo "whole-run.sh: a run failed; logs in $out" >&2; tail -n 3 "$out"/*.log >&2; exit 1; }
# The status file's cost model: measured CPU seconds per step, per evaluation
# point and per checkpoint of the run's shape.
costs() {
  /usr/bin/python3 - "$1" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["cost_model"][0]
print(f'{c["step_cpu_s"] * 1e3:.3f} {c["point_cpu_s"] * 1e3:.2f} {c["checkpoint_cpu_s"]:.3f} '
      f'{s.get("blas_kernel", "?")} {s.get("cpu_isa", "?")}')
EOF
}
printf '%-5s %10s %9s %12s %12s %14s  %s\n' side cpu_s wall_s step_cpu_ms point_cpu_ms ckpt_metrics_s "kernel isa"
declare -A cpu
for side in a b; do
  read -r u s e <"$out/$side.time"
  read -r st pt ck kern isa < <(costs "$out/$side.h5.status")
  cpu[$side]="$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')"
  printf '%-5s %10.1f %9.1f %12s %12s %14s  %s %s\n' "$side" "${cpu[$side]}" "$e" "$st" "$pt" "$ck" "$kern" "$isa"
done
awk -v A="${cpu[a]}" -v B="${cpu[b]}" 'BEGIN { printf "cpu a / cpu b: %.3f\n", A / B }'
echo "archives and logs: $out"
