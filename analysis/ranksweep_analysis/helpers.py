"""The common questions about a loaded archive: local rank at one eps,
groups of runs that differ only in their seed with their mean and spread,
and the step at which a layer's local rank falls below a fraction of its
peak. Every selection that names something the archive lacks is an error."""
import warnings

import numpy as np
import pandas as pd
import xarray as xr

from .archive import SEED_KEYS, ArchiveError, coord_name


def _where(obj):
    return obj.attrs.get("path", "archive") if hasattr(obj, "attrs") else "archive"


def eps_index(ds, eps):
    """Index of `eps` on the archive's eps axis; an ArchiveError naming the
    available values when it is absent (no nearest-value fallback)."""
    have = np.asarray(ds["eps"].values, float)
    hit = np.flatnonzero(np.isclose(have, float(eps), rtol=1e-9, atol=0.0))
    if len(hit) != 1:
        raise ArchiveError(f"{_where(ds)}: eps {eps:g} is not in the archive's ladder "
                           f"(available: {', '.join(f'{e:g}' for e in have)})")
    return int(hit[0])


def _check_layer(ds, layer):
    have = ds["layer"].values.tolist()
    for l in np.atleast_1d(layer):
        if int(l) not in have:
            raise ArchiveError(f"{_where(ds)}: layer {l} is not measured "
                               f"(layers {have[0]}..{have[-1]}, 1-based)")


def lr_at(ds, eps, layer=None, var="lr"):
    """Mean local rank at exactly this eps: a DataArray [run, step, layer]
    (or [run, step] for one layer). `var` may be another eps-indexed
    variable (spectrum_feature_rank, weight_rank)."""
    if var not in ds:
        raise ArchiveError(f"{_where(ds)}: the archive has no {var}")
    da = ds[var].isel(eps=eps_index(ds, eps))
    if layer is not None:
        _check_layer(ds, layer)
        da = da.sel(layer=layer)
    da.attrs = dict(da.attrs, eps=float(eps), **carry_attrs(ds))
    return da


def carry_attrs(ds):
    """The archive attributes the helpers need on a variable taken out of the
    Dataset (xarray does not propagate them)."""
    return {k: ds.attrs[k] for k in ("path", "grid_keys", "job_name") if k in ds.attrs}


def steps_of(obj):
    """Training steps as an array [run, checkpoint] whatever the step axis."""
    if "checkpoint" in obj.dims:
        return np.asarray(obj["step"].transpose("run", "checkpoint").values)
    return np.broadcast_to(obj["step"].values, (obj.sizes["run"], obj.sizes["step"]))


def _ckdim(obj):
    return "checkpoint" if "checkpoint" in obj.dims else "step"


def _grid_coords(obj, exclude=SEED_KEYS):
    keys = obj.attrs.get("grid_keys") or []
    names = []
    for k in keys:
        c = coord_name(k, keys)
        if k not in exclude and c in obj.coords:
            names.append(c)
    return names


def group_labels(obj, by=None):
    """Per run, the label of its group ("weight_decay=0.01,lr=0.003"): runs
    that share every grid parameter except the seeds (or the coordinates in
    `by`). Returns (labels, the coordinate names used)."""
    names = list(by) if by is not None else _grid_coords(obj)
    for n in names:
        if n not in obj.coords:
            raise ArchiveError(f"{_where(obj)}: no run coordinate {n!r}")
    R = obj.sizes["run"]
    labels = []
    for r in range(R):
        parts = [f"{n}={_fmt(obj[n].values[r])}" for n in names]
        labels.append(",".join(parts) if parts else "all runs")
    return labels, names


def _fmt(v):
    if isinstance(v, (float, np.floating)):
        return f"{v:g}"
    return str(v)


def seed_groups(obj, by=None):
    """{label: [run, ...]} in the order the groups first appear."""
    labels, _ = group_labels(obj, by)
    out = {}
    for r, lab in enumerate(labels):
        out.setdefault(lab, []).append(r)
    return out


