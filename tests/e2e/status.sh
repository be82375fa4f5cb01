#!/usr/bin/env bash
# The status file: valid JSON whatever the paths and job names hold, host and
# pid recorded; `status` validates it (random bytes, truncation, a directory:
# one error line, non-zero exit), summarises it, prints JSON with --json, and
# calls a killed sweep dead and a silent one stale.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

# A job name and an archive path with a quote, a backslash, a tab and a
# non-UTF-8 byte: the file must still be JSON that Python reads back exactly.
sed 's/^name: e2e-small/name: "q\\"uote\\\\back\\ttab"/' "$E2E/small.yaml" > q.yaml
A=$'we"ird\\dir\x01\xff.h5'
if sweep 3 q.yaml -o "$A"; then ok "sweep into a hostile path"; else bad "sweep into a hostile path"; fi
if "$PY" - "$A.status" <<'PYEOF'
import json, os, socket, sys
path = os.fsencode(sys.argv[1])
d = json.load(open(path, "rb"))
assert d["job"] == 'q"uote\\back\ttab', d["job"]
assert d["archive"].startswith('we"ird\\dir\x01'), d["archive"]
assert d["state"] == "complete", d["state"]
assert d["host"] == socket.gethostname(), d["host"]
assert isinstance(d["pid"], int) and d["pid"] > 0
# the workers' CPU by kind: every kind ran, and 2 workers cannot spend more than 2 x elapsed
cpu = [d["cpu_seconds_" + k] for k in ("training", "local_ranks", "checkpoint_metrics")]
assert all(c > 0 for c in cpu), cpu
assert sum(cpu) <= (d["ranks"] - 1) * d["elapsed_seconds"] + 0.5, (cpu, d["elapsed_seconds"])
PYEOF
then ok "status file is valid JSON with the exact job name, host and pid, and the CPU by kind"
else bad "status file not valid JSON"; fi
out=$("$RS" status "$A") && grep -q '^state        complete' <<<"$out" &&
  grep -q '^runs         4/4 done' <<<"$out" &&
  grep -Eq '^CPU          .*: training [0-9]+%, local ranks [0-9]+%, checkpoint metrics [0-9]+%$' <<<"$out" &&
  ok "readable summary" || bad "readable summary: $out"
"$RS" status --json "$A" | "$PY" -c 'import json,sys; d=json.load(sys.stdin); assert d["observed"]=="finished"' &&
  ok "--json is JSON with observed=finished" || bad "--json"

# Damaged files: one error line each, non-zero exit.
check_bad() { # NAME EXPECTED-SUBSTRING
  local code=0 err
  err=$("$RS" status x.h5 2>&1 >/dev/null) || code=$?
  if [[ $code -ne 0 && $(wc -l <<<"$err") -eq 1 && $err == *"$2"* ]]; then ok "$1 refused: $err"
  else bad "$1: exit $code, message: $err"; fi
}
head -c 3000 /dev/urandom > x.h5.status
check_bad "random bytes" "not a valid status file"
head -c 150 "$A.status" > x.h5.status
check_bad "truncated file" "not a valid status file"
: > x.h5.status
check_bad "empty file" "it is empty"
rm x.h5.status && mkdir x.h5.status
check_bad "directory" "not a regular file"
rmdir x.h5.status && mkfifo x.h5.status
check_bad "FIFO" "not a regular file"
rm x.h5.status
check_bad "missing file" "no status file"
printf '{"state": "running", "pid": 1, "updated_unix": 5} trailing' > x.h5.status
check_bad "text after the object" "text follows"

# Liveness from crafted files: a pid that is gone on this host, a live pid
# whose file has not been updated for an hour, and a fresh one.
now=$(date +%s)
sleep 0 & gone=$!; wait $gone
mk() { printf '{"state": "running", "archive": "x.h5", "job": "j", "host": "%s", "pid": %d, "updated_unix": %d, "update_interval_seconds": 1.0}\n' "$(hostname)" "$1" "$2" > x.h5.status; }
mk "$gone" "$now"
"$RS" status x.h5 | grep -q '^state        dead' && ok "gone pid: dead" || bad "gone pid not reported dead"
"$RS" status --json x.h5 | "$PY" -c 'import json,sys; assert json.load(sys.stdin)["observed"]=="dead"' &&
  ok "--json observed=dead" || bad "--json dead"
mk $$ $((now - 3600))
"$RS" status x.h5 | grep -q '^state        stale' && ok "old update: stale" || bad "old update not stale"
mk $$ "$now"
"$RS" status x.h5 | grep -q '^state        running' && ok "fresh file, live pid: running" || bad "fresh: running"

# A real sweep killed with SIGKILL: its status file says running, `status`
# says dead.
sed -e 's/steps: 1500/steps: 200000/' "$E2E/small.yaml" > long.yaml
timeout 300 "$MPIRUN" -np 2 "$RS" run long.yaml -o k.h5 --quiet & mp=$!
for _ in $(seq 600); do [[ -s k.h5.status ]] && grep -q '"runs_training": 1' k.h5.status && break; sleep 0.1; done
pid=$("$PY" -c 'import json; print(json.load(open("k.h5.status"))["pid"])')
kill -KILL "$pid"
wait $mp || true
grep -q '"state": "running"' k.h5.status && ok "killed sweep left state running" || bad "state not running"
"$RS" status k.h5 | grep -q '^state        dead' && ok "killed sweep reported dead" || bad "killed sweep not dead"
finish
