#!/usr/bin/env bash
# The files a sweep keeps beside an archive, and the data it was computed on,
# against a hostile or careless neighbour:
# - symlinks planted at ARCHIVE.creating and ARCHIVE.lock are refused with one
#   line, and their targets keep their content;
# - symlinks planted at every ARCHIVE.status.tmp<pid> a sweep could use leave
#   their target untouched; a status file that cannot be replaced leaves no
#   temporary file behind and is said once, not once a second;
# - .npy data are recorded and hashed like IDX data: --reuse on changed .npy
#   data copies nothing (it recomputes), and --resume after a data file changed
#   (IDX and .npy alike) is refused with one line naming the file;
# - a stale ARCHIVE.creating: --resume of a complete archive removes it, and
#   never deletes an archive that holds results (truncated, or without its
#   structure marker): refused, the file kept.
source "$(dirname "$0")/lib.sh"
JOB="$WORK/tiny.yaml"
cat > "$JOB" << 'EOF'
name: sidecars
seed: 3
data: {kind: gaussian_mixture, dim: 6, classes: 3, train_size: 64, heldout_size: 32}
model: {widths: [8]}
train: {optimizer: adamw, lr: 0.003, batch: 16, steps: 200}
measure: {schedule: log, log_points: 3, points: 8}
grid: {seed: [1, 2]}
EOF
errlines() { grep -c '^ranksweep: error:' "$1" || true; }

# 1. symlinks at the creation mark and at the lock
for side in creating lock; do
  echo precious > "$WORK/victim"
  ln -s "$WORK/victim" "$WORK/s.h5.$side"
  rc=0; timeout 300 "$RS" run "$JOB" -o "$WORK/s.h5" --quiet 2> "$WORK/err" || rc=$?
  if [[ $rc -eq 1 && $(errlines "$WORK/err") -eq 1 && "$(cat "$WORK/victim")" == precious ]] \
     && grep -q "s.h5.$side: is a symbolic link" "$WORK/err" && [[ ! -e "$WORK/s.h5" ]]; then
    ok "symlink at ARCHIVE.$side: refused in one line, target intact, no archive"
  else
    bad "symlink at ARCHIVE.$side: exit $rc, victim now '$(head -c 40 "$WORK/victim")'"; cat "$WORK/err"
  fi
  rm -f "$WORK/s.h5" "$WORK/s.h5".*
done

# 2. symlinks at the status temp names of the next pids; then an unreplaceable status file
echo precious > "$WORK/victim"
# every pid when pid_max is small (pids wrap), else the next 20000 from the last one given out
"$PY" - "$WORK" << 'EOF'
import os, sys
w = sys.argv[1]
top, last = int(open("/proc/sys/kernel/pid_max").read()), int(open("/proc/loadavg").read().split()[4])
pids = range(1, top + 1) if top <= 70000 else range(last, min(top, last + 20000) + 1)
for p in pids:
    os.symlink(f"{w}/victim", f"{w}/p.h5.status.tmp{p}")
EOF
rc=0; timeout 300 "$RS" run "$JOB" -o "$WORK/p.h5" --quiet 2> "$WORK/err" || rc=$?
if [[ $rc -eq 0 && "$(cat "$WORK/victim")" == precious && -s "$WORK/p.h5.status" ]]; then
  ok "symlinks at every status temp name a pid could give: sweep done, target intact"
else
  bad "status temp symlinks: exit $rc, victim now '$(head -c 60 "$WORK/victim")'"; cat "$WORK/err"
fi
mkdir "$WORK/d.h5.status"
rc=0; timeout 300 "$RS" run "$JOB" -o "$WORK/d.h5" --quiet 2> "$WORK/err" || rc=$?
left=$(find "$WORK" -maxdepth 1 -type f -name 'd.h5.status.tmp*' | wc -l)
warned=$(grep -c 'status file' "$WORK/err" || true)
if [[ $rc -eq 0 && $left -eq 0 && $warned -eq 1 && $(errlines "$WORK/err") -eq 0 ]]; then
  ok "status file not replaceable: said once, no temporary file left"
else
  bad "status file not replaceable: exit $rc, $left temp files left, said $warned times"; head -5 "$WORK/err"
fi

# 3. .npy and IDX data: records, --reuse and --resume on changed data
"$PY" - "$WORK" << 'EOF'
import sys, gzip, struct, numpy as np
w = sys.argv[1]
rng = np.random.default_rng(5)
np.save(f"{w}/x.npy", rng.normal(size=(120, 7)).astype(np.float32))
np.save(f"{w}/y.npy", rng.integers(0, 3, 120).astype(np.int64))
img = rng.integers(0, 256, (120, 28, 28), dtype=np.uint8)
lab = rng.integers(0, 10, 120).astype(np.uint8)
open(f"{w}/img.idx", "wb").write(struct.pack(">IIII", 0x803, 120, 28, 28) + img.tobytes())
open(f"{w}/lab.idx", "wb").write(struct.pack(">II", 0x801, 120) + lab.tobytes())
EOF
for kind in npy idx; do
  if [[ $kind == npy ]]; then img="$WORK/x.npy" lab="$WORK/y.npy"; else img="$WORK/img.idx" lab="$WORK/lab.idx"; fi
  sed "s|^data: .*|data: {kind: $kind, images: $img, labels: $lab, train_size: 80, heldout_size: 40}|; s|name: sidecars|name: $kind|" \
    "$JOB" > "$WORK/$kind.yaml"
  timeout 300 "$RS" run "$WORK/$kind.yaml" -o "$WORK/$kind-old.h5" --quiet
  if "$PY" - "$WORK/$kind-old.h5" "$img" "$lab" << 'EOF'; then
