"""Reading a ranksweep archive (format versions 1 and 2) with h5py into
xarray and pandas objects with named dimensions; partial archives included
(cells whose written mask is unset come back as NaN).

The reader owns the archive's layout knowledge: which mask guards which
dataset, where the NumPy-tolerance count lives in each format version, how
per-run eps ladders and checkpoint lists are put on common axes."""
import os

# HDF5 takes a file lock on open: a sweep holding the archive open would block
# us. The variable must be set before the HDF5 library initialises (first
# import of h5py); File(locking=False) below covers the case of an h5py that
# was imported earlier.
os.environ.setdefault("HDF5_USE_FILE_LOCKING", "FALSE")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402

FORMAT = "ranksweep-archive"
KNOWN_VERSIONS = (1, 2)

# Defaults of the job keys the reader needs when a version-1 archive has no
# resolved configuration (src/job/keys.c; docs/reference/keys.md).
V1_DEFAULTS = {
    "seed": 0,
    "data.kind": "gaussian_mixture",
    "data.seed": -1,
    "data.train_size": 1000,
    "data.heldout_size": 1000,
    "data.rho": [0.9, 0.7, 0.5, 0.3],
    "data.classes": 10,
    "model.kind": "mlp",
    "model.latent": 256,
    "train.batch": 64,
    "train.loss": "auto",
    "train.beta": 0.001,
    "measure.noise": [0.1, 0.3, 1.0],
    "measure.spectrum": False,
}

SEED_KEYS = ("seed", "data.seed")
# Names of the Dataset's own dimensions, coordinates and variables: a grid key
# whose last component is one of them (measure.eps, train.lr) keeps its full
# dotted name with '_' (measure_eps, train_lr).
RESERVED = {"run", "name", "step", "steps", "checkpoint", "epoch", "layer", "eps", "point", "weight", "noise", "sv",
            "feature",
            "width", "data_kind", "eval_index", "lr", "lr_numpy", "effrank", "stablerank", "train_loss", "train_acc",
            "heldout_loss", "heldout_acc", "rate", "info_y", "weight_fro", "weight_spec", "weight_rank", "done",
            "diverged", "last_step", "counts", "counts_numpy", "point_effrank", "point_stablerank", "spectra",
            "spectrum_sv", "spectrum_feature_rank", "spectrum_effrank", "info_proxy", "spectrum_npoints", "group",
            "runs", "avg", "sd", "n"}


class ArchiveError(Exception):
    """A user-facing problem with an archive or a request (one clear line)."""


def _text(v):
    if isinstance(v, np.ndarray) and v.dtype.kind in "SU" and v.shape == ():
        v = v[()]
    if isinstance(v, (bytes, np.bytes_)):
        v = bytes(v).decode("utf-8", "replace")
    return str(v).rstrip("\x00")


def _texts(arr):
    return [_text(v) for v in np.asarray(arr).ravel()]


def open_h5(path):
    """Opens an archive read-only without taking HDF5's file lock, so that it
    can be read while a sweep writes it."""
    if not os.path.exists(path):
        raise ArchiveError(f"{path}: no such file")
    try:
        return h5py.File(path, "r", locking=False)
    except (TypeError, ValueError):  # an HDF5 without H5Pset_file_locking
        return h5py.File(path, "r")
    except OSError as e:
        raise ArchiveError(f"{path}: cannot open as HDF5 ({e})") from None


def format_version(f):
    """The archive's format version; refuses files that are not archives,
    archives whose creation did not finish, and versions this reader does not
    know."""
    A = f.attrs
    fmt = _text(A["format"]) if "format" in A else ""
    if fmt != FORMAT:
        raise ArchiveError(f"{f.filename}: not a ranksweep archive (root attribute format is {fmt!r}, "
                           f"expected {FORMAT!r})")
    if not int(A.get("structure_complete", 0)):
        raise ArchiveError(f"{f.filename}: archive structure incomplete (its creation was interrupted)")
    v = int(A.get("format_version", 1))
    if v not in KNOWN_VERSIONS:
        raise ArchiveError(f"{f.filename}: format_version {v} is not supported by this reader "
                           f"(known: {', '.join(map(str, KNOWN_VERSIONS))})")
    return v


def _yaml_value(s):
    import yaml
    try:
        v = yaml.safe_load(s)
    except yaml.YAMLError:
        return s
    if isinstance(v, str):  # YAML 1.1 reads 1e-08 (no dot) as a string
        try:
            return float(v)
        except ValueError:
            pass
    return v


