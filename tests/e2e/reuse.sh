#!/usr/bin/env bash
# Sweeps that grow: a 2-seed sweep, then the 4-seed job run with --reuse of it,
# is bit-identical (scientific content) to the 4-seed job computed from
# scratch, and computes only the 2 new runs. Also: every group of the archive
# opens in xarray with named dimensions, and reuse refuses what it cannot use.
source "$(dirname "$0")/lib.sh"
job2="$WORK/two.yaml"
job4="$WORK/four.yaml"
# One weight decay; the grown job differs in its seed list and in a comment:
# neither matters to the runs both share.
sed 's/^  train.weight_decay: .*$/  train.weight_decay: [0.01]/' "$E2E/small.yaml" > "$job2"
sed 's/^  seed: \[1, 2\]$/  seed: [1, 2, 3, 4]/; s/^# A small sweep.*/# grown: four seeds/' "$job2" > "$job4"
grep -q 'seed: \[1, 2, 3, 4\]' "$job4" && grep -q 'seed: \[1, 2\]' "$job2" || { bad "job files"; finish; }

now() { date +%s.%N; }
t0=$(now)
sweep 2 "$job2" -o "$WORK/old.h5"
t1=$(now)
sweep 2 "$job4" -o "$WORK/scratch.h5"
t2=$(now)
out=$(timeout 300 "$MPIRUN" -np 2 "$RS" run "$job4" -o "$WORK/grown.h5" --reuse "$WORK/old.h5" 2>&1)
t3=$(now)
echo "$out" | grep -E "reused|complete" || true
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
  printf "timings: 2 seeds %.2f s; 4 seeds from scratch %.2f s; 4 seeds reusing 2 %.2f s\n", b - a, c - b, d - c }'
if echo "$out" | grep -q "reused 2 of 4 runs"; then ok "2 of 4 runs reused"; else bad "reuse count: $out"; fi
if same "$WORK/scratch.h5" "$WORK/grown.h5"; then ok "grown archive identical to the from-scratch one"; else bad "grown archive differs"; fi
"$PY" - "$WORK/grown.h5" "$WORK/old.h5" <<'EOF' && ok "provenance records the reuse; configs hash alike" || bad "provenance or hashes"
import sys, h5py
with h5py.File(sys.argv[1], "r") as g, h5py.File(sys.argv[2], "r") as o:
    p = g["provenance"].attrs
    assert p["reused_from"] == sys.argv[2] and p["reused_runs"] == 2, dict(p)
    hg, ho = g["runs/config_hash"].asstr()[()], o["runs/config_hash"].asstr()[()]
    assert list(hg[:2]) == list(ho) and len(set(hg)) == 4, (hg, ho)
EOF
# A partial archive (one slice of the 4-seed job: runs 0 and 2 only) gives
# exactly its finished runs; the result is again the from-scratch archive.
timeout 300 "$MPIRUN" -np 2 "$RS" run "$job4" -o "$WORK/slice0.h5" --slice 0/2 --quiet || true
out=$(timeout 300 "$MPIRUN" -np 2 "$RS" run "$job4" -o "$WORK/fromslice.h5" --reuse "$WORK/slice0.h5" 2>&1)
if echo "$out" | grep -q "reused 2 of 4 runs" && same "$WORK/scratch.h5" "$WORK/fromslice.h5"; then
  ok "partial archive: its 2 finished runs reused, result identical to scratch"
else
  bad "partial archive: $out"
fi
# Archives padded differently: the old one has longer eps ladders and more
# points (its NumPy column sits at index 3, the new one's at 2); the copied
# runs still land exactly where a from-scratch sweep puts them.
sed 's/^  train.weight_decay: .*$/  measure.eps: [[0.1, 0.01], [0.1, 0.01, 0.001]]\n  measure.points: [40, 24]/; s/^  steps: 1500$/  steps: 300/' \
  "$E2E/small.yaml" > "$WORK/p_old.yaml"
sed 's/^  measure.eps: .*$/  measure.eps: [[0.1, 0.01]]/; s/^  measure.points: .*$/  measure.points: [24]/; s/^  seed: \[1, 2\]$/  seed: [1, 2, 3]/' \
  "$WORK/p_old.yaml" > "$WORK/p_new.yaml"
sweep 2 "$WORK/p_old.yaml" -o "$WORK/p_old.h5"
sweep 3 "$WORK/p_new.yaml" -o "$WORK/p_scratch.h5"
out=$(timeout 300 "$MPIRUN" -np 3 "$RS" run "$WORK/p_new.yaml" -o "$WORK/p_grown.h5" --reuse "$WORK/p_old.h5" 2>&1)
if echo "$out" | grep -q "reused 2 of 3 runs" && same "$WORK/p_scratch.h5" "$WORK/p_grown.h5"; then
  ok "differently padded archives: 2 of 3 reused, identical to scratch"
