#!/usr/bin/python3
"""Local rank against training step from a ranksweep archive.

One panel per group of runs (runs that differ only in their seed form a
group); in each, one curve per hidden layer: the mean over the group's seeds of
the mean local rank at one eps of the ladder, with a band of +-1 std. A second
row shows training and held-out loss. Usage:

    /usr/bin/python3 analysis/plot_localrank.py ARCHIVE.h5 -o figure.png [--eps 0.01]
"""
import argparse
import sys

import h5py
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path):
    with h5py.File(path, "r") as f:
        a = {
            "names": [text(n).strip("\x00") for n in f["runs/name"][()]],
            "steps": f["runs/steps"][()],
            "nckpt": f["runs/nckpt"][()],
            "nlayers": f["runs/nlayers"][()],
            "mean": f["lr/mean"][()],
            "train_loss": f["metrics/train_loss"][()],
            "heldout_loss": f["metrics/heldout_loss"][()],
            "eps": np.atleast_1d(f.attrs["eps"]),
            "job": text(f.attrs.get("job_name", "")),
            "axes": {},
        }
        if "runs/params" in f:
            for k, d in f["runs/params"].items():
                a["axes"][k] = [text(v).strip("\x00") for v in d[()]] if d.dtype.kind in "SOU" else list(d[()])
    return a


def groups(a):
    """Runs grouped by every grid axis except the seed ones."""
    keys = [k for k in a["axes"] if k.split(".")[-1] != "seed" and k != "seed"]
    out = {}
    for r in range(len(a["names"])):
        label = ",".join(f"{k.split('.')[-1]}={a['axes'][k][r]}" for k in keys) or "all runs"
        out.setdefault(label, []).append(r)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--eps", type=float, default=None, help="threshold of the ladder (default: the middle one)")
    args = p.parse_args()
    a = load(args.archive)
    eps = a["eps"]
    e = len(eps) // 2 if args.eps is None else int(np.argmin(np.abs(eps - args.eps)))
    gs = groups(a)
    n = len(gs)
    fig, ax = plt.subplots(2, n, figsize=(4.2 * n, 6.5), squeeze=False, sharex="col")
    for j, (label, runs) in enumerate(gs.items()):
        r0 = runs[0]
        C = int(a["nckpt"][r0])
        steps = a["steps"][r0, :C].astype(float)
        x = np.where(steps > 0, steps, 0.5)  # step 0 drawn at 0.5 on the log axis
        L = int(a["nlayers"][r0])
        for l in range(L):
            y = np.array([a["mean"][r, :C, l, e] for r in runs])
            m, s = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
            ax[0, j].plot(x, m, label=f"layer {l + 1}")
            ax[0, j].fill_between(x, m - s, m + s, alpha=0.2)
        for key, style in (("train_loss", "-"), ("heldout_loss", "--")):
            y = np.array([a[key][r, :C] for r in runs])
            ax[1, j].plot(x, np.nanmean(y, axis=0), style, color="k", label=key.replace("_", " "))
        ax[0, j].set_title(f"{label}\n({len(runs)} run{'s' if len(runs) > 1 else ''})", fontsize=9)
        ax[0, j].set_xscale("log")
        ax[1, j].set_xscale("log")
        ax[1, j].set_yscale("log")
        ax[1, j].set_xlabel("training step")
    ax[0, 0].set_ylabel(f"local rank (eps = {eps[e]:g})")
    ax[1, 0].set_ylabel("loss")
    ax[0, 0].legend(fontsize=8)
    ax[1, 0].legend(fontsize=8)
    fig.suptitle(f"{a['job']}: local rank of each hidden layer's pre-activation Jacobian")
    fig.tight_layout()
    fig.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