import sys, hashlib, h5py
with h5py.File(sys.argv[1], "r") as f:
    p, s = f["runs/data_path"].asstr()[()], f["runs/data_sha256"].asstr()[()]
for r in range(p.shape[0]):
    for k, path in enumerate(sys.argv[2:4]):
        assert p[r, k] == path and s[r, k] == hashlib.sha256(open(path, "rb").read()).hexdigest(), (p[r], s[r])
EOF
    ok "$kind data: every run records its data files and their SHA-256"
  else
    bad "$kind data: data_path/data_sha256 records missing or wrong"
  fi
  cp "$lab" "$WORK/$kind-lab.orig"
  # new labels, same shape: an old result would be silently wrong
  "$PY" - "$lab" "$kind" << 'EOF'
import sys, numpy as np
p, kind = sys.argv[1], sys.argv[2]
if kind == "npy":
    y = np.load(p); np.save(p, (y + 1) % 3)
else:
    b = bytearray(open(p, "rb").read()); b[8:] = bytes((v + 1) % 10 for v in b[8:]); open(p, "wb").write(b)
EOF
  rc=0; timeout 300 "$RS" run "$WORK/$kind.yaml" -o "$WORK/$kind-old.h5" --resume --quiet 2> "$WORK/err" || rc=$?
  if [[ $rc -eq 1 && $(errlines "$WORK/err") -eq 1 ]] && grep -q "data file $lab changed" "$WORK/err"; then
    ok "$kind data changed, then --resume: refused in one line naming the file"
  else
    bad "$kind data changed, then --resume: exit $rc"; cat "$WORK/err"
  fi
  out=$(timeout 300 "$RS" run "$WORK/$kind.yaml" -o "$WORK/$kind-reuse.h5" --reuse "$WORK/$kind-old.h5" 2>&1)
  timeout 300 "$RS" run "$WORK/$kind.yaml" -o "$WORK/$kind-fresh.h5" --quiet
  if echo "$out" | grep -q "reused 0 of 2 runs" && same "$WORK/$kind-fresh.h5" "$WORK/$kind-reuse.h5" > /dev/null; then
    ok "$kind data changed, then --reuse: nothing copied, equals a fresh run on the new data"
  else
    bad "$kind data changed, then --reuse: $(echo "$out" | grep -i reuse)"
  fi
  cp "$WORK/$kind-lab.orig" "$lab"
done

# 5. a stale creation mark
timeout 300 "$RS" run "$JOB" -o "$WORK/m.h5" --quiet
cp "$WORK/m.h5" "$WORK/m.ref"
touch "$WORK/m.h5.creating"
rc=0; timeout 300 "$RS" run "$JOB" -o "$WORK/m.h5" --resume --quiet 2> "$WORK/err" || rc=$?
if [[ $rc -eq 0 && ! -e "$WORK/m.h5.creating" ]]; then
  ok "--resume of a complete archive with a stale mark: done, mark removed"
else
  bad "stale mark on a complete archive: exit $rc, mark $([[ -e "$WORK/m.h5.creating" ]] && echo kept || echo gone)"
fi
size=$(stat -c %s "$WORK/m.h5")
truncate -s $((size / 2)) "$WORK/m.h5"
touch "$WORK/m.h5.creating"
rc=0; timeout 300 "$RS" run "$JOB" -o "$WORK/m.h5" --resume --quiet 2> "$WORK/err" || rc=$?
if [[ $rc -eq 1 && $(errlines "$WORK/err") -eq 1 && $(stat -c %s "$WORK/m.h5" 2> /dev/null) -eq $((size / 2)) ]] \
   && grep -q "holds results" "$WORK/err" && grep -q -- "--move-aside" "$WORK/err"; then
  ok "truncated archive that held results, stale mark: --resume refuses, the file kept"
else
  bad "truncated archive with a stale mark: exit $rc, file $(stat -c %s "$WORK/m.h5" 2> /dev/null || echo deleted)"; cat "$WORK/err"
fi
cp "$WORK/m.ref" "$WORK/m.h5"
rm -f "$WORK/m.h5.status"
"$PY" -c "import h5py,sys; f=h5py.File(sys.argv[1],'r+'); del f.attrs['structure_complete']" "$WORK/m.h5"
rc=0; timeout 300 "$RS" run "$JOB" -o "$WORK/m.h5" --resume --quiet 2> "$WORK/err" || rc=$?
if [[ $rc -eq 1 && -s "$WORK/m.h5" ]] && grep -q "done/ masks are set" "$WORK/err"; then
  ok "archive without its structure marker but with results, stale mark: --resume refuses, the file kept"
else
  bad "unmarked archive with results: exit $rc, file $([[ -s "$WORK/m.h5" ]] && echo kept || echo deleted)"; cat "$WORK/err"
fi
finish
