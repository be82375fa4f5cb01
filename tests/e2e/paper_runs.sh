#!/usr/bin/env bash
# scripts/paper-runs.sh, the script the long paper runs go through: two jobs in
# one call both run, the call exits 0, and a second call resumes (nothing
# retrained: 0 steps/s) and exits 0 too; relative paths are
# taken from where the script is called. A call that exited non-zero after a successful
# last job once stopped a chain of such calls after its first.
source "$(dirname "$0")/lib.sh"
cd "$WORK"
sed -e 's/steps: 1500/steps: 300/' -e 's/name: e2e-small/name: e2e-paper-a/' "$E2E/small.yaml" > a.yaml
sed -e 's/steps: 1500/steps: 300/' -e 's/name: e2e-small/name: e2e-paper-b/' "$E2E/small.yaml" > b.yaml
export RANKSWEEP="$RS" RANKSWEEP_MPIRUN="$MPIRUN"
rc=0
"$RANKSWEEP_SOURCE_ROOT/scripts/paper-runs.sh" --ranks 2 out a.yaml b.yaml > log1 2>&1 || rc=$?
if [[ $rc -eq 0 ]]; then ok "two jobs in one call: exit 0"; else bad "two jobs in one call: exit $rc"; tail -5 log1; fi
for j in a b; do
  if "$RS" status --json "out/$j.h5" 2> /dev/null | grep -q '"state": "complete"'; then
    ok "job $j complete"
  else bad "job $j not complete"; "$RS" status "out/$j.h5" 2>&1 | tail -3; fi
done
rc=0
"$RANKSWEEP_SOURCE_ROOT/scripts/paper-runs.sh" --ranks 2 out a.yaml > log2 2>&1 || rc=$?
if [[ $rc -eq 0 ]] && grep -q ", resuming" log2 && grep -q "complete (4/4 runs done" log2 && ! grep -q "[1-9][0-9]* steps/s" log2; then ok "second call resumes: exit 0"
else bad "second call: exit $rc"; tail -5 log2; fi
finish
