"""Local rank against training step, one curve per hidden layer: the mean
over the seeds of each group of runs with a band of one standard deviation,
one panel per group (runs that differ only in their seed).

    /usr/bin/python3 -m ranksweep_analysis.plots.localrank ARCHIVE.h5 -o FIG.png [--eps 0.01] [--csv F.csv]
"""
import argparse
import sys

import numpy as np
import pandas as pd

from .. import helpers as H
from ..archive import load
from . import layout


def data(ds, eps=0.01):
    """Tidy numbers behind the figure: group, layer, step, epoch, mean, sd, n."""
    lr = H.lr_at(ds, eps)
    g = H.group_stats(lr)
    if "checkpoint" in ds.dims:
        raise H.ArchiveError(f"{ds.attrs.get('path')}: runs have different checkpoint lists; "
                             "plot a subset with the same steps")
    rows = []
    for gi, label in enumerate(g["group"].values):
        for l in g["layer"].values:
            m = g["avg"].sel(layer=l).isel(group=gi).values
            s = g["sd"].sel(layer=l).isel(group=gi).values
            n = g["n"].sel(layer=l).isel(group=gi).values
            for k, step in enumerate(g["step"].values):
                if n[k] > 0:
                    rows.append({"group": label, "layer": int(l), "step": int(step),
                                 "epoch": float(g["epoch"].values[k]) if "epoch" in g.coords and g["epoch"].ndim == 1
                                 else np.nan,
                                 "eps": float(eps), "lr_mean": m[k], "lr_sd": s[k], "n_seeds": int(n[k])})
    return pd.DataFrame(rows, columns=["group", "layer", "step", "epoch", "eps", "lr_mean", "lr_sd", "n_seeds"])


def draw(df, out, title):
    import matplotlib.pyplot as plt
    groups = list(dict.fromkeys(df["group"]))
    layers = sorted(df["layer"].unique())
    fig, slots = layout.grid(len(groups))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = {}
    for (ax,), label in zip(slots, groups):
        d = df[df["group"] == label]
        for i, l in enumerate(layers):
            e = d[d["layer"] == l]
            x = layout.logstep(e["step"])
            c = colors[i % len(colors)]
            h, = ax.plot(x, e["lr_mean"], color=c, lw=1.4)
            ax.fill_between(x, e["lr_mean"] - e["lr_sd"].fillna(0), e["lr_mean"] + e["lr_sd"].fillna(0),
                            color=c, alpha=0.2, lw=0)
            handles[f"layer {l}"] = h
        n = int(d["n_seeds"].max()) if len(d) else 0
        layout.title(ax, f"{label} ({n} seed{'s' if n != 1 else ''})")
        ax.set_xscale("log")
        ax.set_xlabel("training step (0 at 0.5)", fontsize=8)
        ax.set_ylabel("local rank", fontsize=8)
        ax.tick_params(labelsize=7)
    layout.finish(fig, title, list(handles.values()), list(handles), out, legend_title="mean ± 1 sd over seeds")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive")
    p.add_argument("-o", "--output", required=True, help="PNG file")
    p.add_argument("--eps", type=float, default=0.01, help="threshold; must be in the archive's ladder (default 0.01)")
    p.add_argument("--csv", default=None, help="numbers behind the figure (default: OUTPUT with .csv)")
    a = p.parse_args(argv)
    ds = load(a.archive)
    df = data(ds, a.eps)
    if df.empty:
        raise H.ArchiveError(f"{a.archive}: no measured checkpoint yet")
    draw(df, a.output, f"{ds.attrs['job_name']}: local rank of each hidden layer "
                       f"(pre-activation Jacobian, eps = {a.eps:g}) against training step")
    df.to_csv(layout.csv_path(a.output, a.csv), index=False, float_format="%.6g")
    print(f"wrote {a.output} and {layout.csv_path(a.output, a.csv)}")
    return 0


if __name__ == "__main__":
    sys.exit(layout.run_main(main))