def _flatten(d, prefix=""):
    out = {}
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and key != "grid":
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _configs(f, version, grid):
    """Per run, a dict of job keys: v2 reads the resolved configuration; v1
    rebuilds the keys it needs from the job text, the grid values and the
    defaults."""
    R = int(f.attrs["n_runs"])
    if version >= 2 and "runs/config" in f:
        out = []
        for text in _texts(f["runs/config"][()]):
            cfg = {}
            for line in text.splitlines():
                if ": " in line:
                    k, v = line.split(": ", 1)
                    cfg[k.strip()] = _yaml_value(v)
                elif line.rstrip().endswith(":"):
                    cfg[line.rstrip()[:-1].strip()] = None
            out.append(cfg)
        return out
    import yaml
    job = _job_text(f)
    try:
        base = _flatten(yaml.safe_load(job) or {})
    except yaml.YAMLError:
        base = {}
    base.pop("grid", None)
    out = []
    for r in range(R):
        cfg = dict(V1_DEFAULTS)
        cfg.update(base)
        for k, vals in grid.items():
            cfg[k] = vals[r]
        out.append(cfg)
    return out


def _job_text(f):
    t = f["job/text"][()]
    if isinstance(t, np.ndarray):
        t = t.tobytes()
    return _text(t)


def _is_scale(d):
    """A dimension-scale dataset (format 2 puts one per axis in each group)."""
    return _text(d.attrs.get("CLASS", b"")) == "DIMENSION_SCALE"


def _grid(f, version):
    """Grid axis values per key, typed: v2's /runs/grid (full precision);
    v1's /runs/values (6 significant digits) where every value is a number,
    else the /runs/params text parsed as YAML."""
    out = {}
    if version >= 2 and "runs/grid" in f:
        for k, d in f["runs/grid"].items():
            if not isinstance(d, h5py.Dataset) or _is_scale(d):
                continue
            k = _text(d.attrs["key"]) if "key" in d.attrs else k  # the dotted key, whatever the name
            v = d[()]
            out[k] = _texts(v) if v.dtype.kind in "SOU" else v.tolist()
        return out
    if "runs/params" not in f:
        return out
    for k, d in f["runs/params"].items():
        if not isinstance(d, h5py.Dataset) or _is_scale(d):
            continue
        text = _texts(d[()])
        if "runs/values" in f and k in f["runs/values"]:
            vals = f["runs/values"][k][()].astype(float)
            if all(float(v).is_integer() for v in vals) and all("." not in t and "e" not in t.lower() for t in text):
                out[k] = [int(v) for v in vals]
            else:
                out[k] = vals.tolist()
        else:
            out[k] = [_yaml_value(t) if t.lower() not in ("true", "false") else t for t in text]
            out[k] = [("x".join(map(str, v)) if isinstance(v, list) else v) for v in out[k]]
    return out


def coord_name(key, keys):
    """The name of a grid key's coordinate: its last component when no other
    key shares it (weight_decay, seed), else the dotted key with '_'."""
    last = key.split(".")[-1]
    if sum(k.split(".")[-1] == last for k in keys) == 1 and last not in RESERVED:
        return last
    return key.replace(".", "_")


def _masked(a, mask):
    """a (float) with NaN wherever mask (broadcast from the left) is unset."""
    a = np.array(a, dtype=np.float64)
    m = np.asarray(mask).astype(bool)
    m = m.reshape(m.shape + (1,) * (a.ndim - m.ndim))
    return np.where(m, a, np.nan)


