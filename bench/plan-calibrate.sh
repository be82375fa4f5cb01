#!/usr/bin/env bash
# Calibrates and checks `ranksweep plan`'s one-core estimate for every shipped
# job: a reduced copy of each job (fewer steps, a slice of its runs; idx data
# from Debian's Fashion-MNIST, same shape as MNIST) runs on one rank, its
# status file gives the measured CPU seconds per training step, per
# evaluation point and per checkpoint's metrics, and these unit costs times
# the full job's units give its measured one-core time, set against the
# plan's, in all and for each of its three parts (training, measurement,
# checkpoint metrics). Jobs small enough (quick, gaussian-ib) also run in full.
# Usage: bench/plan-calibrate.sh [BUILD_DIR]   (prints a Markdown table)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BUILD="${1:-$ROOT/build}"
RS="$BUILD/src/cli/ranksweep"
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist
[[ -x $RS ]] || { echo "usage: $0 [BUILD_DIR] (no ranksweep in $BUILD)" >&2; exit 2; }
[[ -r $FM/train-images-idx3-ubyte.gz ]] || { echo "$0: needs Debian's dataset-fashion-mnist" >&2; exit 2; }
export OPENBLAS_NUM_THREADS=1
W="$(mktemp -d /tmp/ranksweep-plancal.XXXXXX)"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$W"' EXIT # this shell only, not a child killed before its exec

# job  reduced-steps  slice-count (runs kept: every Nth)  log-points
specs=("quick 30000 3 25" "gaussian-ib 5000 10 12" "gaussian-paper 4000 6 12"
       "mnist-paper 4000 1 12" "vib-mnist 100 13 3")
fmnist() { sed -e "s#data/mnist/#$FM/#"; }
unit_costs() { # STATUS -> "step point ckpt" CPU seconds
  "$PY" - "$1" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))["cost_model"][0]
print(c["step_cpu_s"], c["point_cpu_s"], c.get("checkpoint_cpu_s", 0))
PYEOF
}
plan_field() { # PLAN-TEXT FIELD -> number
  awk -v f="$2" 'index($0, "  " f) == 1 { sub("^  " f " *", ""); print $1; exit }' <<<"$1"
}
plan_secs() { # "time on one core" line -> seconds: the total, training, measurement, metrics
  awk '/time on one core/ {
    gsub(/[(),]/, " "); n = 0
    for (i = 1; i < NF; i++)
      if ($i ~ /^[0-9.]+$/ && ($(i + 1) == "s" || $(i + 1) == "min" || $(i + 1) == "h" || $(i + 1) == "d")) {
        u = $(i + 1); m = (u == "s") ? 1 : (u == "min") ? 60 : (u == "h") ? 3600 : 86400
        printf "%s%g", (n++ ? " " : ""), $i * m
      }
    print ""; exit }' <<<"$1"
}

echo "| job | runs | steps | checkpoints | plan, one core | measured, one core | plan / measured | training, measurement, metrics: plan / measured | step (CPU us) | point (CPU ms) | checkpoint metrics (CPU s) | how measured |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for spec in "${specs[@]}"; do
  read -r job steps slice lp <<<"$spec"
  fmnist < "$ROOT/jobs/$job.yaml" > "$W/$job.yaml"
  sed -e "s/^  steps: .*/  steps: $steps/" -e "s/^  log_points: .*/  log_points: $lp/" \
    "$W/$job.yaml" > "$W/$job-reduced.yaml"
  plan=$("$RS" plan "$W/$job.yaml" 2>/dev/null)
  runs=$(plan_field "$plan" runs); tsteps=$(plan_field "$plan" "training steps")
  ckpts=$(plan_field "$plan" checkpoints); read -r psecs ptrain pmeas pckpt < <(plan_secs "$plan")
  points=$(awk '/^  points:/ { print $2; exit }' "$W/$job.yaml")
  "$RS" run "$W/$job-reduced.yaml" -o "$W/$job.h5" --slice "0/$slice" --quiet
  read -r cs cp cc < <(unit_costs "$W/$job.h5.status")
  how="units from a $steps-step run of $(( (runs + slice - 1) / slice )) of its runs"
  msecs=$("$PY" -c "print($tsteps * $cs + $ckpts * $points * $cp + $ckpts * $cc)")
  if [[ $job == quick || $job == gaussian-ib ]]; then
    /usr/bin/time -f "%U %S" -o "$W/time" "$RS" run "$W/$job.yaml" -o "$W/$job-full.h5" --quiet
    msecs=$(awk '{ print $1 + $2 }' "$W/time")
    how="full run, user + system CPU"
  fi
  "$PY" - "$job" "$runs" "$tsteps" "$ckpts" "$points" "$psecs" "$msecs" "$ptrain" "$pmeas" "$pckpt" \
    "$cs" "$cp" "$cc" "$how" <<'PYEOF'
import sys
job, runs, steps, ck, pts, p, m, pt, pm, pc, cs, cp, cc, how = sys.argv[1:]
p, m, cs, cp, cc = float(p), float(m), float(cs), float(cp), float(cc)
# the measured parts: the unit costs times the full job's units
mt, mm, mc = int(steps) * cs, int(ck) * int(pts) * cp, int(ck) * cc
def h(s):
    return f"{s:.1f} s" if s < 120 else f"{s/60:.1f} min" if s < 7200 else f"{s/3600:.1f} h"
def r(a, b):
    return f"{float(a)/b:.2f}" if b > 0 else "-"
parts = f"{r(pt, mt)}, {r(pm, mm)}, {r(pc, mc)}"
print(f"| {job} | {runs} | {steps} | {ck} | {h(p)} | {h(m)} | {p/m:.2f} | {parts} | {cs*1e6:.0f} | {cp*1e3:.2f} | {cc:.3f} | {how} |")
PYEOF
done
