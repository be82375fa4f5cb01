#!/usr/bin/env bash
# SIGKILL of the whole job at random moments, each followed by --resume, ends
# identical to an uninterrupted sweep and with every written-mask cell set
# (checked from the archive alone, masks_complete.py); a changed job file is refused on resume;
# an existing archive without --resume is refused and left untouched.
source "$(dirname "$0")/lib.sh"
job="$E2E/small.yaml"
# The fault hooks below exist only in the tests' build of the command, not in the users' one.
if ! grep -q -a RANKSWEEP_TEST_ "$RS" && grep -q -a RANKSWEEP_TEST_KILL_AT_WRITE "$RS_HOOKS"; then
  ok "ranksweep carries no test hook; ranksweep-hooks does"
else
  bad "test hooks: ranksweep has $(grep -c -a RANKSWEEP_TEST_ "$RS") line(s) naming them, ranksweep-hooks $(grep -c -a RANKSWEEP_TEST_ "$RS_HOOKS")"
fi
sweep 3 "$job" -o "$WORK/ref.h5"
# Independent of the reference (which the same code wrote): every written-mask
# cell of a complete archive is set, read from the archive alone.
masks() {
  if "$PY" "$E2E/masks_complete.py" "$1"; then ok "$2: every written-mask cell set"; else bad "$2: mask cells unset"; fi
}
masks "$WORK/ref.h5" "uninterrupted sweep"
t0=$SECONDS
sweep 3 "$job" -o "$WORK/timed.h5"
full=$((SECONDS - t0)); ((full >= 1)) || full=1
echo "uninterrupted sweep: ${full} s"

kill_after() { # kill_after SECONDS ARGS...: start a sweep, SIGKILL everything
  local delay="$1"; shift
  setsid "$MPIRUN" -np 3 "$RS" run "$@" --quiet &
  local pid=$!
  sleep "$delay"
  kill -KILL -- -"$pid" 2>/dev/null || true
  pkill -KILL -f "$RS run" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
RANDOM=4242
for trial in 1 2 3; do
  a="$WORK/kill$trial.h5"
  kills=0
  # The first attempt creates the archive; then kill -> resume, several times.
  for k in 1 2 3; do
    ms=$(( (RANDOM % (full * 900)) + 100 ))
    d=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
    if [[ -e "$a" ]]; then kill_after "$d" "$job" -o "$a" --resume; else kill_after "$d" "$job" -o "$a"; fi
    kills=$((kills + 1))
    echo "trial $trial: SIGKILL after ${d}s"
  done
  if [[ -e "$a" ]]; then sweep 3 "$job" -o "$a" --resume; else sweep 3 "$job" -o "$a"; fi
  if same "$WORK/ref.h5" "$a"; then ok "trial $trial: $kills kills + resume identical"; else bad "trial $trial: differs after resume"; fi
  masks "$a" "trial $trial"
done

# Kill inside an archive write (after the data, before its mask or header),
# at several points of the sweep, then resume.
for at in 5 37 90; do
  a="$WORK/torn$at.h5"
  set +e
  RS="$RS_HOOKS" RANKSWEEP_TEST_KILL_AT_WRITE=$at sweep 3 "$job" -o "$a" 2>/dev/null
  rc=$?
  set -e
  [[ $rc -ne 0 ]] || bad "write $at: the kill hook did not fire"
  sweep 3 "$job" -o "$a" --resume
  if same "$WORK/ref.h5" "$a"; then ok "SIGKILL inside write $at + resume identical"; else bad "SIGKILL inside write $at + resume differs"; fi
  masks "$a" "write $at"
done

# Existing archive without --resume: refused, untouched.
sum_before=$(md5sum < "$WORK/ref.h5")
if sweep 2 "$job" -o "$WORK/ref.h5" 2> "$WORK/err.txt"; then bad "existing archive overwritten"; else
  if [[ $(wc -l < "$WORK/err.txt") -ge 1 ]] && grep -q "ref.h5" "$WORK/err.txt"; then ok "existing archive refused: $(head -1 "$WORK/err.txt")"; else bad "no clear message: $(cat "$WORK/err.txt")"; fi
fi
[[ "$(md5sum < "$WORK/ref.h5")" == "$sum_before" ]] && ok "refused archive unchanged" || bad "refused archive changed"

# Changed job on resume: refused by hash, untouched.
sed 's/lr: 0.003/lr: 0.002/' "$job" > "$WORK/changed.yaml"
if sweep 2 "$WORK/changed.yaml" -o "$WORK/ref.h5" --resume 2> "$WORK/err2.txt"; then bad "changed job accepted on resume"; else
  if grep -qi "hash" "$WORK/err2.txt"; then ok "changed job refused: $(grep -i hash "$WORK/err2.txt" | head -1)"; else bad "no hash message: $(cat "$WORK/err2.txt")"; fi
fi
[[ "$(md5sum < "$WORK/ref.h5")" == "$sum_before" ]] && ok "archive unchanged after refused resume" || bad "archive changed by refused resume"
finish
