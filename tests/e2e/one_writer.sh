#!/usr/bin/env bash
# One writer per archive: while a sweep writes an archive, a second sweep on
# it (with or without --resume) is refused with a line naming the holder's
# host and pid and leaves the archive alone; after the first is SIGKILLed,
# its stale lock does not block the resume, which completes to the reference.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
JOB="$E2E/fulldisk.yaml" # a few seconds of work; held with SIGSTOP below
A="$WORK/a.h5"
sweep 2 "$JOB" -o "$WORK/ref.h5" 2> /dev/null

setsid "$MPIRUN" -np 2 "$RS" run "$JOB" -o "$A" --quiet > /dev/null 2>&1 &
first=$!
for _ in $(seq 300); do [[ -s "$A.lock" && -s "$A.status" ]] && break; sleep 0.1; done
read -r host pid _ < "$A.lock"
# Held still (alive, holding its lock) while the others try: the sweep takes
# only seconds, and must not finish before the kill below.
pkill -STOP -f "^$RS run $JOB -o $A" 2> /dev/null || true
for mode in --resume ""; do
  rc=0
  timeout 120 "$MPIRUN" -np 2 "$RS" run "$JOB" -o "$A" $mode --quiet > /dev/null 2> "$WORK/err" || rc=$?
  if [[ $rc -eq 1 ]] && grep -q "in use by another sweep (host $host, pid $pid, since" "$WORK/err" \
     && [[ $(grep -c '^ranksweep: error:' "$WORK/err") -eq 1 ]]; then
    ok "second sweep ${mode:-without --resume} refused: $(grep '^ranksweep: error:' "$WORK/err")"
  else
    bad "second sweep ${mode:-without --resume}: exit $rc"; cat "$WORK/err"
  fi
done
# The ranks first (a rank that outlives mpirun is sent SIGTERM, which drains
# the sweep cleanly and releases the lock), then the launcher.
pkill -KILL -f "^$RS run $JOB -o $A" 2> /dev/null || true
kill -KILL -- -"$first" 2> /dev/null || true
wait "$first" 2> /dev/null || true
if [[ -e "$A.lock" ]]; then ok "the killed sweep left its lock ($(cat "$A.lock"))"; else bad "no stale lock left to test"; fi
rc=0
sweep 2 "$JOB" -o "$A" --resume 2> "$WORK/err" || rc=$?
if [[ $rc -eq 0 && ! -e "$A.lock" ]] && same "$WORK/ref.h5" "$A" > /dev/null; then
  ok "stale lock taken over: resume complete, equals the reference, lock released"
else
  bad "resume after the kill: exit $rc"; cat "$WORK/err"
fi
finish