else
  bad "differently padded archives: $out"
fi
# Every group opens in xarray (h5netcdf) without phony dimensions, the
# representation spectra (/spectrum, a later pass) included.
timeout 300 "$MPIRUN" -np 2 "$RS" spectrum "$WORK/grown.h5" --points eval --quiet
if "$PY" "$RANKSWEEP_SOURCE_ROOT/tests/archive/check_xarray.py" "$WORK/grown.h5"; then
  ok "xarray opens every group"
else
  bad "xarray"
fi
# Reusing an archive of another configuration copies nothing (and still completes).
sed 's/lr: 0.003/lr: 0.004/' "$job2" > "$WORK/other.yaml"
out=$(timeout 300 "$MPIRUN" -np 2 "$RS" run "$WORK/other.yaml" -o "$WORK/other.h5" --reuse "$WORK/old.h5" 2>&1)
if echo "$out" | grep -q "reused 0 of 2 runs"; then ok "other configuration: nothing reused"; else bad "other configuration: $out"; fi
# IDX data: the archive records each file's SHA-256; reuse matches data by
# content, not by path (a copy elsewhere is reused, a changed byte is not).
fm=/usr/share/datasets/fashion-mnist
if [[ -r $fm/train-images-idx3-ubyte.gz ]]; then
  mkdir -p "$WORK/d1" "$WORK/d2"
  cp "$fm"/train-*-ubyte.gz "$WORK/d1/"
  cp "$fm"/train-*-ubyte.gz "$WORK/d2/"
  idx() { # idx DIR SEEDS > job
    printf 'name: idx\ndata:\n  kind: idx\n  images: %s\n  labels: %s\n  train_size: 100\n  heldout_size: 50\n' \
      "$1/train-images-idx3-ubyte.gz" "$1/train-labels-idx1-ubyte.gz"
    printf 'model:\n  widths: [8]\ntrain:\n  steps: 20\n  batch: 10\nmeasure:\n  log_points: 3\n  points: 5\ngrid:\n  seed: %s\n' "$2"
  }
  idx "$WORK/d1" "[1, 2]" > "$WORK/i1.yaml"
  idx "$WORK/d2" "[1, 2, 3]" > "$WORK/i2.yaml"
  sweep 2 "$WORK/i1.yaml" -o "$WORK/i1.h5"
  "$PY" - "$WORK/i1.h5" "$WORK/d1" <<'EOF' && ok "data_sha256 matches the files" || bad "data_sha256"
import hashlib, sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    sha, paths = f["runs/data_sha256"].asstr()[()], f["runs/data_path"].asstr()[()]
    for r in range(2):
        for k, name in enumerate(["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]):
            p = f"{sys.argv[2]}/{name}"
            assert paths[r, k] == p and sha[r, k] == hashlib.sha256(open(p, "rb").read()).hexdigest(), (r, k)
        assert sha[r, 2] == "" and paths[r, 3] == ""
    ev = f["runs/eval_index"][()]
    assert ev.shape == (2, 5) and (ev >= 0).all() and (ev < 50).all() and len(set(ev[0])) == 5, ev
EOF
  out=$(timeout 300 "$MPIRUN" -np 2 "$RS" run "$WORK/i2.yaml" -o "$WORK/i2.h5" --reuse "$WORK/i1.h5" 2>&1)
  if echo "$out" | grep -q "reused 2 of 3 runs"; then ok "same data at another path: reused"; else bad "idx reuse: $out"; fi
  # one byte of the labels file changed (gzip's mtime field: still decodes the same)
  printf '\x01' | dd of="$WORK/d2/train-labels-idx1-ubyte.gz" bs=1 seek=4 conv=notrunc status=none
  out=$(timeout 300 "$MPIRUN" -np 2 "$RS" run "$WORK/i2.yaml" -o "$WORK/i3.h5" --reuse "$WORK/i1.h5" 2>&1 || true)
  if echo "$out" | grep -q "reused 0 of 3 runs"; then ok "changed data file: not reused"; else bad "changed data file: $out"; fi
fi
# A file that is not an archive is refused with a line naming it.
echo "not hdf5" > "$WORK/junk.h5"
if out=$(timeout 300 "$MPIRUN" -np 2 "$RS" run "$job2" -o "$WORK/x.h5" --reuse "$WORK/junk.h5" --quiet 2>&1); then
  bad "junk reuse accepted"
else
  echo "$out" | head -2
  if echo "$out" | grep -q "junk.h5"; then ok "junk --reuse refused, naming the file"; else bad "junk message: $out"; fi
fi
finish