class _Reader:
    """One open archive: the run tables, the axes, and masked reads."""

    def __init__(self, f):
        self.f = f
        self.version = format_version(f)
        A = f.attrs
        self.R, self.C, self.L = int(A["n_runs"]), int(A["n_ckpt"]), int(A["n_layers"])
        self.P, self.E = int(A["n_points"]), int(A["n_eps"])
        # Masks first, data afterwards: a cell's data are written before its
        # mask, so data read after a set mask are complete.
        self.done_points = f["done/points"][()].astype(bool)
        self.done_metrics = f["done/metrics"][()].astype(bool)
        self.done_runs = f["done/runs"][()].astype(bool)
        self.names = _texts(f["runs/name"][()])
        self.nckpt = f["runs/nckpt"][()].astype(int)
        self.nlayers = f["runs/nlayers"][()].astype(int)
        self.npoints = f["runs/npoints"][()].astype(int)
        self.neps = f["runs/neps"][()].astype(int)
        self.steps = f["runs/steps"][()].astype(np.int64)
        self.widths = f["runs/widths"][()].astype(np.int64)
        self.run_eps = f["runs/eps"][()].astype(float)
        self.grid = _grid(f, self.version)
        self.configs = _configs(f, self.version, self.grid)
        # Points of a checkpoint all measured: only then is its mean defined.
        self.ckpt_done = np.zeros((self.R, self.C), bool)
        for r in range(self.R):
            P = self.npoints[r]
            self.ckpt_done[r, : self.nckpt[r]] = self.done_points[r, : self.nckpt[r], :P].all(axis=-1)
        self._axes()

    def _axes(self):
        R, C = self.R, self.C
        # The step axis: one shared list of steps when every run has the same
        # checkpoints (the usual case), else the checkpoint index with a 2-D
        # step coordinate.
        first = self.steps[0, : self.nckpt[0]] if R else np.zeros(0, np.int64)
        self.shared_steps = all(self.nckpt[r] == len(first) and np.array_equal(self.steps[r, : self.nckpt[r]], first)
                                for r in range(R)) and len(first) == C
        self.ckdim = "step" if self.shared_steps else "checkpoint"
        # The eps axis: the union of every run's ladder (descending); a run
        # lacking one of them is NaN there.
        vals = sorted({float(self.run_eps[r, e]) for r in range(R) for e in range(self.neps[r])}, reverse=True)
        self.eps = np.array(vals, dtype=float)
        self.eps_col = np.full((R, len(vals)), -1, int)  # union index -> the run's own column
        for r in range(R):
            for e in range(self.neps[r]):
                self.eps_col[r, vals.index(float(self.run_eps[r, e]))] = e

    def cfg(self, key):
        return [c.get(key, V1_DEFAULTS.get(key)) for c in self.configs]

    def epochs(self):
        if self.version >= 2 and "runs/epochs" in self.f:
            return _masked(self.f["runs/epochs"][()], self.steps >= 0)
        batch = np.array([float(b) for b in self.cfg("train.batch")])
        ntrain = np.array([float(n) for n in self.cfg("data.train_size")])
        ep = self.steps * (batch / ntrain)[:, None]
        return np.where(self.steps >= 0, ep, np.nan)

    def by_eps(self, a, axis=-1):
        """Reorders a run-major array's eps axis (the run's own columns) onto
        the union eps axis."""
        a = np.moveaxis(np.asarray(a, float), axis, -1)
        out = np.full(a.shape[:-1] + (len(self.eps),), np.nan)
        for r in range(self.R):
            for u, e in enumerate(self.eps_col[r]):
                if e >= 0:
                    out[r, ..., u] = a[r, ..., e]
        return np.moveaxis(out, -1, axis)

    def counts(self):
        """Per-point counts [R,C,L,P,E+1] as float (NaN where unwritten) and
        the NumPy-tolerance counts [R,C,L,P]."""
        c = self.f["lr/counts"][()]
        valid = self.done_points[:, :, None, :]  # [R,C,1,P]
        cf = np.where(valid[..., None] & (c >= 0), c.astype(float), np.nan)
        if self.version >= 2 and "lr/counts_numpy" in self.f:
            cn = self.f["lr/counts_numpy"][()]
            npy = np.where(valid & (cn >= 0), cn.astype(float), np.nan)
        else:
            # Version 1 keeps the NumPy count in the padded last column (n_eps),
            # whatever the run's own ladder length.
            npy = cf[..., self.E]
        return cf[..., : self.E], npy

    def point_mean(self, x):
        """Mean over each run's own points of a [R,C,L,P,...] array, defined
        only where every point of the checkpoint is measured."""
        out = np.full(x.shape[:3] + x.shape[4:], np.nan)
        for r in range(self.R):
            P = self.npoints[r]
            if P:
                out[r] = x[r, :, :, :P].sum(axis=2) / P
        out[~self.ckpt_done] = np.nan
        return out


