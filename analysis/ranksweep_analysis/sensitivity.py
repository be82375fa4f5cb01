"""The sensitivity study: what moves the late fall of the local rank. One row
per run of the jobs/sensitivity*.yaml archives (and any other MLP archive):
the run's settings, the deepest hidden layer's peak, the steps where it first
falls below 3/4 and 1/2 of that peak, its final/peak, whether it is still
falling at the end, and the steps of the training loss's spikes; plus the
fit of the fall's timing against lr x weight_decay.

    /usr/bin/python3 -m ranksweep_analysis.sensitivity ARCHIVE.h5... --csv OUT.csv [--figures PREFIX]

All quantities are per run (a run is one seed); the fit and the figures read
only the CSV, so they can be redrawn without the archives.
"""
import argparse
import math
import sys

import numpy as np
import pandas as pd

from .archive import ArchiveError, configs, load, open_h5
from .helpers import lr_at, peak_and_fall

EPS = 0.01
# The author's Gaussian reference shape: final local rank of hidden layers 2-4
# (layer 1 stays at the input dimension).
REFERENCE_FINAL = (73.0, 34.0, 6.0)
# A spike: after the fit (training loss below FIT_LOSS), a checkpoint whose
# training loss exceeds SPIKE_FACTOR x the median of the SPIKE_WINDOW
# checkpoints before it; consecutive such checkpoints are one spike, dated by
# its first.
FIT_LOSS = 1e-6
SPIKE_FACTOR = 100.0
SPIKE_WINDOW = 10
# Still falling: a straight line fitted to the deepest layer over the last
# two fifths of the run drops by more than STILL x peak over them. The end of
# the fall (of a run that fell below 3/4 of its peak and is no longer
# falling): the first step after the peak within END x peak of the mean over
# the last fifth of the run (means and fits, because single checkpoints
# scatter by about 2% of the peak).
STILL = 0.03
END = 0.05


def spikes(steps, loss, fit=FIT_LOSS, factor=SPIKE_FACTOR, window=SPIKE_WINDOW):
    """Steps of the training-loss spikes of one run (see the module's rule)."""
    loss = np.asarray(loss, float)
    fitted = np.flatnonzero(loss < fit)
    out = []
    if not len(fitted):
        return out
    high = False
    for i in range(int(fitted[0]) + 1, len(loss)):
        before = loss[max(int(fitted[0]), i - window):i]
        before = before[np.isfinite(before)]
        was, high = high, bool(len(before) and np.isfinite(loss[i]) and loss[i] > factor * np.median(before))
        if high and not was:
            out.append(int(steps[i]))
    return out


def curve_stats(steps, y):
    """Peak, its step, the first steps after it below 3/4 and 1/2 of it (NaN:
    never), final/peak, whether still falling over the last two fifths of the
    run, and the end of the fall (NaN without a fall or while still falling); see
    STILL and END."""
    steps = np.asarray(steps, float)
    y = np.asarray(y, float)
    ok = np.isfinite(y)
    steps, y = steps[ok], y[ok]
    i, falls = peak_and_fall(steps, y, (0.5, 0.75))
    peak = y[i]
    after = np.arange(len(y)) > i
    span = steps[-1] - steps[0]
    last = y[steps >= steps[-1] - span / 5].mean()
    tail = steps >= steps[-1] - 2 * span / 5
    slope = np.polyfit(steps[tail], y[tail], 1)[0] if tail.sum() >= 3 else 0.0
    still = bool(-slope * 2 * span / 5 > STILL * peak)
    fell = not math.isnan(falls[0.75])
    near = np.flatnonzero(after & (y <= last + END * peak))
    end = float(steps[near[0]]) if fell and not still and len(near) else math.nan
    return {"peak": peak, "peak_step": float(steps[i]), "fall_step": falls[0.5], "fall_step_75": falls[0.75],
            "final": y[-1], "final_over_peak": y[-1] / peak, "plateau": last,
            "still_falling": still, "end_step": end,
            "last_step": float(steps[-1])}


def _last(a):
    """The last finite value of a 1-d array."""
    a = np.asarray(a, float)
    return float(a[np.isfinite(a)][-1])


def _prov(path):
    with open_h5(path) as f:
        p = f["provenance"].attrs

        def text(k):
            v = p.get(k, b"")
            return v.decode() if isinstance(v, bytes) else str(v)
        return {"gemm": text("gemm_backend"), "blas_kernel": text("blas_kernel"),
                "kernel_forced": text("blas_kernel_forced") not in ("", "no")}


