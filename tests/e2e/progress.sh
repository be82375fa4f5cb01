# Progress-based waiting for the shell tests (sourced by tests/e2e/lib.sh and tests/slurm/lib.sh).
# A sweep is given up on only when it has shown no progress for RANKSWEEP_TEST_STALL seconds
# (default 300), never because a fixed wall-clock budget ran out: on a machine 2-4x slower than
# usual the tests take longer but still pass, and a hung sweep still fails, with a message that
# says which run it was and how far it got.

stall="${RANKSWEEP_TEST_STALL:-300}"
if ! [[ "$stall" =~ ^[1-9][0-9]*$ ]]; then
  echo "RANKSWEEP_TEST_STALL must be a positive number of seconds, got '$stall'" >&2
  exit 2
fi

# progress_of FILE: one line that changes whenever FILE shows progress. For a ranksweep status
# file (ARCHIVE.status) its progress fields, without the clock fields that change every second
# even when nothing moves; for any other file its size and modification time; "-" when absent.
progress_of() {
  if [[ "$1" == *.status ]]; then
    [[ -r "$1" ]] || { echo -; return 0; }
    { grep -oE '"(state|runs_done|checkpoints_done|steps_done)": [^,]*' "$1" 2>/dev/null || true; } | tr -d '\n"'
    echo
  else
    stat -c '%s %Y' "$1" 2>/dev/null || echo -
  fi
}

# status_words STATUS: how far the sweep behind a status file got, in words.
status_words() {
  local f="$1"
  if [[ "$f" != *.status ]]; then
    [[ -e "$f" ]] && echo "$f is $(stat -c %s "$f") bytes" || echo "$f was never written"
    return 0
  fi
  [[ -r "$f" ]] || { echo "no status file $f: it never got past its start-up"; return 0; }
  local s
  s="$(tr -d '\n' <"$f")"
  _sw() { sed -nE "s/.*\"$1\": \"?([^,\"}]*).*/\1/p" <<<"$s"; }
  echo "state $(_sw state), $(_sw runs_done)/$(_sw runs_total) runs done ($(_sw runs_training) training)," \
    "checkpoints $(_sw checkpoints_done)/$(_sw checkpoints_total) measured," \
    "steps $(_sw steps_done)/$(_sw steps_total) at $(_sw steps_per_second) steps/s," \
    "$(_sw elapsed_seconds) s into the sweep (status written $(_sw updated), now $(date -u +%H:%M:%SZ))"
}

# watched WHAT FILE CMD...: runs CMD (a sweep that writes FILE, its status file or its archive)
# and waits for it. When FILE shows no progress for $stall seconds (start-up included), CMD's whole
# process group is stopped (SIGTERM, SIGKILL 20 s later) and one line on stderr says what was
# stopped and how far it got. Returns CMD's exit status, or 124 when it was stopped.
watched() {
  local what="$1" file="$2" pid sleeper done_id seen="" now t0=$SECONDS t_seen=$SECONDS rc=0
  shift 2
  # timeout leads its own process group and passes a SIGTERM on to all of it (mpirun, the ranks);
  # a duration of 0 means it never acts by itself.
  timeout -k 20 0 "$@" &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    now="$(progress_of "$file")"
    if [[ "$now" != "$seen" ]]; then
      seen="$now"
      t_seen=$SECONDS
    elif ((SECONDS - t_seen >= stall)); then
      echo "$what: no progress for ${stall} s, stopped $((SECONDS - t0)) s after it started: $(status_words "$file")" >&2
      kill -TERM "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      return 124
    fi
    # Wake when CMD ends or after a second, whichever comes first.
    sleep 1 &
    sleeper=$!
    done_id=""
    wait -n -p done_id "$pid" "$sleeper" 2>/dev/null || true
    # SIGKILL: a child killed by a catchable signal before it has exec'd sleep runs this shell's
    # EXIT trap (bash), and the tests' traps remove their working directory.
    kill -KILL "$sleeper" 2>/dev/null || true
    wait "$sleeper" 2>/dev/null || true
    [[ "$done_id" == "$pid" ]] && break
  done
  wait "$pid" || rc=$?
  return "$rc"
}