def group_stats(da, by=None):
    """Mean (avg), sample standard deviation (sd) and number of finite runs (n) over the
    seeds of each group, as a Dataset with a `group` dimension (and the
    group's parameter values as coordinates along it). NaN cells (unwritten,
    diverged) are left out of the statistics."""
    groups = seed_groups(da, by)
    _, names = group_labels(da, by)
    means, stds, ns = [], [], []
    for runs in groups.values():
        x = da.isel(run=runs)
        n = x.notnull().sum("run")
        means.append(x.mean("run", skipna=True))
        if len(runs) > 1:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # cells with one finite run: NaN
                stds.append(x.std("run", skipna=True, ddof=1).where(n > 1))
        else:
            stds.append(xr.full_like(means[-1], np.nan, dtype=float))
        ns.append(n)
    cat = lambda parts: xr.concat(parts, dim="group")  # noqa: E731
    out = xr.Dataset({"avg": cat(means), "sd": cat(stds), "n": cat(ns)})
    out = out.assign_coords(group=list(groups))
    first = [runs[0] for runs in groups.values()]
    for n in names:
        out = out.assign_coords({n: ("group", da[n].values[first])})
    out = out.assign_coords(runs=("group", [len(v) for v in groups.values()]))
    drop = [c for c in out.coords if "run" in out[c].dims]
    out = out.drop_vars(drop)
    out.attrs = dict(da.attrs)
    return out


def peak_and_fall(steps, y, fractions):
    """One curve's peak over its finite points: (index of the peak among
    them, {fraction: the first step after the peak at which the curve is
    below fraction x peak, NaN when it never is}). The one rule for "the
    fall" that fall_step and the sensitivity study share."""
    steps, y = np.asarray(steps, float), np.asarray(y, float)
    ok = np.isfinite(y)
    i = int(np.argmax(np.where(ok, y, -np.inf)))
    after = ok & (np.arange(len(y)) > i)
    falls = {}
    for f in fractions:
        hit = np.flatnonzero(after & (y < f * y[i]))
        falls[f] = float(steps[hit[0]]) if len(hit) else np.nan
    return i, falls


def fall_step(da, fraction=0.5):
    """For each run of a [run, step] local-rank curve (one layer, one eps):
    its peak, the step of the peak, the first step after the peak at which it
    is below `fraction` x peak (NaN when it never is), and the final value.
    A pandas DataFrame indexed by run, with the run's name and grid
    parameters as columns."""
    if not 0 < fraction < 1:
        raise ArchiveError(f"fraction {fraction} must lie in (0, 1)")
    ck = _ckdim(da)
    extra = [d for d in da.dims if d not in ("run", ck)]
    if extra:
        raise ArchiveError(f"fall_step needs one curve per run; select {', '.join(extra)} first "
                           "(e.g. lr_at(ds, eps, layer=3))")
    y = np.asarray(da.transpose("run", ck).values, float)
    steps = steps_of(da)
    rows = []
    for r in range(y.shape[0]):
        ok = np.isfinite(y[r])
        row = {"peak": np.nan, "peak_step": np.nan, "fall_step": np.nan, "final": np.nan, "final_step": np.nan}
        if ok.any():
            i, falls = peak_and_fall(steps[r], y[r], (fraction,))
            last = int(np.flatnonzero(ok)[-1])
            row.update(peak=y[r, i], peak_step=steps[r, i], fall_step=falls[fraction],
                       final=y[r, last], final_step=steps[r, last])
        rows.append(row)
    out = pd.DataFrame(rows, index=pd.Index(da["run"].values, name="run"))
    cols = {"name": da["name"].values} if "name" in da.coords else {}
    for n in _grid_coords(da, exclude=()):
        cols[n] = da[n].values
    return pd.concat([pd.DataFrame(cols, index=out.index), out], axis=1)
