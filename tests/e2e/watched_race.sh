#!/usr/bin/env bash
# watched (tests/e2e/progress.sh) and the EXIT trap of tests/e2e/lib.sh together: commands that end
# at once, so that watched's one-second sleeper is stopped right after its fork, before its exec.
# bash runs the EXIT trap in such a child too; unguarded, that removed the test's whole working
# directory in the middle of a test (seen as "i1.h5: no such file" after a sweep that had succeeded).
source "$(dirname "$0")/lib.sh"
n="${RANKSWEEP_RACE_ROUNDS:-400}"
echo keep > "$WORK/canary"
# a status file, so that each look at it takes as long as during a sweep
printf '{"state": "running", "runs_done": 0, "checkpoints_done": 0, "steps_done": 0}\n' > "$WORK/t.status"
lost=0
for ((i = 1; i <= n; i++)); do
  # ending after 0-9 ms: about when watched forks its sleeper
  watched "round $i" "$WORK/t.status" sleep "0.00$((i % 10))" || { bad "watched: sleep failed in round $i"; break; }
  if [[ ! -e "$WORK/canary" ]]; then
    lost=$i
    break
  fi
done
if ((lost)); then bad "the working directory vanished in round $lost of $n"; else ok "$n rounds: the working directory stayed"; fi
# Exit statuses come through unchanged.
rc=0
watched "exit 7" "$WORK/none.status" bash -c 'exit 7' || rc=$?
[[ $rc -eq 7 ]] && ok "exit status 7 returned" || bad "exit status: $rc, expected 7"
# The guard leaves the shell's own clean-up in place: a test's WORK is gone after it exits.
w=$(bash -c 'source "$1/lib.sh"; echo "$WORK"' _ "$E2E")
[[ -n "$w" && ! -e "$w" ]] && ok "a finished test's directory is removed" || bad "left behind: '$w'"
finish