def run_rows(path):
    """One row per finished run of an MLP archive."""
    ds = load(path)
    cfg = configs(path)
    prov = _prov(path)
    lr = lr_at(ds, EPS)
    steps = ds["step"].values
    rows = []
    for r in range(ds.sizes["run"]):
        if not bool(ds["done"].values[r]):
            continue
        c = cfg[r]
        widths = [int(w) for w in ds["width"].values[r] if w > 0]
        deep = len(widths)
        gauss = c["data.kind"] == "gaussian_mixture"
        st = curve_stats(steps, lr.sel(layer=deep).values[r])
        loss = ds["train_loss"].values[r]
        fit = np.flatnonzero(loss < FIT_LOSS)
        sp = spikes(steps, loss)
        row = {"job": ds.attrs["job_name"], "run": str(ds["name"].values[r]),
               "optimizer": c["train.optimizer"], "lr": c["train.lr"], "weight_decay": c["train.weight_decay"],
               "lr_x_wd": c["train.lr"] * c["train.weight_decay"], "adam_eps": c["train.adam_eps"],
               "momentum": c["train.momentum"], "batch": c["train.batch"], "data": c["data.kind"],
               "noise": c["data.noise"] if gauss else math.nan,
               "depth": deep, "seed": c["seed"], **prov, "layer": deep, **st,
               "fit_step": float(steps[fit[0]]) if len(fit) else math.nan,
               "n_spikes": len(sp), "first_spike_step": float(sp[0]) if sp else math.nan,
               "spike_steps": " ".join(str(s) for s in sp),
               "final_train_loss": _last(loss), "final_heldout_acc": _last(ds["heldout_acc"].values[r])}
        for layer in range(2, deep + 1):
            row[f"final_l{layer}"] = _last(lr.sel(layer=layer).values[r])
        if deep == 4 and gauss:  # the reference shape is the Gaussian one
            row["reference_distance"] = max(abs(row[f"final_l{k}"] - v) for k, v in zip((2, 3, 4), REFERENCE_FINAL))
            # and its closest approach at any checkpoint of the run
            dist = np.max([np.abs(lr.sel(layer=k).values[r] - v) for k, v in zip((2, 3, 4), REFERENCE_FINAL)], axis=0)
            if np.isfinite(dist).any():
                i = int(np.nanargmin(dist))
                row["reference_closest"], row["reference_closest_step"] = float(dist[i]), float(steps[i])
        rows.append(row)
    return rows


def table(paths):
    rows = []
    for p in paths:
        rows += run_rows(p)
    if not rows:
        raise ArchiveError("no finished run in " + ", ".join(paths))
    return pd.DataFrame(rows)


def lr_wd_runs(df):
    """The AdamW runs of the learning-rate x weight-decay grid."""
    return df[(df["job"] == "sensitivity-lr-wd")]


def loglog_fit(x, y):
    """Least-squares log10(y) = a + b log10(x): (b, b_lo, b_hi, a, n), the
    interval 95% (Student t with n - 2 degrees of freedom)."""
    from scipy import stats
    x, y = np.asarray(x, float), np.asarray(y, float)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    lx, ly = np.log10(x[ok]), np.log10(y[ok])
    n = len(lx)
    if n < 3 or np.ptp(lx) == 0:
        return math.nan, math.nan, math.nan, math.nan, n
    b, a = np.polyfit(lx, ly, 1)
    res = ly - (a + b * lx)
    se = math.sqrt(res @ res / (n - 2) / ((lx - lx.mean()) @ (lx - lx.mean())))
    t = stats.t.ppf(0.975, n - 2)
    return b, b - t * se, b + t * se, a, n


def lr_wd_exponents(df, col="fall_step_75", intervals=False):
    """Separate exponents of lr and weight_decay: log10(col) = a + p log10(lr)
    + q log10(wd), least squares over the grid's runs with a finite col:
    (p, q, n), or with intervals=True (p, p_lo, p_hi, q, q_lo, q_hi, n) with
    95% intervals (Student t, n - 3 degrees of freedom). The 1/(lr x wd)
    hypothesis says p = q = -1."""
    d = lr_wd_runs(df)
    d = d[np.isfinite(d[col])]
    if len(d) < 4:
        return (math.nan,) * (6 if intervals else 2) + (len(d),)
    X = np.column_stack([np.ones(len(d)), np.log10(d["lr"]), np.log10(d["weight_decay"])])
    y = np.log10(d[col].to_numpy(float))
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    p, q = float(coef[1]), float(coef[2])
    if not intervals:
        return p, q, len(d)
    from scipy import stats
    res = y - X @ coef
    cov = res @ res / (len(d) - 3) * np.linalg.inv(X.T @ X)
    t = stats.t.ppf(0.975, len(d) - 3)
    sp, sq = t * math.sqrt(cov[1, 1]), t * math.sqrt(cov[2, 2])
    return p, p - sp, p + sp, q, q - sq, q + sq, len(d)


