#!/usr/bin/env bash
# ETA trace: runs a reduced paper-like job (the MNIST shape of
# jobs/mnist-paper.yaml on Debian's Fashion-MNIST, log schedule of 50 points,
# STEPS steps, SEEDS seeds) on RANKS ranks, samples the status file every
# second, and compares the predicted remaining time (eta_seconds) with the
# true one (known at the end). Also shows what the old estimate (the mean of
# the step and checkpoint fractions) would have said. Prints a trace and the
# relative error once 10% (and 25%, 50%) of the wall time has passed.
# Usage: bench/eta-trace.sh [STEPS=30000] [SEEDS=2] [RANKS=3] [BUILD_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
STEPS="${1:-30000}"
SEEDS="${2:-2}"
RANKS="${3:-3}"
BUILD="${4:-$ROOT/build}"
RS="$BUILD/src/cli/ranksweep"
PY=/usr/bin/python3
FM=/usr/share/datasets/fashion-mnist
[[ -x $RS ]] || { echo "usage: $0 [STEPS] [SEEDS] [RANKS] [BUILD_DIR] (no ranksweep in $BUILD)" >&2; exit 2; }
[[ -r $FM/train-images-idx3-ubyte.gz ]] || { echo "$0: needs Debian's dataset-fashion-mnist" >&2; exit 2; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
W="$(mktemp -d /tmp/ranksweep-eta.XXXXXX)"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$W"' EXIT # this shell only, not a child killed before its exec

seeds=$(seq -s, 0 $((SEEDS - 1)))
# (the job's own grid is replaced by SEEDS seeds)
sed -e "s#data/mnist/#$FM/#" -e "s/^  steps: .*/  steps: $STEPS/" -e '/^grid:/,$d' \
  "$ROOT/jobs/mnist-paper.yaml" > "$W/job.yaml"
printf 'grid:\n  seed: [%s]\n' "$seeds" >> "$W/job.yaml"

t0=$(date +%s.%N)
mpirun -np "$RANKS" "$RS" run "$W/job.yaml" -o "$W/a.h5" --quiet &
mp=$!
: > "$W/samples"
while kill -0 "$mp" 2>/dev/null; do
  if [[ -s $W/a.h5.status ]]; then
    printf '%s ' "$(date +%s.%N)" >> "$W/samples"
    tr -d '\n' < "$W/a.h5.status" >> "$W/samples"
    echo >> "$W/samples"
  fi
  sleep 1
done
wait "$mp"
t1=$(date +%s.%N)

"$PY" - "$W/samples" "$t0" "$t1" "$STEPS" "$SEEDS" "$RANKS" <<'PYEOF'
import json, sys
path, t0, t1 = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
total = t1 - t0
rows = []
for line in open(path):
    ts, _, js = line.partition(" ")
    try:
        d = json.loads(js)
    except ValueError:
        continue  # sampled while being replaced
    if d["state"] != "running" or d["eta_seconds"] < 0:
        continue
    t = float(ts) - t0
    el = d["elapsed_seconds"]
    fs = d["steps_done"] / max(d["steps_total"], 1)
    fc = d["checkpoints_done"] / max(d["checkpoints_total"], 1)
    f = 0.5 * (fs + fc)
    old = el * (1 - f) / f if f > 1e-6 else float("nan")
    rows.append((t, total - t, d["eta_seconds"], old, fs))
print(f"job: MNIST shape on Fashion-MNIST, {sys.argv[5]} seeds x {sys.argv[4]} steps, "
      f"log schedule (50 points), {sys.argv[6]} ranks; wall time {total:.1f} s")
print(f"{'elapsed':>8} {'steps':>6} {'true left':>10} {'ETA':>8} {'error':>7} {'old ETA':>8} {'old err':>8}")
step = max(1, len(rows) // 25)
for i, (t, true, eta, old, fs) in enumerate(rows):
    if i % step == 0 or i == len(rows) - 1:
        print(f"{t:8.1f} {100*fs:5.1f}% {true:10.1f} {eta:8.1f} {100*(eta-true)/true:+6.1f}% "
              f"{old:8.1f} {100*(old-true)/true:+7.1f}%")
for frac in (0.10, 0.25, 0.50):
    after = [r for r in rows if r[0] >= frac * total]
    if not after:
        continue
    t, true, eta, old, fs = after[0]
    worst = max(abs(r[2] - r[1]) / r[1] for r in after if r[1] > 0.05 * total)
    print(f"after {100*frac:.0f}% of the time ({t:.1f} s): ETA {eta:.1f} s, true {true:.1f} s, "
          f"error {100*(eta-true)/true:+.1f}% (old estimate {100*(old-true)/true:+.1f}%); "
          f"worst from there until the last 5%: {100*worst:.1f}%")
PYEOF
