"""Every number docs/reproduction.md quotes from a committed CSV, computed
from the CSVs under analysis/figures/paper/: one function per number,
registered under the key the report marks it with (`0.94<!--=key-->`).
tests/analysis/test_reproduction.py reads the marks and compares.

    /usr/bin/python3 -m ranksweep_analysis.reproduction [FIGDIR]    # prints key = value
    /usr/bin/python3 -m ranksweep_analysis.reproduction --spikes ARCHIVE.h5 OUT.csv
        # the CSV of a spikes job (jobs/gaussian-paper-spikes.yaml,
        # jobs/sensitivity-spikes.yaml): training loss and local rank per
        # layer (eps 0.01) at every checkpoint of each run
    /usr/bin/python3 -m ranksweep_analysis.reproduction --proxies ARCHIVE.h5 OUT.csv
        # per seed, layer and noise level: the local rank, the representation's
        # effective rank and the Gaussian-channel proxy at the layer's peak
        # local rank and at the end (an archive with /spectrum)
"""
import math
import os
import sys

import numpy as np
import pandas as pd

from . import theory

HERE = os.path.dirname(os.path.abspath(__file__))
FIGDIR = os.path.join(HERE, "..", "figures", "paper")


def _csv(figdir, name):
    return pd.read_csv(os.path.join(figdir, name))


def curve(figdir, job, layer, col="lr_mean"):
    """(steps, values) of the mean (or sd) curve over seeds of one layer."""
    d = _csv(figdir, f"{job}-localrank.csv")
    x = d[d["layer"] == layer].sort_values("step")
    return x["step"].to_numpy(), x[col].to_numpy(float)


def mean_peak(figdir, job, layer):
    """Peak of the MEAN curve over seeds (not the mean of each seed's peak,
    which is biased upward): (value, step)."""
    s, y = curve(figdir, job, layer)
    i = int(np.argmax(y))
    return float(y[i]), int(s[i])


def at(figdir, job, layer, step, col="lr_mean"):
    s, y = curve(figdir, job, layer, col)
    hit = np.flatnonzero(s == step)
    if len(hit) != 1:
        raise KeyError(f"{job}: no checkpoint at step {step}")
    return float(y[hit[0]])


def summary_row(figdir, job, layer):
    d = _csv(figdir, f"{job}-summary.csv")
    return d[d["layer"] == layer].iloc[0]


def sd_range(figdir, job, layer, lo, hi):
    """(min, max) of the sd over seeds at the checkpoints lo <= step <= hi."""
    s, sd = curve(figdir, job, layer, "lr_sd")
    m = (s >= lo) & (s <= hi)
    return float(sd[m].min()), float(sd[m].max())


def machines_numbers(figdir, early=14563):
    """The MNIST job on two machines (mnist-paper: Intel Xeon, OpenBLAS
    products; mnist-paper-epyc: AMD EPYC, libxsmm products), per layer 2-4:
    the largest difference of the mean curves up to step `early` and after
    it (with its step), and the seeds' sd on the first machine there."""
    n = {}
    for layer in (2, 3, 4):
        s, a = curve(figdir, "mnist-paper", layer)
        _, sd = curve(figdir, "mnist-paper", layer, "lr_sd")
        s2, b = curve(figdir, "mnist-paper-epyc", layer)
        if not np.array_equal(s, s2):
            raise ValueError("mnist-paper and mnist-paper-epyc have different checkpoints")
        d = np.abs(b - a)
        k = f"mx.l{layer}"
        n[k + ".diff_early"] = float(d[s <= early].max())
        late = np.flatnonzero(s > early)
        i = late[np.argmax(d[late])]
        n[k + ".diff_late"], n[k + ".diff_late_step"] = float(d[i]), int(s[i])
        n[k + ".sd_at_diff_late"] = float(sd[i])
    return n