def figures(df, prefix):
    """PREFIX-fall.png (the log-log fit) and PREFIX-factors.png (final/peak
    and 3/4-fall step per factor)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    g = lr_wd_runs(df)
    fig, ax = plt.subplots(figsize=(6.2, 4.6))
    colours = {lr: f"C{i + 2}" for i, lr in enumerate(sorted(g["lr"].unique()))}
    for col, mark, lab in (("fall_step_75", "o", "below 3/4 of peak"), ("fall_step", "s", "below 1/2 of peak")):
        b, lo, hi, a, n = loglog_fit(g["lr_x_wd"], g[col])
        if n >= 3 and np.isfinite(b):
            xs = np.array([g["lr_x_wd"].min(), g["lr_x_wd"].max()])
            ax.loglog(xs, 10 ** a * xs ** b, "-" if mark == "o" else "--", color="0.4",
                      label=f"{lab}: fit exponent {b:.2f} [{lo:.2f}, {hi:.2f}], n={n}")
        for lr, x in g.groupby("lr"):
            fell = x[np.isfinite(x[col])]
            ax.loglog(fell["lr_x_wd"], fell[col], mark, color=colours[lr], mfc=colours[lr] if mark == "o" else "none",
                      ms=7, label=f"lr {lr:g}" if mark == "o" else None)
            if mark == "o":
                cens = x[~np.isfinite(x[col])]
                ax.loglog(cens["lr_x_wd"], cens["last_step"], "^", color=colours[lr], ms=8, mfc="none",
                          label=f"lr {lr:g}: no fall by the run's end" if len(cens) else None)
    fell = g[np.isfinite(g["fall_step_75"])]
    c = np.exp(np.mean(np.log(fell["fall_step_75"] * fell["lr_x_wd"])))
    xs = np.array([g["lr_x_wd"].min(), g["lr_x_wd"].max()])
    ax.loglog(xs, c / xs, ":", color="k", label="1/(lr x wd) through the 3/4 points")
    ax.set_xlabel("learning rate x weight decay (AdamW)")
    ax.set_ylabel("step of the deepest layer's fall")
    ax.set_title("Fall timing against lr x wd (Gaussian data)", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(prefix + "-fall.png", dpi=110)
    plt.close(fig)
    fig, axs = plt.subplots(1, 2, figsize=(10, 4.2))
    lab = df["job"].str.replace("sensitivity-", "") + ": " + df["run"] + " (" + df["gemm"] + ", " + df["blas_kernel"] + ")"
    y = np.arange(len(df))
    axs[0].barh(y, df["final_over_peak"], color="C0")
    axs[0].set_yticks(y, lab, fontsize=6)
    axs[0].set_xlabel("deepest layer: final / peak")
    axs[1].barh(y, df["fall_step_75"].fillna(0), color="C1")
    axs[1].set_yticks(y, [""] * len(y))
    axs[1].set_xscale("symlog", linthresh=1000)
    axs[1].set_xlabel("step below 3/4 of peak (0: never)")
    for a in axs:
        a.invert_yaxis()
    fig.tight_layout()
    fig.savefig(prefix + "-factors.png", dpi=110)
    plt.close(fig)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("archives", nargs="+")
    ap.add_argument("--csv", required=True, help="write the table here")
    ap.add_argument("--figures", help="write PREFIX-fall.png and PREFIX-factors.png")
    a = ap.parse_args(argv)
    try:
        t = table(a.archives)
    except ArchiveError as e:
        print(f"sensitivity: {e}", file=sys.stderr)
        return 1
    # steps as integers: "%.6g" would round a step past 10^6
    steps = [c for c in t.columns if c.endswith("_step")]
    t.astype({c: "Int64" for c in steps}).to_csv(a.csv, index=False, float_format="%.6g")
    for col in ("fall_step_75", "fall_step"):
        b, lo, hi, _, n = loglog_fit(lr_wd_runs(t)["lr_x_wd"], lr_wd_runs(t)[col])
        print(f"{col}: exponent of lr x wd {b:.3f} [{lo:.3f}, {hi:.3f}] over {n} runs")
    if a.figures:
        figures(t, a.figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- claims: each returns (holds, detail) and is tested on the committed CSV
# and on a control on which it must come out the other way

def inverse_lr_wd(df, factor=2.0):
    """The hypothesis fall_step_75 = C / (lr x wd) over the grid: C is the
    geometric mean of fall x lr x wd over the runs that fall; it holds when
    every falling run is within `factor` of C / (lr x wd) and no run that did
    not fall was predicted to fall before half its length."""
    g = lr_wd_runs(df)
    fell = g[np.isfinite(g["fall_step_75"])]
    if len(fell) < 3:
        return False, "fewer than 3 runs fall"
    c = np.exp(np.mean(np.log(fell["fall_step_75"] * fell["lr_x_wd"])))
    ratio = fell["fall_step_75"] * fell["lr_x_wd"] / c
    late = g[~np.isfinite(g["fall_step_75"])]
    early = late[c / late["lr_x_wd"] < late["last_step"] / 2]
    ok = bool((ratio.between(1 / factor, factor)).all() and early.empty)
    return ok, f"C = {c:.3g}; fall x lr x wd / C from {ratio.min():.2f} to {ratio.max():.2f}; {len(early)} runs predicted to fall early did not"


def lr_moves_more_than_wd(df):
    """The exponent of lr exceeds that of weight decay in size, for the
    steps below 3/4 and 1/2 of the peak."""
    out = []
    for col in ("fall_step_75", "fall_step"):
        p, q, n = lr_wd_exponents(df, col)
        out.append((col, p, q, n))
    ok = all(np.isfinite(p) and abs(p) > abs(q) for _, p, q, _ in out)
    return ok, "; ".join(f"{c}: lr {p:.2f}, wd {q:.2f} over {n} runs" for c, p, q, n in out)


def falls_before_spikes(df):
    """Every run of the study's jobs (sensitivity-*) that falls below 3/4 of
    its peak does so before its first spike seen (or has none). The paper
    setting's long run is not one of them: there the spikes come first."""
    d = df[df["job"].str.startswith("sensitivity-") & np.isfinite(df["fall_step_75"])]
    early = d[d["first_spike_step"] <= d["fall_step_75"]]
    return bool(len(d) and early.empty), f"{len(d)} falling runs, {len(early)} with a spike at or before the fall"


