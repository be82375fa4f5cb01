#!/usr/bin/env bash
# The representation-spectrum pass: as the last phase of `run`
# (measure.spectrum: true) and post hoc (`ranksweep spectrum`) on 1, 2 and 4
# ranks (BLACS grids 1x1, 2x1, 2x2): the spectra agree to 1e-10 relative, and
# the stored summaries follow from the stored singular values.
source "$(dirname "$0")/lib.sh"
sed -e 's/save_weights: final/save_weights: all\n  spectrum: true/' "$E2E/small.yaml" \
  | sed 's/\\n/\n/' > "$WORK/spec.yaml"
grep -q "spectrum: true" "$WORK/spec.yaml"
t0=$SECONDS
sweep 3 "$WORK/spec.yaml" -o "$WORK/a.h5"
echo "sweep with spectrum phase on 3 ranks: $((SECONDS - t0)) s"
cp "$WORK/a.h5" "$WORK/base.h5"
# Post hoc passes over other point sets, on other process grids.
for n in 1 2 4; do
  cp "$WORK/base.h5" "$WORK/p$n.h5"
  /usr/bin/h5copy -h > /dev/null 2>&1 || true
  "$PY" - "$WORK/p$n.h5" <<'PYEOF'
import sys, h5py
with h5py.File(sys.argv[1], "r+") as f:
    del f["spectrum"]   # drop the run's pass; recompute post hoc below
PYEOF
  t0=$SECONDS
  # No status file here: the archive's growth is the progress watched.
  watched "spectrum pass on $n rank(s)" "$WORK/p$n.h5" \
    "$MPIRUN" -np "$n" "$RS" spectrum "$WORK/p$n.h5" --points eval --all-checkpoints --quiet
  echo "post-hoc pass over every checkpoint on $n rank(s): $((SECONDS - t0)) s"
done
"$PY" - "$WORK" <<'PYEOF' && ok "spectra agree across grids; summaries follow from them" || bad "spectrum checks"
import sys, numpy as np, h5py
w = sys.argv[1]
def load(p):
    with h5py.File(p, "r") as f:
        g = f["spectrum"]
        return {k: g[k][()] for k in g}, dict(g.attrs), f["runs/eps"][()]
a, attrs_a, eps = load(f"{w}/a.h5")
assert attrs_a["points"] in ("train", b"train"), attrs_a  # str from format 2 on
assert a["done"].sum() == a["done"].shape[0] * 1 * 3 or a["done"].sum() > 0
ref, attrs, _ = load(f"{w}/p1.h5")
assert attrs["points"] in ("eval", b"eval")
assert ref["done"].all(), "every checkpoint of every run measured"
for n in (2, 4):
    o, _, _ = load(f"{w}/p{n}.h5")
    m = np.isfinite(ref["sv"])
    assert np.array_equal(m, np.isfinite(o["sv"]))
    smax = np.nanmax(ref["sv"], axis=-1, keepdims=True)
    err = np.nanmax(np.abs(ref["sv"] - o["sv"]) / smax)
    print(f"grid of {n} ranks vs 1: max |ds|/smax = {err:.2e}")
    assert err < 1e-10
    assert np.array_equal(ref["feature_rank"], o["feature_rank"]) or err < 1e-10
for d in (a, ref):
    R, C, L, K = d["sv"].shape
    for r in range(R):
        for c in range(C):
            for l in range(L):
                if not d["done"][r, c, l]:
                    continue
                s = d["sv"][r, c, l]
                s = s[np.isfinite(s)]
                n = d["npoints"][r, c]
                fr = [(s / np.sqrt(n) > e).sum() for e in eps[r]]
                assert list(d["feature_rank"][r, c, l, :len(fr)]) == fr
                p = s / s.sum()
                p = p[p > 0]
                assert abs(np.exp(-(p * np.log(p)).sum()) - d["effrank"][r, c, l]) < 1e-9 * K
                for q, sig in enumerate((0.1, 0.3, 1.0)):
                    ip = 0.5 * np.log1p(s**2 / (n * sig**2)).sum()
                    assert abs(ip - d["info_proxy"][r, c, l, q]) < 1e-9 * max(1, ip)
print("summaries consistent")
PYEOF
finish