def jump_factor(figdir, job, layer, step=19306, since=1000):
    """|change of the mean curve into checkpoint `step`| over the largest
    |change| between neighbouring checkpoints from `since` up to the
    checkpoint before it."""
    s, y = curve(figdir, job, layer)
    d = np.abs(np.diff(y))
    i = int(np.flatnonzero(s == step)[0]) - 1
    before = d[(s[1:] > since) & (s[1:] < step)]
    return float(d[i] / before.max())


# --- Gaussian IB ---------------------------------------------------------

RHO = (0.9, 0.7, 0.5, 0.3)       # jobs/gaussian-ib.yaml


def ib_final(figdir, layer=2):
    d = _csv(figdir, "gaussian-ib-vib.csv")
    return d[d["layer"] == layer].sort_values("beta_vib").reset_index(drop=True)


def ib_steps(figdir):
    """Per rank drop k -> k-1 (k = 4..1): (grid index of the measured drop,
    grid index of the closed form's drop); index i means between grid
    points i and i+1."""
    d = ib_final(figdir)
    b = d["beta_vib"].to_numpy()
    meas = {k: lo for k, _, lo, _ in theory.transitions(b, d["lr_mean"].to_numpy())}
    want = {k: lo for k, _, lo, _ in theory.transitions(b, d["theory_rank"].to_numpy())}
    idx = {v: i for i, v in enumerate(b)}
    return {k: (idx[meas[k]], idx[want[k]]) for k in want if k in meas}


def ib_rate_before_rank_falls(figdir):
    """Per beta run of the Gaussian-IB info CSV: the share of the rate's fall
    over training (first to last checkpoint) that happens before the local
    rank first drops below its maximum over training."""
    d = _csv(figdir, "gaussian-ib-info.csv")
    out = {}
    for g, x in d.groupby("group", sort=False):
        x = x.sort_values("step")
        r, q = x["lr_mean"].to_numpy(), x["proxy_mean"].to_numpy()
        k = int(np.argmax(r))
        drop = np.flatnonzero((np.arange(len(r)) > k) & (r < r[k]))
        if len(drop) and q[0] > q[-1]:
            out[g] = (q[0] - q[drop[0] - 1]) / (q[0] - q[-1])
    return out


def ib_final_rate_by_rank(figdir):
    d = _csv(figdir, "gaussian-ib-info.csv")
    last = d.sort_values("step").groupby("group").tail(1)
    return last.groupby("lr_mean")["proxy_mean"].agg(["min", "max"])


# --- VIB on MNIST --------------------------------------------------------

def vm(figdir, eps, layer, col="lr_mean", job="vib-mnist-reduced"):
    name = f"{job}-vib.csv" if eps == 0.01 else f"{job}-vib-eps0.1.csv"
    d = _csv(figdir, name)
    return d[d["layer"] == layer].sort_values("beta_vib")[col].to_numpy(float)


def vm_info(figdir, job="vib-mnist-reduced"):
    d = _csv(figdir, f"{job}-info-eps0.1.csv")
    return {g: x.sort_values("step") for g, x in d.groupby("group", sort=False)}


def vm_rate_fall_at_full_rank(x):
    """Of one beta's checkpoints (a group of vm_info): the rate at the first
    checkpoint where the encoder mean's rank is within 1 of full (256), over
    the final rate; and the rank's fall from its maximum to the end. None when
    the rank never gets there."""
    r, q = x["lr_mean"].to_numpy(), x["proxy_mean"].to_numpy()
    full = np.flatnonzero(r >= 255)
    if not len(full):
        return None
    return q[full[0]] / q[-1], r.max() - r[-1]