def falls_without_spikes(df, job="sensitivity-seeds"):
    """Every run of `job` falls below half its peak with no loss spike seen
    at its checkpoints."""
    d = df[df["job"] == job]
    ok = bool(len(d) and (d["n_spikes"] == 0).all() and np.isfinite(d["fall_step"]).all())
    return ok, f"{len(d)} runs, spikes {list(d['n_spikes'])}, half-fall steps {list(d['fall_step'])}"


def spreads(df, col):
    """The reference cell (run on several product backends and BLAS kernels,
    "ways"), its spread in `col` (max - min): over seeds for each way, and
    over ways for each seed; two dicts."""
    ref = df[df["job"].isin(["sensitivity-seeds", "sensitivity-openblas"])]
    way = ref["gemm"] + "-" + ref["blas_kernel"]
    span = lambda x: float(x.max() - x.min())  # noqa: E731
    over_seeds = {w: span(x) for w, x in ref[col].groupby(way)}
    over_ways = {int(sd): span(x) for sd, x in ref[col].groupby(ref["seed"])}
    return over_seeds, over_ways


def backends_within_seed_spread(df, cols=("fall_step_75", "fall_step", "final_over_peak", "final_l4")):
    """For each quantity, the largest spread (max - min) over the ways the
    reference cell ran (product backend and BLAS kernel), per seed, is at
    most the largest spread over seeds, per way."""
    ok, out = True, []
    for c in cols:
        over_seeds, over_ways = spreads(df, c)
        ok = ok and len(over_seeds) >= 2 and len(over_ways) >= 2 and max(over_ways.values()) <= max(over_seeds.values())
        out.append(f"{c}: over ways {max(over_ways.values()):.3g}, over seeds {max(over_seeds.values()):.3g}")
    return bool(ok), "; ".join(out)
