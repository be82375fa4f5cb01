#!/usr/bin/env bash
# Bounded work lost to a kill: a 4-run sweep on 2 workers (mpirun -np 3) is
# killed with SIGKILL late (every process of it at once), then resumed. No
# run may retrain more than its state interval plus the work of one
# checkpoint, and the final archive must equal an uninterrupted one made on a
# different number of ranks.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
EVERY=2000
# 512 steps of slack: the trainer logs its step every 256 steps (so the last
# logged step undercounts by up to 256), and one checkpoint's measurement of
# this small shape takes a few milliseconds, well under 256 steps.
BOUND=$((EVERY + 512))
# The sweep must last long enough for the kill to land mid-training: the
# steps per run are sized from the reference's measured time (at least 20 s
# of sweep on this machine as it is now, idle or loaded).
make_job() { sed -e "s/steps: 1500/steps: $1/" -e "s/state_every: 200/state_every: $EVERY/" \
  "$E2E/small.yaml" > job.yaml; }
steps=200000
make_job "$steps"
sweep 2 job.yaml -o ref.h5 || bad "reference"
secs=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["elapsed_seconds"])' ref.h5.status)
scale=$("$PY" -c 'import math, sys; print(max(1, math.ceil(20.0 / max(float(sys.argv[1]), 0.1))))' "$secs")
if ((scale > 1)); then
  steps=$((steps * scale))
  make_job "$steps"
  rm -f ref.h5 ref.h5.status
  sweep 2 job.yaml -o ref.h5 || bad "reference"
fi
ok "uninterrupted reference on 2 ranks: $steps steps per run (200000 took ${secs} s here)"

RANKSWEEP_TRACE_TRAIN="$WORK/before.trace" "$MPIRUN" -np 3 "$RS" run job.yaml -o k.h5 --quiet &
mp=$!
# The ranks are mpirun's children: all of them are killed together below.
# Late: once three quarters of all steps are done.
late=0
for _ in $(seq 3000); do
  if [[ -s k.h5.status ]] && "$PY" - k.h5.status <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if d["steps_done"] >= 0.75 * d["steps_total"] and d["runs_done"] < d["runs_total"] else 1)
PYEOF
  then late=1; break; fi
  sleep 0.2
done
# SIGKILL the whole sweep at once: mpirun and its ranks (its children).
ranks=$(pgrep -P "$mp" || true)
kill -KILL $ranks "$mp" 2>/dev/null || true
wait "$mp" 2>/dev/null || true
[[ $late -eq 1 ]] && ok "killed at 3/4 of the steps" || bad "never reached 3/4 before the end"
cp k.h5.status killed.status
: > after.trace # a resume that retrains nothing writes no trace

RANKSWEEP_TRACE_TRAIN="$WORK/after.trace" sweep 3 job.yaml -o k.h5 --resume &&
  ok "resumed to the end" || bad "resume failed"
same ref.h5 k.h5 && ok "killed+resumed archive equals the uninterrupted one" || bad "archives differ"

# Retrained steps per run: the furthest step logged before the kill minus
# the step where the resumed sweep restarted it.
if "$PY" - before.trace after.trace "$BOUND" <<'PYEOF'
import sys
reached, start = {}, {}
for line in open(sys.argv[1]):
    w, r, s = line.split(); r, s = int(r), int(s)
    reached[r] = max(reached.get(r, 0), s)
for line in open(sys.argv[2]):
    w, r, s = line.split(); r, s = int(r), int(s)
    if w == "start" and r not in start: start[r] = s
bound = int(sys.argv[3]); worst = 0
for r in sorted(start):
    lost = max(0, reached.get(r, 0) - start[r])
    worst = max(worst, lost)
    print(f"run {r}: reached {reached.get(r, 0)} before the kill, restarted at {start[r]}: retrained {lost} steps")
print(f"total retrained {sum(max(0, reached.get(r, 0) - start[r]) for r in start)}, worst {worst}, bound {bound}")
sys.exit(0 if worst <= bound else 1)
PYEOF
then ok "no run retrained more than $BOUND steps"; else bad "a run retrained more than $BOUND steps"; fi
finish