def vm_numbers(figdir, job, tag):
    """The VIB-on-MNIST numbers of one sweep (the reduced one, "vm", or the
    full grid, "vf"): final local rank and information per beta, the falls
    over beta and the largest rise from one beta to the next, where the hidden
    layer's count stops depending on eps, and, for every beta whose encoder
    mean reaches full rank, the rate's fall from there."""
    n = {}
    betas = [f"{b:g}" for b in vm(figdir, 0.01, 2, "beta_vib", job)]
    cols = {"hidden_001": (0.01, 2, "lr_mean"), "hidden_01": (0.1, 2, "lr_mean"),
            "mean_01": (0.1, 3, "lr_mean"), "mean_001": (0.01, 3, "lr_mean"),
            "rate": (0.01, 2, "rate"), "info_y": (0.01, 2, "info_y")}
    if "heldout_acc" in _csv(figdir, f"{job}-vib.csv"):
        cols["acc"] = (0.01, 2, "heldout_acc")
    y = {key: vm(figdir, eps, layer, col, job) for key, (eps, layer, col) in cols.items()}
    for key, values in y.items():
        for bv, v in zip(betas, values):
            n[f"{tag}.{bv}.{key}"] = v
    hid, hid01, mean01, rate = y["hidden_001"], y["hidden_01"], y["mean_01"], y["rate"]
    n[f"{tag}.hidden_fall"] = 1 - hid[-1] / hid[0]
    n[f"{tag}.mean_fall"] = 1 - mean01[-1] / mean01[0]
    n[f"{tag}.rate_fall"] = rate[0] / rate[-1]
    same = np.flatnonzero(hid == hid01)
    n[f"{tag}.hidden_same_from_beta"] = (float(betas[same[0]]) if len(same) and same[0] + len(same) == len(betas)
                                         else math.nan)
    if "0.001" in betas:
        n[f"{tag}.hidden_diff_1e-3"] = hid[betas.index("0.001")] - hid01[betas.index("0.001")]
    # monotone in beta: the largest rise from one beta to the next (0 or less: never rises)
    n[f"{tag}.hidden_max_rise"] = float(np.diff(hid).max())
    n[f"{tag}.mean_max_rise"] = float(np.diff(mean01).max())
    n[f"{tag}.rate_max_rise"] = float(np.diff(rate).max())
    n[f"{tag}.betas"] = len(betas)
    info = vm_info(figdir, job)
    for bv in betas:
        got = vm_rate_fall_at_full_rank(info[f"beta={bv}"])
        if got is not None:
            n[f"{tag}.{bv}.rate_fall_at_full_rank"], n[f"{tag}.{bv}.rank_drop"] = got
    n[f"{tag}.rate_step0"] = float(info[f"beta={betas[-1]}"]["proxy_mean"].iloc[0])
    return n


def spikes_table(archive, eps=0.01):
    """Per run and checkpoint: step, train_loss, the local rank of each layer,
    and the run's name, Adam eps and learning rate."""
    from .archive import configs, load
    from .helpers import lr_at
    ds = load(archive)
    cfg = configs(archive)
    lr = lr_at(ds, eps)
    parts = []
    for r in range(ds.sizes["run"]):
        out = pd.DataFrame({"step": ds["step"].values.astype(int),
                            "train_loss": ds["train_loss"].values[r]})
        for layer in ds["layer"].values:
            out[f"lr_layer{int(layer)}"] = lr.sel(layer=layer).values[r]
        out["eps"] = eps
        out["run"] = str(ds["name"].values[r])
        out["adam_eps"] = cfg[r]["train.adam_eps"]
        out["lr"] = cfg[r]["train.lr"]
        parts.append(out)
    return pd.concat(parts, ignore_index=True)


