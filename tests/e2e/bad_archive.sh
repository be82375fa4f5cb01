#!/usr/bin/env bash
# Damaged archives: `show` and `run --resume` validate every dimension and
# per-run table before use (no crash, no over-read, no minutes of parsing),
# --resume never deletes or rewrites a file that may hold results (it refuses
# and names the way out), and --move-aside renames it to
# ARCHIVE.damaged-<time> and starts anew.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
JOB="$E2E/small.yaml"
REF="$WORK/ref.h5"
sweep 2 "$JOB" -o "$REF" 2> /dev/null
size=$(stat -c %s "$REF")

# (name, how to damage a copy of the reference)
damage() { # damage NAME: writes $WORK/NAME.h5
  local out="$WORK/$1.h5"
  cp "$REF" "$out"
  case "$1" in
    truncated) truncate -s $((size / 2)) "$out" ;;
    nruns-huge) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs.modify('n_runs', 2**62)" "$out" ;;
    nckpt-negative) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f.attrs.modify('n_ckpt', -5)" "$out" ;;
    nlayers-99) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['runs/nlayers'][0] = 99" "$out" ;;
    neps-99) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['runs/neps'][1] = 99" "$out" ;;
    steps-backwards) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); f['runs/steps'][0, 1] = -3" "$out" ;;
    names-short) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); del f['runs/name']; f['runs/name'] = [b'x']" "$out" ;;
    names-numbers) "$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); n=len(f['runs/name']); del f['runs/name']; f['runs/name'] = list(range(n))" "$out" ;;
  esac
}

for name in truncated nruns-huge nckpt-negative nlayers-99 neps-99 steps-backwards names-short \
  names-numbers; do
  damage "$name"
  f="$WORK/$name.h5"
  sum=$(sha256sum < "$f")
  rc=0; timeout 60 "$RS" show "$f" > /dev/null 2> "$WORK/err" || rc=$?
  # one error line, and it names the damaged file
  if [[ $rc -eq 1 && $(grep -c '^ranksweep: error:' "$WORK/err") -eq 1 ]] &&
    grep '^ranksweep: error:' "$WORK/err" | grep -qF "$f"; then
    ok "show, $name: exit 1: $(grep '^ranksweep: error:' "$WORK/err")"
  else
    bad "show, $name: exit $rc"; head -5 "$WORK/err"
  fi
  rc=0; timeout 120 "$MPIRUN" -np 2 "$RS" run "$JOB" -o "$f" --resume --quiet > /dev/null 2> "$WORK/err" || rc=$?
  if [[ $rc -eq 1 && "$(sha256sum < "$f")" == "$sum" ]] && grep -q -- '--move-aside' "$WORK/err"; then
    ok "run --resume, $name: refused, file unchanged, --move-aside offered"
  else
    bad "run --resume, $name: exit $rc, file $( [[ "$(sha256sum < "$f")" == "$sum" ]] && echo unchanged || echo CHANGED)"
    head -5 "$WORK/err"
  fi
done

# The way out: renamed aside (bytes intact), a new archive equal to the reference.
f="$WORK/truncated.h5"
sum=$(sha256sum < "$f")
rc=0; sweep 2 "$JOB" -o "$f" --resume --move-aside 2> "$WORK/err" || rc=$?
aside=$(ls "$f".damaged-* 2> /dev/null | head -1)
if [[ $rc -eq 0 && -n "$aside" && "$(sha256sum < "$aside")" == "$sum" ]] && same "$REF" "$f" > /dev/null; then
  ok "--move-aside: kept as $(basename "$aside"), new archive equals the reference"
else
  bad "--move-aside: exit $rc, aside '$aside'"; cat "$WORK/err"
fi
f="$WORK/nlayers-99.h5"
rc=0; sweep 3 "$JOB" -o "$f" --resume --move-aside 2> /dev/null || rc=$?
if [[ $rc -eq 0 ]] && ls "$f".damaged-* > /dev/null 2>&1 && same "$REF" "$f" > /dev/null; then
  ok "--move-aside at 3 ranks on a damaged run table: new archive equals the reference"
else
  bad "--move-aside at 3 ranks: exit $rc"
fi

# Random bit flips, mostly in the metadata at the front: never a crash or a hang.
"$PY" - "$RS" "$REF" "$WORK" <<'PYEOF'
import os, random, subprocess, sys, time
rs, ref, work = sys.argv[1:4]
rng = random.Random(20261129)
data = open(ref, "rb").read()
crashes = hangs = 0
slowest = 0.0
n = 40
for t in range(n):
    b = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        pos = rng.randrange(8192) if rng.random() < 0.7 else rng.randrange(len(b))
        b[pos] ^= 1 << rng.randrange(8)
    p = os.path.join(work, "flip.h5")
    open(p, "wb").write(b)
    t0 = time.time()
    try:
        rc = subprocess.run([rs, "show", p], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            timeout=60).returncode
    except subprocess.TimeoutExpired:
        rc = None
    slowest = max(slowest, time.time() - t0)
    hangs += rc is None
    crashes += rc is not None and (rc < 0 or rc >= 128)
print(("ok" if crashes == hangs == 0 else "FAIL") +
      f": show on {n} bit-flipped archives: {crashes} crashes, {hangs} hangs, slowest {slowest:.1f} s")
sys.exit(1 if crashes or hangs else 0)
PYEOF
if [[ $? -eq 0 ]]; then npass=$((npass + 1)); else nfail=$((nfail + 1)); fi
finish