def _coords(rd):
    R = rd.R
    coords = {"run": np.arange(R), "name": ("run", rd.names)}
    for k, vals in rd.grid.items():
        coords[coord_name(k, list(rd.grid))] = ("run", vals)
    if not any(coord_name(k, list(rd.grid)) == "seed" for k in rd.grid):
        if rd.version >= 2 and "runs/seed" in rd.f:
            coords["seed"] = ("run", rd.f["runs/seed"][()].astype(np.int64))
        else:
            coords["seed"] = ("run", np.array([int(s) for s in rd.cfg("seed")], np.int64))
    if rd.shared_steps:
        coords["step"] = rd.steps[0, : rd.C].astype(np.int64)
        ep = rd.epochs()
        if np.allclose(ep, ep[:1], equal_nan=True):
            coords["epoch"] = ("step", ep[0])
        else:
            coords["epoch"] = (("run", "step"), ep)
    else:
        coords["checkpoint"] = np.arange(rd.C)
        coords["step"] = (("run", "checkpoint"), np.where(rd.steps >= 0, rd.steps, -1))
        coords["epoch"] = (("run", "checkpoint"), rd.epochs())
    coords["layer"] = np.arange(1, rd.L + 1)
    coords["eps"] = rd.eps
    coords["width"] = (("run", "layer"), np.where(rd.widths > 0, rd.widths, -1))
    kinds = rd.cfg("data.kind")
    coords["data_kind"] = ("run", [str(k) for k in kinds])
    return coords


def load(path, points=False, spectra=False):
    """The archive at `path` as an xarray Dataset.

    Dimensions: run, step (or checkpoint when runs have different checkpoint
    lists), layer (1-based), eps (the union of the runs' ladders), and with
    points=True point; weight (1-based weight matrix), noise and sv where the
    archive has them. Coordinates along run: name, every grid parameter
    (named by its last key component), seed, data_kind. Unwritten cells are
    NaN, so a partial archive (a sweep still writing, or drained) loads too.

    Variables: lr (mean local rank), lr_numpy (NumPy tolerance), effrank,
    stablerank (means over points), the per-checkpoint metrics, the weight
    norms and ranks, and from /spectrum: spectrum_sv, spectrum_feature_rank,
    spectrum_effrank, info_proxy. points=True adds the per-point counts
    (counts, counts_numpy, point_effrank, point_stablerank); spectra=True the
    per-point Jacobian spectra (float32 in the file, float64 here)."""
    with open_h5(path) as f:
        rd = _Reader(f)
        ck = rd.ckdim
        dims3 = ("run", ck, "layer")
        cf, npy = rd.counts()
        data = {
            "lr": (dims3 + ("eps",), rd.by_eps(rd.point_mean(cf))),
            "lr_numpy": (dims3, rd.point_mean(npy)),
        }
        # done/points is [R,C,P]: broadcast over the layer axis.
        pe = ps = None
        if "lr/effrank" in f:
            pe = np.where(rd.done_points[:, :, None, :], f["lr/effrank"][()], np.nan)
            data["effrank"] = (dims3, rd.point_mean(pe))
        if "lr/stablerank" in f:
            ps = np.where(rd.done_points[:, :, None, :], f["lr/stablerank"][()], np.nan)
            data["stablerank"] = (dims3, rd.point_mean(ps))
        for m in ("train_loss", "train_acc", "heldout_loss", "heldout_acc", "rate", "info_y"):
            if f"metrics/{m}" in f:
                data[m] = (("run", ck), _masked(f[f"metrics/{m}"][()], rd.done_metrics))
        W = int(f.attrs.get("n_weights", 0))
        for m in ("weight_fro", "weight_spec"):
            if f"metrics/{m}" in f:
                data[m] = (("run", ck, "weight"), _masked(f[f"metrics/{m}"][()], rd.done_metrics))
        if "metrics/weight_rank" in f:
            wr = f["metrics/weight_rank"][()].astype(float)
            wr[wr < 0] = np.nan
            data["weight_rank"] = (("run", ck, "weight", "eps"), rd.by_eps(_masked(wr, rd.done_metrics)))
        data["done"] = ("run", rd.done_runs)
        dv = f["runs/diverged"][()].astype(int)
        data["diverged"] = ("run", (dv == 1) & rd.done_runs)
        data["last_step"] = ("run", np.where(rd.done_runs, f["runs/last_step"][()], -1))
        if points:
            data["counts"] = (dims3 + ("point", "eps"), rd.by_eps(cf))
            data["counts_numpy"] = (dims3 + ("point",), npy)
            if pe is not None:
                data["point_effrank"] = (dims3 + ("point",), pe)
                data["point_stablerank"] = (dims3 + ("point",), ps)
        if spectra and "lr/spectra" in f:
            sv = f["lr/spectra"][()].astype(np.float64)
            data["spectra"] = (dims3 + ("point", "sv"), np.where(rd.done_points[:, :, None, :, None], sv, np.nan))
        coords = _coords(rd)
        if W:
            coords["weight"] = np.arange(1, W + 1)
        if points:
            coords["point"] = np.arange(rd.P)
            if rd.version >= 2 and "runs/eval_index" in f:
                ei = f["runs/eval_index"][()].astype(np.int64)
                coords["eval_index"] = (("run", "point"), ei)
        if "spectrum" in f and "done" in f["spectrum"]:
            g = f["spectrum"]
            sd = g["done"][()].astype(bool)  # [R,C,L]
            # its own dimension: the representation's singular values are not
            # the per-point Jacobian spectra of spectra=True (dimension sv)
            data["spectrum_sv"] = (dims3 + ("feature",), _masked(g["sv"][()], sd))
            fr = g["feature_rank"][()].astype(float)
            fr[fr < 0] = np.nan
            data["spectrum_feature_rank"] = (dims3 + ("eps",), rd.by_eps(_masked(fr, sd)))
            data["spectrum_effrank"] = (dims3, _masked(g["effrank"][()], sd))
            ip = _masked(g["info_proxy"][()], sd)
            data["info_proxy"] = (dims3 + ("noise",), ip)
            noise = rd.cfg("measure.noise")
            nn = ip.shape[-1]
            scale = g["noise"][()] if "noise" in g and g["noise"].shape == (nn,) else None
            if scale is not None and np.isfinite(scale).all():  # format 2: the common noise levels
                coords["noise"] = scale.astype(float)
            elif all(isinstance(n, list) and n == noise[0] for n in noise) and len(noise[0]) == nn:
                coords["noise"] = np.array(noise[0], float)
            else:
                coords["noise"] = np.arange(nn)
            npts = g["npoints"][()].astype(float)
            npts[npts < 0] = np.nan
            data["spectrum_npoints"] = (("run", ck), npts)
        attrs = {
            "path": os.path.abspath(path),
            "format_version": rd.version,
            "job_name": _text(f.attrs.get("job_name", b"")),
            "job_hash": _text(f.attrs.get("job_hash", b"")),
            "complete": int(f.attrs.get("complete", 0)),
            "grid_keys": list(rd.grid),
            "job_text": _job_text(f),
        }
        if "spectrum" in f:
            attrs["spectrum_points"] = _text(f["spectrum"].attrs.get("points", b""))
            attrs["spectrum_representation"] = _text(f["spectrum"].attrs.get("representation", b""))
        ds = xr.Dataset(data, coords=coords, attrs=attrs)
        ds["lr"].attrs.update(description="mean local rank over the evaluation points at each eps "
                              "(NaN until every point of the checkpoint is measured)")
        ds["lr_numpy"].attrs.update(description="mean rank at NumPy's matrix_rank tolerance")
        return ds