def proxies_table(archive, eps=0.01):
    """Per run, hidden layer and noise level of an MLP archive with
    /spectrum: the checkpoint of the layer's peak local rank, and at it and at
    the last checkpoint the local rank, the representation's effective rank,
    its scale (root mean square norm per point, sqrt(sum s_i^2 / N)) and the
    Gaussian-channel proxy."""
    from .archive import load
    from .helpers import lr_at
    ds = load(archive)
    lr = lr_at(ds, eps)
    steps = ds["step"].values
    rows = []
    for r in range(ds.sizes["run"]):
        for layer in ds["layer"].values:
            y = lr.sel(layer=layer).values[r]
            ok = np.flatnonzero(np.isfinite(y))
            i, last = int(ok[np.argmax(y[ok])]), int(ok[-1])
            eff = ds["spectrum_effrank"].sel(layer=layer).values[r]
            sv = ds["spectrum_sv"].sel(layer=layer).values[r]
            scale = np.sqrt(np.nansum(sv ** 2, axis=-1) / ds["spectrum_npoints"].values[r])
            for k, sigma in enumerate(ds["noise"].values):
                q = ds["info_proxy"].sel(layer=layer).values[r, :, k]
                rows.append({"seed": int(ds["seed"].values[r]), "layer": int(layer), "noise": float(sigma),
                             "peak_step": int(steps[i]), "lr_peak": y[i], "lr_final": y[last],
                             "effrank_peak": eff[i], "effrank_final": eff[last],
                             "scale_peak": scale[i], "scale_final": scale[last],
                             "proxy_peak": q[i], "proxy_final": q[last]})
    return pd.DataFrame(rows)


def proxies_numbers(figdir, job="gaussian-paper", tag="px"):
    """Per layer and noise: in how many seeds the proxy and the effective rank
    fall from the layer's peak local rank to the end, and the seed means; on
    the seed-mean curves (TAGm), the proxy's lowest point after the local
    rank's peak."""
    d = _csv(figdir, f"{job}-proxies.csv")
    n = {}
    for (layer, sigma), x in d.groupby(["layer", "noise"]):
        k = f"{tag}.l{layer}.s{sigma:g}"
        n[k + ".seeds"] = len(x)
        n[k + ".proxy_falls"] = int((x["proxy_final"] < x["proxy_peak"]).sum())
        n[k + ".proxy_peak_mean"] = float(x["proxy_peak"].mean())
        n[k + ".proxy_final_mean"] = float(x["proxy_final"].mean())
        n[k + ".effrank_falls"] = int((x["effrank_final"] < x["effrank_peak"]).sum())
        n[k + ".effrank_peak_mean"] = float(x["effrank_peak"].mean())
        n[k + ".effrank_final_mean"] = float(x["effrank_final"].mean())
        growth = x["scale_final"] / x["scale_peak"]
        n[k + ".scale_growth_min"] = float(growth.min())
        n[k + ".scale_growth_max"] = float(growth.max())
    info = os.path.join(figdir, f"{job}-info.csv")
    if os.path.exists(info):
        d = pd.read_csv(info)
        for layer, x in d.groupby("layer"):
            x = x.sort_values("step")
            q, r = x["proxy_mean"].to_numpy(), x["lr_mean"].to_numpy()
            # the proxy's lowest point after the mean local rank's peak
            k = int(np.argmax(r))
            i = k + int(np.argmin(q[k:]))
            k = f"{tag}m.l{layer}"
            n[k + ".min"], n[k + ".min_step"] = float(q[i]), int(x["step"].iloc[i])
            n[k + ".final"] = float(q[-1])
            n[k + ".lr_at_min"] = float(x["lr_mean"].iloc[i])
            n[k + ".lr_final"] = float(r[-1])
    return n


def loss_spikes(figdir, factor=2.0, below=1e-6, name="gaussian-paper-spikes.csv", run=None):
    """Checkpoints of a spikes CSV (one run of it) at which the training
    loss, once below `below`, exceeds `factor` x its value at the previous
    checkpoint."""
    d = _csv(figdir, name)
    if run is not None:
        d = d[d["run"] == run].reset_index(drop=True)
    loss = d["train_loss"].to_numpy()
    fitted = np.flatnonzero(loss < below)
    out = []
    for i in range(1, len(loss)):
        if len(fitted) and i > fitted[0] and loss[i] > factor * loss[i - 1]:
            out.append(int(d["step"].iloc[i]))
    return out


