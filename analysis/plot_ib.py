#!/usr/bin/python3
"""Theory against experiment for a VIB beta_vib sweep on gaussian_ib data
(jobs/gaussian-ib.yaml): the final local rank of the encoder mean at every eps
of the ladder, the rate (mean KL) and H(Y) - task loss, against beta_vib, with
the Gaussian information bottleneck's closed form (docs/science.md,
"The Gaussian information bottleneck"): critical values beta_vib,i = rho_i^2, the optimal rank, I(T;X)
and I(T;Y). Prints the measured transition points next to the theoretical ones.

Usage: plot_ib.py ARCHIVE.h5 [-o FIGURE.png] [--rho 0.9,0.7,0.5,0.3] [--layer L]
  --rho    canonical correlations (default: data.rho of the job stored in the archive)
  --layer  1-based measured layer (default: the last one, the encoder mean)
"""
import argparse
import math
import re
import sys

import h5py
import numpy as np


def job_rho(f):
    text = f["job/text"][()]
    text = text.tobytes() if isinstance(text, np.ndarray) else text
    text = text.decode() if isinstance(text, bytes) else text
    m = re.search(r"^\s*rho:\s*\[([^\]]*)\]", text, re.M)
    if not m:
        return [0.9, 0.7, 0.5, 0.3]  # the key's default
    return [float(v) for v in m.group(1).split(",")]


def theory(rho, bv):
    """Optimal rank, I(T;X), I(T;Y) (nats) at beta_vib = bv (beta = 1/bv)."""
    beta = 1.0 / bv
    rank, itx, ity = 0, 0.0, 0.0
    for r in rho:
        r2 = r * r
        if beta > 1.0 / r2:
            lam = 1.0 - r2
            tx = 0.5 * math.log((beta - 1.0) * r2 / lam)
            rank += 1
            itx += tx
            ity += tx - 0.5 * math.log(beta * r2)
    return rank, itx, ity


def transitions(b, rank):
    """For each drop of the (ascending-beta) rank sequence: the geometric
    midpoint of the two grid values around it, with the bracket."""
    out = []
    for i in range(len(b) - 1):
        for k in range(int(rank[i + 1]), int(rank[i])):
            out.append((k + 1, math.sqrt(b[i] * b[i + 1]), b[i], b[i + 1]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("archive")
    ap.add_argument("-o", "--out", default="gaussian-ib.png")
    ap.add_argument("--rho", default=None)
    ap.add_argument("--layer", type=int, default=0)
    a = ap.parse_args()
    with h5py.File(a.archive, "r") as f:
        rho = [float(v) for v in a.rho.split(",")] if a.rho else job_rho(f)
        if "runs/values/train.beta" not in f:
            sys.exit("plot_ib.py: %s has no train.beta grid axis" % a.archive)
        beta = f["runs/values/train.beta"][()]
        order = np.argsort(beta)
        beta = beta[order]
        eps = f["runs/eps"][0]
        lr, rate, iy = [], [], []
        for r in order:
            C = int(f["runs/nckpt"][r])
            L = int(f["runs/nlayers"][r])
            layer = (a.layer or L) - 1
            lr.append(f["lr/mean"][r, C - 1, layer, : len(eps)])
            rate.append(f["metrics/rate"][r, C - 1])
            iy.append(f["metrics/info_y"][r, C - 1])
        lr, rate, iy = np.array(lr), np.array(rate), np.array(iy)

    crit = sorted((r * r for r in rho), reverse=True)
    print("critical beta_vib (theory): " + ", ".join("%.4g" % c for c in crit))
    for e in range(len(eps)):
        tr = transitions(beta, lr[:, e])
        print("eps %g: measured steps (rank k -> k-1 between the bracketing grid values):" % eps[e])
        for k, mid, lo, hi in sorted(tr, key=lambda t: -t[1]):
            th = crit[k - 1] if k - 1 < len(crit) else float("nan")
            print("  rank %d -> %d at beta_vib ~ %.4g (between %.4g and %.4g); theory %.4g"
                  % (k, k - 1, mid, lo, hi, th))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = np.logspace(math.log10(beta.min()), math.log10(beta.max()), 800)
    th = np.array([theory(rho, b) for b in grid])
    fig, ax = plt.subplots(2, 1, figsize=(7, 7.5), sharex=True)
    ax[0].step(grid, th[:, 0], where="mid", color="k", lw=1.5, label="optimal rank (theory)")
    marks = "osd^v<>p"
    for e in range(len(eps)):
        ax[0].plot(beta, lr[:, e] + 0.06 * (e - (len(eps) - 1) / 2), marks[e % len(marks)],
                   ms=4, label="measured, eps = %g" % eps[e])
    ax[0].set_ylabel("final local rank of the encoder mean")
    ax[0].legend(fontsize=8)
    ax[1].plot(grid, th[:, 1], "C0-", label="I(T;X) (theory)")
    ax[1].plot(grid, th[:, 2], "C1-", label="I(T;Y) (theory)")
    ax[1].plot(beta, rate, "C0o", ms=4, label="rate = mean KL (measured)")
    ax[1].plot(beta, iy, "C1s", ms=4, label="H(Y) - task loss (measured)")
    ax[1].set_yscale("symlog", linthresh=0.1)
    ax[1].set_ylabel("nats")
    ax[1].set_xlabel("beta_vib")
    ax[1].legend(fontsize=8)
    for a_ in ax:
        a_.set_xscale("log")
        for c in crit:
            a_.axvline(c, color="gray", ls="--", lw=0.8)
    ax[0].set_title("Gaussian IB: rho = (%s), critical beta_vib = rho_i^2 (dashed)"
                    % ", ".join("%g" % r for r in rho), fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=120)
    print("wrote", a.out)


if __name__ == "__main__":
    main()
