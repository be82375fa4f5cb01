"""Final local rank against beta_vib for a VIB beta sweep (train.beta a grid
axis), one curve per measured layer (mean and band over seeds), with the rate
(mean KL) and H(Y) - loss below. With --theory (data kind gaussian_ib only)
the Gaussian bottleneck's optimal rank, critical beta_vib = rho_i^2 and
optimal I(T;X), I(T;Y) are drawn too and the measured steps are printed.

    /usr/bin/python3 -m ranksweep_analysis.plots.vib ARCHIVE.h5 -o FIG.png [--eps 0.01] [--theory]
"""
import argparse
import sys

import numpy as np
import pandas as pd

from .. import helpers as H
from .. import theory as T
from ..archive import ArchiveError, configs, data_kind, load
from . import layout


def beta_coord(ds):
    keys = ds.attrs.get("grid_keys", [])
    if "train.beta" not in keys:
        raise ArchiveError(f"{ds.attrs.get('path')}: train.beta is not a grid axis "
                           f"(grid: {', '.join(keys) or 'none'}); this figure needs a beta sweep")
    from ..archive import coord_name
    return coord_name("train.beta", keys)


def rho_of(ds):
    """The canonical correlations of a gaussian_ib archive (one value for all runs)."""
    kind = data_kind(ds)
    if kind != "gaussian_ib":
        raise ArchiveError(f"{ds.attrs.get('path')}: data kind is {kind}, not gaussian_ib: "
                           "the Gaussian bottleneck theory does not apply (drop --theory)")
    rhos = {tuple(float(x) for x in c.get("data.rho")) for c in configs(ds.attrs["path"])}
    if len(rhos) != 1:
        raise ArchiveError(f"{ds.attrs.get('path')}: runs have different data.rho")
    return list(rhos.pop())


def final(da):
    """Value at each run's last measured checkpoint ([run, ...])."""
    ck = "checkpoint" if "checkpoint" in da.dims else "step"
    ok = da.notnull()
    while set(ok.dims) - {"run", ck}:
        ok = ok.all(dim=[d for d in ok.dims if d not in ("run", ck)][0])
    idx = np.array([np.flatnonzero(row)[-1] if row.any() else 0 for row in ok.transpose("run", ck).values])
    out = da.isel({ck: ("run", idx)})
    return out.where(ok.transpose("run", ck).values.any(axis=1).reshape((-1,) + (1,) * (out.ndim - 1)))


def data(ds, eps=0.01, theory=False):
    """Tidy numbers: group, beta_vib, layer, final local rank (mean, sd, n),
    rate, H(Y) - loss and held-out accuracy (means), and with theory the optimal rank and
    information."""
    b = beta_coord(ds)
    lr = final(H.lr_at(ds, eps))  # [run, layer]
    for v in ("rate", "info_y"):
        if v not in ds:
            raise ArchiveError(f"{ds.attrs.get('path')}: no metrics/{v}")
    rate, iy = final(ds["rate"]), final(ds["info_y"])
    acc = final(ds["heldout_acc"]) if "heldout_acc" in ds else None
    by = [c for c in H.group_labels(ds)[1] if c != b] + [b]
    rho = rho_of(ds) if theory else None
    groups = H.seed_groups(ds, by)
    rows = []
    for label, runs in groups.items():
        panel = ",".join(p for p in label.split(",") if not p.startswith(b + "=")) or "all runs"
        bv = float(ds[b].values[runs[0]])
        for l in ds["layer"].values:
            y = lr.sel(layer=l).values[runs]
            ok = np.isfinite(y)
            if not ok.any():
                continue
            row = {"panel": panel, "beta_vib": bv, "layer": int(l), "eps": float(eps),
                   "lr_mean": y[ok].mean(), "lr_sd": y[ok].std(ddof=1) if ok.sum() > 1 else np.nan,
                   "n_seeds": int(ok.sum()),
                   "rate": np.nanmean(rate.values[runs]), "info_y": np.nanmean(iy.values[runs])}
            if acc is not None:
                row["heldout_acc"] = np.nanmean(acc.values[runs])
            if rho is not None:
                row["theory_rank"], row["theory_itx"], row["theory_ity"] = T.optimum(rho, bv)
            rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        raise ArchiveError(f"{ds.attrs.get('path')}: no run has a measured checkpoint yet")
    return df.sort_values(["panel", "layer", "beta_vib"]).reset_index(drop=True), rho