def spikes_numbers(figdir):
    """The spikes runs side by side: per Adam eps (gaussian-paper-spikes is
    1e-8, sensitivity-spikes the others), the number of spikes by the two
    rules, and the largest change of layer 4's local rank between
    neighbouring checkpoints after the fit."""
    n = {}
    runs = [("gaussian-paper-spikes.csv", None, 1e-8)]
    if os.path.exists(os.path.join(figdir, "sensitivity-spikes.csv")):
        e = _csv(figdir, "sensitivity-spikes.csv")
        runs += [("sensitivity-spikes.csv", r, float(x["adam_eps"].iloc[0])) for r, x in e.groupby("run", sort=False)]
    from .sensitivity import spikes
    for name, run, eps in runs:
        d = _csv(figdir, name)
        if run is not None:
            d = d[d["run"] == run]
        d = d.sort_values("step")
        k = f"sx.{eps:g}"
        n[k + ".spikes2"] = len(loss_spikes(figdir, name=name, run=run))
        n[k + ".spikes100"] = len(spikes(d["step"].to_numpy(), d["train_loss"].to_numpy()))
        fit = d["step"].to_numpy()[np.flatnonzero(d["train_loss"].to_numpy() < 1e-6)]
        n[k + ".fit_1e-6"] = int(fit[0]) if len(fit) else math.nan
        y = d["lr_layer4"].to_numpy()
        after = d["step"].to_numpy()[1:] > (fit[0] if len(fit) else 0)
        n[k + ".l4_max_change"] = float(np.abs(np.diff(y))[after].max())
        n[k + ".l4_final"] = float(y[-1])
        n[k + ".min_loss"] = float(d["train_loss"].min())
        n[k + ".final_loss"] = float(d["train_loss"].to_numpy()[-1])
    return n


# --- the sensitivity study ------------------------------------------------

SENS_COLS = ("peak", "fall_step_75", "fall_step", "final_over_peak", "plateau", "end_step", "n_spikes",
             "final_l2", "final_l3", "final_l4", "reference_distance", "reference_closest",
             "reference_closest_step", "fit_step", "final_train_loss", "final_heldout_acc", "first_spike_step")


def sens_label(row):
    """The key of one run of sensitivity.csv: job (and, for the OpenBLAS
    job, the kernel), then the run's name without '=' and ','."""
    job = row["job"].replace("sensitivity-", "")
    if row["gemm"] == "openblas":
        job += "-" + row["blas_kernel"]
    return job + "." + str(row["run"]).replace("=", "").replace(",", ".")


