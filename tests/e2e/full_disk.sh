#!/usr/bin/env bash
# A full disk, on a real 2 MB tmpfs (CI runs as root): the archive's creation
# fails at 1, 2 and 3 ranks with one line naming the system's reason, exit 1,
# no hang (each run under a timeout) and no file left behind; a disk that
# fills during a sweep loses nothing (storage is reserved at creation); a
# write that fails as on a full disk (fault injection) ends the sweep with
# exit 1 and --resume then completes it to the reference archive.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
FS="$WORK/fs"
mkdir -p "$FS"
if ! mount -t tmpfs -o size=2m tmpfs "$FS" 2> /dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)"
  exit 77
fi
trap '[[ $BASHPID == "$$" ]] || exit; umount "$FS" 2> /dev/null || umount -l "$FS"; rm -rf "$WORK"' EXIT
BIG="$E2E/fulldisk.yaml"
SMALL="$E2E/small.yaml"

expect_nospace() { # expect_nospace LABEL NRANKS [ENV=VAL]
  local label="$1" n="$2" rc=0; shift 2
  env "$@" timeout 120 "$MPIRUN" $(forward RANKSWEEP_TEST_NO_SPACE_CHECK) -np "$n" "$RS_HOOKS" run "$BIG" \
    -o "$FS/a.h5" --quiet > "$WORK/out" 2> "$WORK/err" || rc=$?
  local lines
  lines=$(grep -c '^ranksweep: error:' "$WORK/err" || true)
  if [[ $rc -eq 1 ]] && grep -q 'No space left on device' "$WORK/err" && [[ $lines -eq 1 ]] \
     && ! grep -q 'HDF5-DIAG\|Segmentation\|signal' "$WORK/err" && [[ -z "$(ls -A "$FS")" ]]; then
    ok "$label at $n ranks: exit 1, one line: $(grep '^ranksweep: error:' "$WORK/err")"
  else
    bad "$label at $n ranks: exit $rc (124 = hang), $lines error lines, left: $(ls -A "$FS")"
    head -20 "$WORK/err"
  fi
  rm -f "$FS"/*
}
for n in 1 2 3; do
  # refused before anything is created (statvfs against the archive's size)
  expect_nospace "full disk, checked up front" "$n" RANKSWEEP_TEST_NO_SPACE_CHECK=0
  # the check skipped: the reservation inside the collective creation fails
  expect_nospace "full disk during creation" "$n" RANKSWEEP_TEST_NO_SPACE_CHECK=1
done

# Reference archive of the small job, outside the tmpfs.
sweep 2 "$SMALL" -o "$WORK/ref.h5" 2> /dev/null

# The disk fills while the sweep runs: every dataset was allocated at
# creation, so the results all land; the final metadata needs room, which the
# sweep checks first. Either it fits (exit 0, and no error line: the status
# file that cannot be rewritten is one warning, not an error per second), or
# the sweep ends with exactly one error line giving the system's reason (exit
# 1, no hang) and, once space is back, --resume finishes it. Both ways the
# archive equals the reference.
( r=0; timeout 300 "$MPIRUN" -np 2 "$RS" run "$SMALL" -o "$FS/mid.h5" --quiet > "$WORK/mid.out" 2>&1 || r=$?
  echo "$r" > "$WORK/mid.rc" ) &
for _ in $(seq 300); do [[ -s "$FS/mid.h5.status" ]] && break; sleep 0.1; done
dd if=/dev/zero of="$FS/filler" bs=64k 2> /dev/null || true
wait
avail=$(df -k --output=avail "$FS" | tail -1 | tr -d ' ')
rc="$(cat "$WORK/mid.rc" 2> /dev/null || echo none)"
nerr=$(grep -c '^ranksweep: error:' "$WORK/mid.out" || true)
if [[ $rc == 1 && $nerr -eq 1 ]] && grep -q "final metadata.*No space left on device" "$WORK/mid.out"; then
  rm -f "$FS/filler"
  rc2=0; sweep 2 "$SMALL" -o "$FS/mid.h5" --resume 2> /dev/null || rc2=$?
  if [[ $rc2 -eq 0 ]] && same "$WORK/ref.h5" "$FS/mid.h5" > /dev/null; then
    ok "disk filled mid-sweep (${avail} KB left): one line ($(grep '^ranksweep: error:' "$WORK/mid.out" | cut -c1-80)...), then --resume with space back equals the reference"
  else
    bad "disk filled mid-sweep: --resume after freeing space: exit $rc2 or archive differs"
  fi
elif [[ $rc == 0 && $nerr -eq 0 ]] && same "$WORK/ref.h5" "$FS/mid.h5" > /dev/null; then
  ok "disk filled mid-sweep (${avail} KB left): sweep complete, no error line, archive equals the reference"
else
  bad "disk filled mid-sweep: exit $rc, ${avail} KB left, $nerr error line(s)"; cat "$WORK/mid.out"
fi
rm -f "$FS"/*

# A result write fails as on a full disk: exit 1, then --resume completes it.
for n in 1 3; do
  rc=0
  RANKSWEEP_TEST_ENOSPC_AT_WRITE=15 timeout 300 "$MPIRUN" $(forward RANKSWEEP_TEST_ENOSPC_AT_WRITE) -np "$n" \
    "$RS_HOOKS" run "$SMALL" -o "$WORK/e$n.h5" --quiet > /dev/null 2> "$WORK/err" || rc=$?
  partial=$("$RS" show "$WORK/e$n.h5" | grep -c ' done \| partial ' || true)
  rc2=0
  sweep "$n" "$SMALL" -o "$WORK/e$n.h5" --resume 2> /dev/null || rc2=$?
  if [[ $rc -eq 1 ]] && grep -q 'No space left on device' "$WORK/err" && [[ $rc2 -eq 0 ]] \
     && same "$WORK/ref.h5" "$WORK/e$n.h5" > /dev/null; then
    ok "write failing with ENOSPC at $n ranks: exit 1 ($partial runs with results kept), resume equals the reference"
  else
    bad "write failing with ENOSPC at $n ranks: exit $rc, resume exit $rc2"
  fi
done
finish