def report(df, rho):
    """The measured steps of the last layer (the encoder mean) next to theory."""
    lines = []
    crit = T.critical_beta_vib(rho)
    lines.append("critical beta_vib (theory): " + ", ".join(f"{c:.4g}" for c in crit))
    for panel, d in df.groupby("panel", sort=False):
        last = d[d["layer"] == d["layer"].max()].sort_values("beta_vib")
        for k, mid, lo, hi in sorted(T.transitions(last["beta_vib"], last["lr_mean"]), key=lambda t: -t[1]):
            th = crit[k - 1] if k - 1 < len(crit) else float("nan")
            lines.append(f"{panel}: rank {k} -> {k - 1} between beta_vib {lo:.4g} and {hi:.4g}; theory {th:.4g}")
    return "\n".join(lines)


def draw(df, out, title, rho, eps):
    import matplotlib.pyplot as plt
    panels = list(dict.fromkeys(df["panel"]))
    fig, slots = layout.grid(len(panels), panel=(4.4, 3.0), rows_per_group=2)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = {}
    for (ax, ax2), panel in zip(slots, panels):
        d = df[df["panel"] == panel]
        for i, l in enumerate(sorted(d["layer"].unique())):
            e = d[d["layer"] == l]
            c = colors[i % len(colors)]
            h, = ax.plot(e["beta_vib"], e["lr_mean"], "o-", ms=3, color=c, lw=1.2)
            ax.fill_between(e["beta_vib"], e["lr_mean"] - e["lr_sd"].fillna(0), e["lr_mean"] + e["lr_sd"].fillna(0),
                            color=c, alpha=0.2, lw=0)
            handles[f"layer {l} (eps {eps:g})"] = h
        e = d[d["layer"] == d["layer"].max()]
        h1, = ax2.plot(e["beta_vib"], e["rate"], "o", ms=3, color="C0")
        h2, = ax2.plot(e["beta_vib"], e["info_y"], "s", ms=3, color="C1")
        handles["rate = mean KL (measured)"] = h1
        handles["H(Y) - loss (measured)"] = h2
        if rho is not None:
            g = np.logspace(np.log10(d["beta_vib"].min()), np.log10(d["beta_vib"].max()), 600)
            th = T.curve(rho, g)
            h, = ax.step(g, th[:, 0], where="mid", color="k", lw=1.2)
            handles["optimal rank (Gaussian IB)"] = h
            h3, = ax2.plot(g, th[:, 1], "-", color="C0", lw=1)
            h4, = ax2.plot(g, th[:, 2], "-", color="C1", lw=1)
            handles["I(T;X) (theory)"] = h3
            handles["I(T;Y) (theory)"] = h4
            for a in (ax, ax2):
                for cb in T.critical_beta_vib(rho):
                    hv = a.axvline(cb, color="gray", ls="--", lw=0.8)
            handles["critical beta_vib = rho_i^2"] = hv
        layout.title(ax, panel)
        for a in (ax, ax2):
            a.set_xscale("log")
            a.tick_params(labelsize=7)
        ax.set_ylabel("final local rank", fontsize=8)
        ax2.set_ylabel("nats", fontsize=8)
        ax2.set_yscale("symlog", linthresh=0.1)
        ax2.set_xlabel("beta_vib", fontsize=8)
    layout.finish(fig, title, list(handles.values()), list(handles), out)


def main(argv=None, theory_default=False):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("archive")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--eps", type=float, default=0.01, help="threshold; must be in the archive's ladder (default 0.01)")
    p.add_argument("--theory", action="store_true", default=theory_default,
                   help="draw the Gaussian bottleneck (data kind gaussian_ib only)")
    p.add_argument("--csv", default=None)
    a = p.parse_args(argv)
    ds = load(a.archive)
    df, rho = data(ds, a.eps, a.theory)
    if rho is not None:
        print(report(df, rho))
        what = f"Gaussian IB, rho = ({', '.join(f'{r:g}' for r in rho)})"
    else:
        what = f"data kind {data_kind(ds)}"
    draw(df, a.output, f"{ds.attrs['job_name']}: final local rank against beta_vib ({what})", rho, a.eps)
    df.to_csv(layout.csv_path(a.output, a.csv), index=False, float_format="%.6g")
    print(f"wrote {a.output} and {layout.csv_path(a.output, a.csv)}")
    return 0


if __name__ == "__main__":
    sys.exit(layout.run_main(main))