def sens_numbers(figdir):
    from . import sensitivity
    d = _csv(figdir, "sensitivity.csv")
    n = {}
    for _, row in d.iterrows():
        k = "se." + sens_label(row)
        for c in SENS_COLS:
            if c in row and pd.notna(row[c]):
                n[f"{k}.{c}"] = float(row[c])
        n[f"{k}.still"] = int(bool(row["still_falling"]))
        # steps in the paper's learning rate (1e-4): step x lr / 1e-4
        for c in ("fall_step_75", "fall_step", "end_step"):
            if pd.notna(row[c]):
                n[f"{k}.{c}_x_lr"] = float(row[c]) * float(row["lr"]) / 1e-4
    ref = d[d["job"] == "sensitivity-seeds"]
    for c in SENS_COLS:
        if c in ref:
            n[f"se.ref.{c}_min"], n[f"se.ref.{c}_max"] = float(ref[c].min()), float(ref[c].max())
    n["se.ref.seeds"] = len(ref)
    g = sensitivity.lr_wd_runs(d)
    for col, tag in (("fall_step_75", "75"), ("fall_step", "50")):
        b, lo, hi, _, m = sensitivity.loglog_fit(g["lr_x_wd"], g[col])
        n[f"se.fit{tag}.b"], n[f"se.fit{tag}.lo"], n[f"se.fit{tag}.hi"], n[f"se.fit{tag}.n"] = b, lo, hi, m
        e = sensitivity.lr_wd_exponents(d, col, intervals=True)
        for i, name in enumerate(("p_lr", "p_lr_lo", "p_lr_hi", "p_wd", "p_wd_lo", "p_wd_hi", "n2")):
            n[f"se.fit{tag}.{name}"] = e[i]
    n["se.shape.min_distance"] = float(d["reference_distance"].min())
    # the closest approach to the reference shape at any checkpoint: how many
    # distinct runs (one training run in two jobs counts once) come within 5
    # (and 7) of it in every layer 2-4
    same = ["optimizer", "lr", "weight_decay", "adam_eps", "momentum", "batch", "data", "noise", "depth", "seed",
            "gemm", "blas_kernel"]
    u = d.sort_values("reference_closest").drop_duplicates(subset=same)  # the longer run's approach
    n["se.shape.closest_within5"] = int((u["reference_closest"] <= 5).sum())
    n["se.shape.closest_within7"] = int((u["reference_closest"] <= 7).sum())
    curve = os.path.join(figdir, "gaussian-paper-long.csv")
    if os.path.exists(curve):
        c = pd.read_csv(curve).set_index("step")
        at = int(d.loc[d["job"] == "gaussian-paper-long", "reference_closest_step"].iloc[0])
        for layer in (2, 3, 4):
            n[f"se.long.closest.l{layer}"] = float(c.loc[at, f"lr_layer{layer}"])
    n["se.grid.runs"] = len(g)
    n["se.grid.falling"] = int(np.isfinite(g["fall_step_75"]).sum())
    n["se.runs"] = len(d)
    for col in ("final_over_peak", "fall_step_75", "fall_step", "final_l4"):
        bb, bs = sensitivity.spreads(d, col)
        n[f"se.mv.{col}.seed_spread_max"] = max(bb.values())
        n[f"se.mv.{col}.seed_spread_min"] = min(bb.values())
        n[f"se.mv.{col}.backend_spread_max"] = max(bs.values())
        n[f"se.mv.{col}.backend_spread_min"] = min(bs.values())
        n["se.mv.backends"] = len(bb)
    return n