def configs(path):
    """Per run, the configuration as a dict of dotted job keys (version 2: the
    fully resolved one; version 1: the job text, grid values and the defaults
    the analysis needs)."""
    with open_h5(path) as f:
        return _Reader(f).configs


def runs(path_or_ds):
    """A pandas DataFrame, one row per run (index: run): name, every grid
    parameter (typed), seed, data kind, done, diverged, last_step, number of
    checkpoints and measured layers."""
    ds = path_or_ds if isinstance(path_or_ds, xr.Dataset) else load(path_or_ds)
    cols = {"name": ds["name"].values}
    for k in ds.attrs["grid_keys"]:
        c = coord_name(k, ds.attrs["grid_keys"])
        cols[c] = ds[c].values
    if "seed" not in cols:
        cols["seed"] = ds["seed"].values
    cols["data_kind"] = ds["data_kind"].values
    cols["done"] = ds["done"].values
    cols["diverged"] = ds["diverged"].values
    cols["last_step"] = ds["last_step"].values
    ck = "step" if "checkpoint" not in ds.dims else "checkpoint"
    cols["measured"] = ds["lr"].notnull().any(dim=("layer", "eps")).sum(ck).values
    cols["layers"] = (ds["width"] > 0).sum("layer").values
    return pd.DataFrame(cols, index=pd.Index(ds["run"].values, name="run"))


def data_kind(ds):
    """The archive's single data kind; an error when runs differ."""
    kinds = sorted(set(ds["data_kind"].values.tolist()))
    if len(kinds) != 1:
        raise ArchiveError(f"{ds.attrs.get('path', 'archive')}: runs use several data kinds ({', '.join(kinds)})")
    return kinds[0]
