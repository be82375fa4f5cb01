#!/usr/bin/env bash
# `ranksweep show` for people and programs: labelled eps columns, aligned long
# run names, --csv equal to the archive's own numbers, --eps and --layer
# filters with clear errors, older archive formats read, newer ones refused.
source "$(dirname "$0")/lib.sh"
job="$WORK/long.yaml"
# Long run names (over 40 characters) from three grid axes.
sed 's/^  train.weight_decay: .*$/  train.weight_decay: [0.01, 0.1]\n  train.lr: [0.003, 0.00123456789]/' \
  "$E2E/small.yaml" > "$job"
sed -i 's/^  steps: 1500$/  steps: 300/; s/^  seed: \[1, 2\]$/  seed: [1]/' "$job"
sweep 2 "$job" -o "$WORK/a.h5"
# Grid values are kept exactly (format 1 rounded them to 6 digits).
"$PY" - "$WORK/a.h5" <<'EOF' && ok "lr 0.00123456789 kept exactly in runs/grid and runs/config" || bad "exact grid values"
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    lr, cfg = f["runs/grid/train.lr"][()], f["runs/config"].asstr()[()]
    assert lr.dtype == "float64" and list(lr) == [0.003, 0.00123456789, 0.003, 0.00123456789], lr
    assert "train.lr: 0.00123456789\n" in cfg[1] and "train.weight_decay: 0.1\n" in cfg[3], cfg[1]
    assert f["runs/values/train.lr"][1] == 0.00123457  # the old 6-digit table, unchanged
EOF
"$RS" show "$WORK/a.h5" > "$WORK/show.txt"
cat "$WORK/show.txt" | tail -14
if grep -qE 'layer +eps=0.1 +eps=0.01 +eps=0.001 +numpy' "$WORK/show.txt"; then ok "eps columns labelled"; else bad "eps labels"; fi
# Alignment: the layer column ends at the same offset in every table row.
"$PY" - "$WORK/show.txt" <<'EOF' && ok "long names aligned" || bad "alignment"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
head = next(i for i, l in enumerate(lines) if " layer " in l)
hdr = lines[head]
end = hdr.index("layer") + len("layer")
rows = lines[head + 1:]
assert len(rows) == 4 * 3, rows
names = [l.split()[1] for l in rows if "=" in l]
assert len(names) == 4 and max(map(len, names)) > 32, names
for l in rows:
    assert l[end - 1].isdigit() and l[end] == " ", (end, l)
EOF
# CSV: one row per run x checkpoint x layer x eps, numbers as in the archive.
"$RS" show "$WORK/a.h5" --csv > "$WORK/a.csv"
"$PY" - "$WORK/a.h5" "$WORK/a.csv" <<'EOF' && ok "csv equals lr/mean_eps, lr/mean_numpy and metrics exactly" || bad "csv"
import csv, sys, h5py, numpy as np
rows = list(csv.DictReader(open(sys.argv[2])))
with h5py.File(sys.argv[1], "r") as f:
    R, C, L, E = (int(f.attrs[k]) for k in ("n_runs", "n_ckpt", "n_layers", "n_eps"))
    assert len(rows) == R * C * L * E, len(rows)
    m, mn, eps = f["lr/mean_eps"][()], f["lr/mean_numpy"][()], f["runs/eps"][()]
    names = f["runs/name"].asstr()[()]
    for row in rows:
        r, c, l = int(row["run"]), int(row["checkpoint"]), int(row["layer"]) - 1
        e = list(eps[r]).index(float(row["eps"]))
        assert row["name"] == names[r] and int(row["step"]) == f["runs/steps"][r, c]
        assert float(row["epoch"]) == f["runs/epochs"][r, c]
        assert float(row["local_rank"]) == m[r, c, l, e] and float(row["local_rank_numpy"]) == mn[r, c, l]
        assert float(row["train_loss"]) == f["metrics/train_loss"][r, c]
EOF
"$RS" show "$WORK/a.h5" --csv --eps 0.01 --layer 2 > "$WORK/b.csv"
csvset() { # csvset FILE: the distinct (eps, layer) pairs and the row count
  "$PY" -c 'import csv, sys; r = list(csv.DictReader(open(sys.argv[1]))); print(sorted({(x["eps"], x["layer"]) for x in r}), len(r))' "$1"
}
if [[ $(csvset "$WORK/b.csv") == "[('0.01', '2')] 48" ]]; then ok "--csv --eps --layer filter"; else bad "--csv filter: $(csvset "$WORK/b.csv")"; fi
"$RS" show "$WORK/a.h5" --eps 0.01 --layer 2 > "$WORK/c.txt"
if grep -qE 'layer +eps=0.01$' "$WORK/c.txt" && [[ $(grep -cE '^ +[0-9]+  ' "$WORK/c.txt") -eq 4 ]]; then
  ok "--eps --layer table"
else
  bad "--eps --layer table: $(tail -5 "$WORK/c.txt")"
fi
"$RS" show "$WORK/a.h5" --run 3 --eps 0.001 > "$WORK/d.txt"
if grep -q 'L3@eps=0.001' "$WORK/d.txt" && grep -q 'epoch' "$WORK/d.txt"; then ok "--run curve labelled"; else bad "--run: $(cat "$WORK/d.txt" | tail -4)"; fi
if out=$("$RS" show "$WORK/a.h5" --eps 0.5 2>&1); then bad "absent eps accepted"; else
  [[ $(echo "$out" | wc -l) -eq 1 ]] && echo "$out" | grep -q "no eps 0.5" && ok "absent eps: one line: $out" || bad "absent eps: $out"
fi
if out=$("$RS" show "$WORK/a.h5" --layer 9 2>&1); then bad "absent layer accepted"; else
  echo "$out" | grep -q "layers 1..3" && ok "absent layer refused" || bad "absent layer: $out"
fi
# An archive of format 1 (the new datasets removed) is still shown; a newer
# format is refused with one clear line.
cp "$WORK/a.h5" "$WORK/v1.h5"
cp "$WORK/a.h5" "$WORK/v9.h5"
"$PY" - "$WORK/v1.h5" "$WORK/v9.h5" <<'EOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    for n in ["lr/counts_numpy", "lr/mean_eps", "lr/mean_numpy", "runs/epochs", "runs/config", "runs/grid"]:
        del f[n]
    f.attrs["format_version"] = 1
with h5py.File(sys.argv[2], "r+") as f:
    f.attrs["format_version"] = 9
EOF
if "$RS" show "$WORK/v1.h5" --csv --eps 0.01 --layer 2 > "$WORK/v1.csv" && cmp -s "$WORK/v1.csv" <(sed 's/,[0-9.]*,2,0.01,/,,2,0.01,/' "$WORK/b.csv") \
   && "$RS" show "$WORK/v1.h5" | grep -q "(format 1)"; then
  ok "format 1 archive shown (no epochs), same numbers"
else
  bad "format 1: $(head -3 "$WORK/v1.csv")"
fi
if out=$("$RS" show "$WORK/v9.h5" 2>&1); then bad "format 9 accepted"; else
  echo "$out" | grep -q "version 9 is newer" && ok "format 9 refused: $out" || bad "format 9: $out"
fi
finish