def numbers(figdir=FIGDIR):
    """{key: value} of every number the report marks."""
    n = {}
    # the MNIST job again on another machine and product backend, when committed
    epyc = os.path.exists(os.path.join(figdir, "mnist-paper-epyc-summary.csv"))
    jobs = [("gaussian-paper", "gp"), ("mnist-paper", "mn")] + ([("mnist-paper-epyc", "me")] if epyc else [])
    for job, tag in jobs:
        s0, _ = curve(figdir, job, 1)
        last = int(s0[-1])
        for layer in (1, 2, 3, 4):
            p, ps = mean_peak(figdir, job, layer)
            row = summary_row(figdir, job, layer)
            k = f"{tag}.l{layer}"
            n[k + ".step0"] = at(figdir, job, layer, 0)
            n[k + ".step0_sd"] = at(figdir, job, layer, 0, "lr_sd")
            n[k + ".peak"] = p
            n[k + ".peak_step"] = ps
            n[k + ".final"] = at(figdir, job, layer, last)
            n[k + ".final_sd"] = at(figdir, job, layer, last, "lr_sd")
            n[k + ".ratio"] = n[k + ".final"] / p
            n[k + ".seed_ratio_mean"] = row["final_over_peak_mean"]
            n[k + ".seed_ratio_min"] = row["final_over_peak_min"]
            n[k + ".seed_ratio_max"] = row["final_over_peak_max"]
            n[k + ".seed_peak_mean"] = row["peak_mean"]
            n[k + ".seeds_below_3_4"] = row["runs_falling"]
            n[k + ".at_14563"] = at(figdir, job, layer, 14563)
            n[k + ".at_19306"] = at(figdir, job, layer, 19306)
            n[k + ".sd_14563"] = at(figdir, job, layer, 14563, "lr_sd")
            n[k + ".sd_19306"] = at(figdir, job, layer, 19306, "lr_sd")
            if layer > 1:
                n[k + ".jump_factor"] = jump_factor(figdir, job, layer)
            for st in (244205, 429193, 754312):
                n[f"{k}.at_{st}"] = at(figdir, job, layer, st)
        n[tag + ".runs"] = summary_row(figdir, job, 4)["runs"]
        n[tag + ".l4.fall_3_4_median"] = summary_row(figdir, job, 4)["fall_below_0.75_peak_step_median"]
    if epyc:
        n.update(machines_numbers(figdir))
    # The jump into step 19,306 against the changes between the checkpoints before it.
    n["jump.factor_min"] = min(n[f"{t}.l{l}.jump_factor"] for t in ("gp", "mn") for l in (2, 3, 4))
    # MNIST's mid-training dip: the seed spread before, during and after it.
    for layer in (2, 3, 4):
        k = f"mn.l{layer}"
        n[k + ".sd_pre_min"], n[k + ".sd_pre_max"] = sd_range(figdir, "mnist-paper", layer, 372, 14563)
        n[k + ".sd_dip_min"], n[k + ".sd_dip_max"] = sd_range(figdir, "mnist-paper", layer, 79060, 184206)
        n[k + ".sd_post_min"], n[k + ".sd_post_max"] = sd_range(figdir, "mnist-paper", layer, 244205, 10 ** 6)
        s, y = curve(figdir, "mnist-paper", layer)
        m = (s > 14563) & (s < 244205)
        n[k + ".dip_min"] = float(y[m].min())
        n[k + ".dip_min_step"] = int(s[m][np.argmin(y[m])])
    # Gaussian IB: where the encoder mean's rank steps down.
    d = ib_final(figdir)
    b = d["beta_vib"].to_numpy()
    steps = ib_steps(figdir)
    for k, (im, it) in steps.items():
        n[f"ib.k{k}.meas_lo"], n[f"ib.k{k}.meas_hi"] = b[im], b[im + 1]
        n[f"ib.k{k}.theory_lo"], n[f"ib.k{k}.theory_hi"] = b[it], b[it + 1]
        n[f"ib.k{k}.crit"] = theory.critical_beta_vib(RHO)[k - 1]
        n[f"ib.k{k}.late_points"] = im - it
    n["ib.steps_late_by_one"] = sum(int(im - it == 1) for im, it in steps.values())
    n["ib.steps_on_time"] = sum(int(im == it) for im, it in steps.values())
    n["ib.betas"] = len(b)
    h = ib_final(figdir, layer=1)
    n["ib.hidden_min"], n["ib.hidden_max"] = h["lr_mean"].min(), h["lr_mean"].max()
    n["ib.rate_minus_itx_max"] = float((d["rate"] - d["theory_itx"]).abs().max())
    gap = d["theory_ity"] - d["info_y"]
    n["ib.ity_gap_min"], n["ib.ity_gap_max"] = float(gap.min()), float(gap.max())
    byr = ib_final_rate_by_rank(figdir)
    for r in byr.index:
        n[f"ib.rate_rank{int(r)}_min"], n[f"ib.rate_rank{int(r)}_max"] = byr.loc[r, "min"], byr.loc[r, "max"]
    share = ib_rate_before_rank_falls(figdir)
    n["ib.rate_share_before_rank_min"] = min(share.values())
    n["ib.rate_share_runs"] = len(share)
    most = [v for v in share.values() if v >= 0.5]
    n["ib.rate_share_runs_half"] = len(most)
    n["ib.rate_share_half_min"] = min(most)
    info = _csv(figdir, "gaussian-ib-info.csv")
    n["ib.rate_step0"] = float(info[info["step"] == 0]["proxy_mean"].max())
    # VIB on MNIST: the reduced sweep and, once run, the full grid.
    n.update(vm_numbers(figdir, "vib-mnist-reduced", "vm"))
    if os.path.exists(os.path.join(figdir, "vib-mnist-vib.csv")):
        n.update(vm_numbers(figdir, "vib-mnist", "vf"))
    # Gaussian-paper seed 0 at 500-step checkpoints to 40,000 steps.
    if os.path.exists(os.path.join(figdir, "gaussian-paper-spikes.csv")):
        d = _csv(figdir, "gaussian-paper-spikes.csv").set_index("step")
        for st in d.index:
            n[f"sp.loss_{st}"] = d.loc[st, "train_loss"]
            for layer in (2, 3, 4):
                n[f"sp.l{layer}_{st}"] = d.loc[st, f"lr_layer{layer}"]
        n["sp.fit_1e-6"] = int(d.index[np.flatnonzero(d["train_loss"].to_numpy() < 1e-6)[0]])
        sp = loss_spikes(figdir)
        n["sp.n_spikes"] = len(sp)
        for i, st in enumerate(sp):
            n[f"sp.spike{i + 1}"] = st
    if os.path.exists(os.path.join(figdir, "gaussian-paper-spikes.csv")):
        n.update(spikes_numbers(figdir))
    if os.path.exists(os.path.join(figdir, "sensitivity.csv")):
        n.update(sens_numbers(figdir))
    for job, tag in (("gaussian-paper", "px"), ("mnist-paper", "pn")):
        if os.path.exists(os.path.join(figdir, f"{job}-proxies.csv")):
            n.update(proxies_numbers(figdir, job, tag))
    return n


