"""An information proxy against local rank over training, one panel per
group of runs (mean over seeds at each checkpoint, the path drawn from the
first checkpoint to the last, coloured by step). Proxies: rate (VIB mean KL,
an upper bound on I(Z;X)), info_y (VIB H(Y) - loss, a lower bound on
I(Z;Y)), gauss (the representation-spectrum Gaussian-channel proxy
1/2 sum log(1 + s_i^2 / (N sigma^2)) from /spectrum, per layer, at --noise),
spectrum_effrank (effective rank of the representation spectrum, per layer).
A proxy the archive lacks is an error.

    /usr/bin/python3 -m ranksweep_analysis.plots.info ARCHIVE.h5 -o FIG.png [--proxy auto|rate|info_y|gauss|spectrum_effrank]
        [--eps 0.01] [--layer L] [--noise SIGMA]
"""
import argparse
import sys

import numpy as np
import pandas as pd

from .. import helpers as H
from ..archive import ArchiveError, load
from . import layout

PROXIES = ("rate", "info_y", "gauss", "spectrum_effrank")
LABELS = {"rate": "rate = mean KL (nats)", "info_y": "H(Y) - loss (nats)",
          "gauss": "Gaussian-channel proxy (nats)", "spectrum_effrank": "effective rank of the representation"}


def _has_values(ds, var):
    return var in ds and bool(ds[var].notnull().any())


def choose(ds, proxy):
    """The proxy to draw: `auto` takes the VIB rate when it is measured, else
    the spectrum proxy when /spectrum exists; an explicit request must exist."""
    path = ds.attrs.get("path")
    if proxy == "auto":
        if _has_values(ds, "rate"):
            return "rate"
        if _has_values(ds, "info_proxy"):
            return "gauss"
        raise ArchiveError(f"{path}: no information proxy: the rate is not measured (not a VIB) and there is "
                           "no /spectrum (run `ranksweep spectrum` or set measure.spectrum: true)")
    need = {"rate": "rate", "info_y": "info_y", "gauss": "info_proxy", "spectrum_effrank": "spectrum_effrank"}[proxy]
    if not _has_values(ds, need):
        where = "/spectrum" if need in ("info_proxy", "spectrum_effrank") else f"metrics/{need}"
        raise ArchiveError(f"{path}: proxy {proxy} needs {where}, which the archive lacks or has not filled")
    return proxy


def proxy_array(ds, proxy, noise=None):
    """[run, step(, layer)] values of the proxy."""
    if proxy in ("rate", "info_y"):
        return ds[proxy]
    if proxy == "spectrum_effrank":
        return ds["spectrum_effrank"]
    have = ds["noise"].values
    if noise is None:
        i = len(have) - 1
    else:
        hit = np.flatnonzero(np.isclose(have, noise, rtol=1e-9, atol=0))
        if len(hit) != 1:
            raise ArchiveError(f"{ds.attrs.get('path')}: noise {noise:g} is not among the archive's "
                               f"measure.noise ({', '.join(f'{v:g}' for v in have)})")
        i = int(hit[0])
    out = ds["info_proxy"].isel(noise=i)
    out.attrs["noise"] = float(have[i])
    return out


def data(ds, proxy="auto", eps=0.01, layer=None, noise=None):
    """Tidy numbers: group, layer, step, local rank and proxy (means over the
    seeds where both are measured), n."""
    if "checkpoint" in ds.dims:
        raise ArchiveError(f"{ds.attrs.get('path')}: runs have different checkpoint lists")
    proxy = choose(ds, proxy)
    lr = H.lr_at(ds, eps)
    y = proxy_array(ds, proxy, noise)
    per_layer = "layer" in y.dims
    layers = ds["layer"].values.tolist()
    if layer is not None:
        H._check_layer(ds, layer)
        layers = [layer]
    elif not per_layer:
        layers = [layers[-1]]  # a per-run proxy against the last layer (VIB: the encoder mean)
    rows = []
    for label, runs in H.seed_groups(ds).items():
        for l in layers:
            x = lr.sel(layer=l).values[runs]
            v = (y.sel(layer=l) if per_layer else y).values[runs]
            both = np.isfinite(x) & np.isfinite(v)
            for k, step in enumerate(ds["step"].values):
                ok = both[:, k]
                if ok.any():
                    rows.append({"group": label, "layer": int(l), "step": int(step), "eps": float(eps),
                                 "lr_mean": x[ok, k].mean(), "proxy": proxy, "proxy_mean": v[ok, k].mean(),
                                 "noise": y.attrs.get("noise", np.nan), "n_seeds": int(ok.sum())})
    df = pd.DataFrame(rows)
    if df.empty:
        raise ArchiveError(f"{ds.attrs.get('path')}: no checkpoint has both the local rank and the {proxy}")
    return df, proxy


def draw(df, out, title, proxy):
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm
    groups = list(dict.fromkeys(df["group"]))
    fig, slots = layout.grid(len(groups))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    smin = max(1, df.loc[df["step"] > 0, "step"].min() if (df["step"] > 0).any() else 1)
    norm = LogNorm(vmin=smin, vmax=max(df["step"].max(), smin * 10))
    handles, sc = {}, None
    for (ax,), label in zip(slots, groups):
        d = df[df["group"] == label]
        for i, l in enumerate(sorted(d["layer"].unique())):
            e = d[d["layer"] == l].sort_values("step")
            h, = ax.plot(e["lr_mean"], e["proxy_mean"], "-", color=colors[i % len(colors)], lw=1)
            sc = ax.scatter(e["lr_mean"], e["proxy_mean"], c=np.maximum(e["step"], smin), norm=norm,
                            cmap="viridis", s=14, zorder=3, edgecolors=colors[i % len(colors)], linewidths=0.6)
            handles[f"layer {l}"] = h
        n = int(d["n_seeds"].max())
        layout.title(ax, f"{label} ({n} seed{'s' if n != 1 else ''})")
        ax.set_xlabel(f"local rank (eps {d['eps'].iloc[0]:g})", fontsize=8)
        ax.set_ylabel(LABELS[proxy], fontsize=8)
        ax.tick_params(labelsize=7)
    layout.finish(fig, title, list(handles.values()), list(handles), out,
                  colorbar=(sc, "training step (step 0 in the lowest colour)") if sc is not None else None)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--proxy", choices=("auto",) + PROXIES, default="auto")
    p.add_argument("--eps", type=float, default=0.01)
    p.add_argument("--layer", type=int, default=None, help="1-based layer (default: every layer for per-layer "
                   "proxies, the last one for rate and info_y)")
    p.add_argument("--noise", type=float, default=None, help="sigma of the Gaussian-channel proxy "
                   "(default: the largest of measure.noise)")
    p.add_argument("--csv", default=None)
    a = p.parse_args(argv)
    ds = load(a.archive)
    df, proxy = data(ds, a.proxy, a.eps, a.layer, a.noise)
    extra = f", sigma = {df['noise'].iloc[0]:g}" if proxy == "gauss" else ""
    draw(df, a.output, f"{ds.attrs['job_name']}: {LABELS[proxy]}{extra} against local rank over training", proxy)
    df.to_csv(layout.csv_path(a.output, a.csv), index=False, float_format="%.6g")
    print(f"wrote {a.output} and {layout.csv_path(a.output, a.csv)}")
    return 0


if __name__ == "__main__":
    sys.exit(layout.run_main(main))
