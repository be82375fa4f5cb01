"""Cross-check of ranksweep's local rank against PyTorch (meson test
'torch-localrank'). Runs the C exporter (tests/measure/lr_export.c), which
writes random float64 networks, 64 evaluation points each and ranksweep's
per-point counts and spectra; recomputes every hidden pre-activation Jacobian
with functorch.vmap(functorch.jacfwd(...)) and torch.linalg.svdvals; asserts:
  - counts above each absolute eps identical at every point and layer;
  - the NumPy-tolerance count identical, and equal to torch.linalg.matrix_rank
    with its default tolerance;
  - singular values within 1e-10 * sigma_max of each spectrum;
  - effective and stable rank within 1e-9 (relative).
usage: test_localrank_vs_torch.py LR_EXPORT_BINARY [WORKDIR]"""
import os
import shutil
import subprocess
import sys
import tempfile

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before torch loads OpenBLAS
os.environ["OMP_NUM_THREADS"] = "1"
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lr_manifest import read_export, torch_counts, torch_localrank  # noqa: E402


def check_one(exp):
    failures = []
    jacs, svals, elapsed = torch_localrank(exp, threads=1)
    tc = torch_counts(jacs, svals, exp["eps"])
    L, N = exp["nmeasure"], exp["npoints"]
    worst = 0.0
    small = 0
    for l in range(L):
        ours = exp["counts"][l]
        if not np.array_equal(ours, tc[l]):
            bad = np.argwhere(ours != tc[l])
            p, e = bad[0]
            failures.append(f"{exp['label']} layer {l + 1}: {len(bad)} counts differ, e.g. point {p} "
                            f"column {e}: ranksweep {ours[p, e]} torch {tc[l][p, e]}")
        mr = torch.linalg.matrix_rank(jacs[l]).numpy()
        if not np.array_equal(mr, ours[:, -1]):
            failures.append(f"{exp['label']} layer {l + 1}: NumPy-tolerance count differs from "
                            f"torch.linalg.matrix_rank at {int((mr != ours[:, -1]).sum())} points")
        s = svals[l].numpy()
        smax = s[:, :1]
        err = np.abs(exp["spectra"][l] - s) / np.where(smax > 0, smax, 1.0)
        worst = max(worst, float(err.max()))
        small += int((s < 1e-3 * smax).sum())
        if err.max() > 1e-10:
            failures.append(f"{exp['label']} layer {l + 1}: spectra differ by {err.max():.3e} * sigma_max")
        ssum = s.sum(1, keepdims=True)
        p = np.where(ssum > 0, s / np.where(ssum > 0, ssum, 1), 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.where(p > 0, p * np.log(p), 0).sum(1)
        erank = np.where(ssum[:, 0] > 0, np.exp(h), 0)
        srank = np.where(smax[:, 0] > 0, (s ** 2).sum(1) / np.where(smax[:, 0] > 0, smax[:, 0], 1) ** 2, 0)
        if not np.allclose(exp["effrank"][l], erank, rtol=1e-9, atol=0):
            failures.append(f"{exp['label']} layer {l + 1}: effective rank differs")
        if not np.allclose(exp["stablerank"][l], srank, rtol=1e-9, atol=0):
            failures.append(f"{exp['label']} layer {l + 1}: stable rank differs")
    means = " ".join(f"L{l + 1}:" + "/".join(f"{v:.2f}" for v in exp["counts"][l].mean(0)) for l in range(L))
    print(f"{exp['label']}: {N} points x {L} layers, torch {elapsed:.2f} s, max |dsv|/sigma_max "
          f"{worst:.2e}, values < 1e-3 sigma_max (zeros included): {small}; mean counts (eps..., numpy) {means}")
    return failures


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    exporter = sys.argv[1]
    work = tempfile.mkdtemp(prefix="lr-torch-", dir=sys.argv[2] if len(sys.argv) > 2 else None)
    try:
        out = subprocess.run([exporter, os.path.join(work, "export")], check=True,
                             capture_output=True, text=True).stdout.split()
        if not out:
            print("exporter wrote no networks", file=sys.stderr)
            return 1
        failures = []
        for d in out:
            failures += check_one(read_export(d))
        for f in failures:
            print("FAIL:", f)
        print(f"{len(out)} networks, {len(failures)} failures")
        return 1 if failures else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