def fall_end_figure(out, *csvs, base_lr=1e-4):
    """The deepest layer's local rank of the runs in curve CSVs (`--spikes`
    tables) against the step, and against the step scaled by lr / base_lr:
    if the fall's timing goes as 1/lr, runs of one task at different learning
    rates lie on one curve in the right panel."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axs = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    k = 0
    for path in csvs:
        d = pd.read_csv(path)
        job = os.path.basename(path)[:-4]
        deep = max(c for c in d.columns if c.startswith("lr_layer"))
        for run, x in d.groupby("run", sort=False):
            x = x[np.isfinite(x[deep]) & (x["step"] > 0)].sort_values("step")
            lr = float(x["lr"].iloc[0])
            style = "--" if "mnist" in job else "-"
            lab = f"{job} {run}: lr {lr:g}"
            axs[0].semilogx(x["step"], x[deep], style, color=f"C{k}", lw=1, label=lab)
            axs[1].semilogx(x["step"] * lr / base_lr, x[deep], style, color=f"C{k}", lw=1)
            k += 1
    axs[0].set_xlabel("step")
    axs[1].set_xlabel(f"step x lr / {base_lr:g}")
    axs[0].set_ylabel(f"deepest layer's local rank ({deep.replace('lr_', '')}, eps 0.01)")
    axs[0].legend(fontsize=7)
    axs[1].set_title("if the timing goes as 1/lr, one task's runs lie on one curve", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    tables = {"--proxies": proxies_table, "--spikes": spikes_table}
    if argv and argv[0] == "--fall-end":
        if len(argv) < 3:
            print("usage: python3 -m ranksweep_analysis.reproduction --fall-end OUT.png CURVES.csv...", file=sys.stderr)
            return 2
        fall_end_figure(argv[1], *argv[2:])
        return 0
    if argv and argv[0] in tables:
        if len(argv) != 3:
            print(f"usage: python3 -m ranksweep_analysis.reproduction {argv[0]} ARCHIVE.h5 OUT.csv", file=sys.stderr)
            return 2
        tables[argv[0]](argv[1]).to_csv(argv[2], index=False, float_format="%.6g")
        return 0
    for k, v in numbers(argv[0] if argv else FIGDIR).items():
        print(f"{k} = {v:.6g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
