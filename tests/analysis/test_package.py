"""The ranksweep_analysis package on small archives written by the real
ranksweep: dimensions and coordinates, agreement with the raw datasets read
by h5py, the helpers, mixed ladders and checkpoint lists, partial archives
(a slice, and a sweep read while it writes), the version-2 layout, and the
refusals."""
import os
import shutil
import subprocess
import time

import h5py
import numpy as np
import pytest
import xarray as xr

import ranksweep_analysis as ra
from conftest import ENV, MPIRUN, RS, ROOT, SMALL, job, sweep

MIXED = """name: mixed-analysis
data:
  kind: gaussian_mixture
  dim: 8
  classes: 3
  train_size: 64
  heldout_size: 64
model:
  widths: [8, 8]
train:
  lr: 3.0e-3
  batch: 16
  steps: 400
  state_every: 0
measure:
  log_points: 6
  points: 12
  save_weights: none
grid:
  measure.eps: [[0.1, 0.01], [0.05]]
  train.steps: [200, 400]
"""


@pytest.fixture(scope="module")
def mixed(work):
    out = os.path.join(str(work), "mixed.h5")
    sweep(job(work, "mixed", MIXED), out)
    return out


def test_load_dimensions_coordinates_and_values(small):
    ds = ra.load(small)
    assert isinstance(ds, xr.Dataset)
    assert dict(ds.sizes) == {"run": 4, "step": ds.sizes["step"], "layer": 3, "eps": 2, "weight": 4}
    assert ds["eps"].values.tolist() == [0.1, 0.01]
    assert ds["layer"].values.tolist() == [1, 2, 3]
    # grid parameters as typed coordinates along run, in grid order (last axis fastest)
    assert ds["weight_decay"].dtype.kind == "f" and ds["seed"].dtype.kind == "i"
    assert ds["weight_decay"].values.tolist() == [0.01, 0.01, 0.1, 0.1]
    assert ds["seed"].values.tolist() == [0, 1, 0, 1]
    with h5py.File(small, "r") as f:
        steps = f["runs/steps"][0]
        assert ds["step"].values.tolist() == steps.tolist() and steps[-1] == 400
        # epoch = step * batch / train_size (16 / 64)
        assert np.allclose(ds["epoch"].values, steps * 16 / 64)
        mean = f["lr/mean"][()]
        assert np.array_equal(ds["lr"].values, mean[..., :2])            # bit for bit
        assert np.array_equal(ds["lr_numpy"].values, mean[..., 2])
        assert np.array_equal(ds["train_loss"].values, f["metrics/train_loss"][()])
        names = [n.decode() for n in f["runs/name"][()]]
    assert ds["name"].values.tolist() == names
    assert ds.attrs["job_name"] == "small-analysis" and ds.attrs["complete"] == 1
    assert bool(ds["done"].all()) and not bool(ds["diverged"].any())
    # layer 1's Jacobian is W_1 at every point: its local rank is an integer
    l1 = ds["lr"].sel(layer=1).values
    assert np.array_equal(l1, np.round(l1))


def test_points_option_matches_counts(small):
    ds = ra.load(small, points=True, spectra=True)
    assert ds["counts"].dims == ("run", "step", "layer", "point", "eps")
    assert np.allclose(ds["counts"].mean("point").values, ds["lr"].values)
    # re-thresholding the stored spectra reproduces the counts exactly, except
    # at points where a singular value lies within float32 rounding of eps
    # (the spectra are stored as float32); such ties are rare
    sv = ds["spectra"].sel(layer=2).values
    want = ds["counts"].sel(layer=2, eps=0.01).values
    tie = (np.abs(sv - 0.01) <= 1e-7).any(axis=-1)
    recount = (sv > 0.01).sum(axis=-1)
    assert np.array_equal(recount[~tie], want[~tie]) and tie.mean() < 0.01, tie.mean()
    # the comparison can fail: the counts at eps 0.1 are not the recount at 0.01
    assert not np.array_equal(recount[~tie], ds["counts"].sel(layer=2, eps=0.1).values[~tie])


def test_runs_dataframe(small):
    df = ra.runs(small)
    assert list(df.index) == [0, 1, 2, 3]
    for c in ("name", "weight_decay", "seed", "data_kind", "done", "diverged", "last_step", "measured"):
        assert c in df.columns, c
    assert df["weight_decay"].dtype.kind == "f" and df["seed"].dtype.kind == "i"
    assert (df["last_step"] == 400).all() and (df["data_kind"] == "gaussian_mixture").all()
    assert (df["measured"] == ra.load(small).sizes["step"]).all()


def test_lr_at_is_exact_and_refuses_absent_eps_and_layers(small):
    ds = ra.load(small)
    da = ra.lr_at(ds, 0.01, layer=3)
    assert da.dims == ("run", "step")
    assert np.array_equal(da.values, ds["lr"].sel(eps=0.01, layer=3).values)
    with pytest.raises(ra.ArchiveError, match=r"eps 0.05 is not in the archive's ladder \(available: 0.1, 0.01\)"):
        ra.lr_at(ds, 0.05)
    with pytest.raises(ra.ArchiveError, match="layer 4 is not measured"):
        ra.lr_at(ds, 0.01, layer=4)


def test_group_stats_over_seeds(small):
    ds = ra.load(small)
    g = ra.group_stats(ra.lr_at(ds, 0.01))
    assert g["group"].values.tolist() == ["weight_decay=0.01", "weight_decay=0.1"]
    assert g["weight_decay"].values.tolist() == [0.01, 0.1] and g["runs"].values.tolist() == [2, 2]
    x = ds["lr"].sel(eps=0.01).values  # runs 0,1: wd 0.01; 2,3: wd 0.1
    assert np.allclose(g["avg"].values[1], x[2:].mean(axis=0))
    assert np.allclose(g["sd"].values[0], x[:2].std(axis=0, ddof=1), equal_nan=True)
    assert (g["n"].values == 2).all()


def test_fall_step_on_a_known_curve():
    steps = np.array([0, 10, 100, 1000, 10000])
    y = np.array([[5.0, 8.0, 10.0, 6.0, 4.0],   # peak 10 at 100, first < 5 at 10000
                  [5.0, 8.0, 10.0, 9.0, 6.0],   # never below half
                  [np.nan] * 5])                # not measured yet
    da = xr.DataArray(y, dims=("run", "step"), coords={"run": [0, 1, 2], "step": steps,
                                                       "name": ("run", ["a", "b", "c"])})
    t = ra.fall_step(da, 0.5)
    assert t.loc[0, "peak"] == 10 and t.loc[0, "peak_step"] == 100 and t.loc[0, "fall_step"] == 10000
    assert np.isnan(t.loc[1, "fall_step"]) and t.loc[1, "final"] == 6
    assert np.isnan(t.loc[2, "peak"])
    assert ra.fall_step(da, 0.7).loc[0, "fall_step"] == 1000
    with pytest.raises(ra.ArchiveError, match="one curve per run"):
        ra.fall_step(da.expand_dims(layer=[1]).transpose("run", "step", "layer"))


def test_fall_step_agrees_with_a_brute_force_loop(small):
    ds = ra.load(small)
    t = ra.fall_step(ra.lr_at(ds, 0.01, layer=3), 0.9)
    assert "weight_decay" in t.columns and "seed" in t.columns
    with h5py.File(small, "r") as f:
        mean, steps = f["lr/mean"][()], f["runs/steps"][()]
    for r in range(4):
        y = mean[r, :, 2, 1]
        i = int(np.argmax(y))
        want = next((steps[r, k] for k in range(i + 1, len(y)) if y[k] < 0.9 * y[i]), np.nan)
        assert t.loc[r, "peak"] == y[i] and t.loc[r, "peak_step"] == steps[r, i]
        assert (np.isnan(want) and np.isnan(t.loc[r, "fall_step"])) or t.loc[r, "fall_step"] == want


def test_summary_table_against_the_raw_means(small):
    """ranksweep_analysis.summary (the reproduction report's numbers): per layer,
    the step-0 mean, the peak and final means and their ratio, from the raw
    /lr/mean of the finished runs."""
    from ranksweep_analysis.summary import summary
    t = summary(small, eps=0.01, fraction=0.9)
    with h5py.File(small, "r") as f:
        mean = f["lr/mean"][()]
    e = 1  # eps 0.01 in the ladder [0.1, 0.01] of SMALL
    assert list(t["layer"]) == [1, 2, 3] and (t["runs"] == 4).all()
    for l in range(3):
        y = mean[:, :, l, e]
        row = t[t["layer"] == l + 1].iloc[0]
        assert np.isclose(row["step0_mean"], y[:, 0].mean())
        assert np.isclose(row["peak_mean"], np.nanmax(y, axis=1).mean())
        last = [y[r][np.isfinite(y[r])][-1] for r in range(4)]
        assert np.isclose(row["final_mean"], np.mean(last))
        assert np.isclose(row["final_over_peak_mean"], np.mean(np.array(last) / np.nanmax(y, axis=1)))


def test_mixed_eps_ladders_and_checkpoint_lists(mixed):
    ds = ra.load(mixed, points=True)
    # runs with different steps: a checkpoint dimension with a 2-D step coordinate
    assert "checkpoint" in ds.dims and ds["step"].dims == ("run", "checkpoint")
    assert ds["eps"].values.tolist() == [0.1, 0.05, 0.01]          # the union of the ladders
    want = (["0.1x0.01"] * 2 + ["0.05"] * 2 if ds.attrs["format_version"] == 1
            else ["[0.1, 0.01]"] * 2 + ["[0.05]"] * 2)   # format 2 writes lists as YAML
    assert ds["measure_eps"].values.tolist() == want
    assert ds["train_steps"].values.tolist() == [200, 400, 200, 400]
    lr = ds["lr"].values
    assert np.isnan(lr[:2, :, :, 1]).all() and np.isnan(lr[2:, :, :, [0, 2]]).all()
    assert np.isfinite(lr[2:, :, :, 1]).all()
    with h5py.File(mixed, "r") as f:
        E = int(f.attrs["n_eps"])
        counts = f["lr/counts"][()]
        steps = f["runs/steps"][()]
        # Version 1: the NumPy count is column n_eps whatever the run's ladder
        # length; the run with one eps has -1 padding in column 1.
        assert (counts[2, :, :, :, 1] == -1).all()
        assert np.array_equal(ds["counts_numpy"].values, counts[..., E].astype(float))
    assert np.array_equal(ds["step"].values, steps)
    assert ds["lr_numpy"].notnull().all()
    with pytest.raises(ra.ArchiveError, match="not in the archive's ladder"):
        ra.lr_at(ds, 0.001)
    t = ra.fall_step(ra.lr_at(ds, 0.05, layer=2), 0.5)
    assert np.isnan(t.loc[0, "peak"]) and np.isfinite(t.loc[2, "peak"])


def test_partial_archive_of_a_slice(work):
    out = os.path.join(str(work), "slice.h5")
    sweep(job(work, "small", SMALL), out, nranks=2, extra=("--slice", "1/2"))
    ds = ra.load(out)
    done = ds["done"].values
    assert 0 < done.sum() < 4
    assert ds["lr"].isel(run=np.flatnonzero(~done)).isnull().all()
    assert ds["train_loss"].isel(run=np.flatnonzero(~done)).isnull().all()
    assert ds["lr"].isel(run=np.flatnonzero(done)).notnull().all()
    df = ra.runs(out)
    assert (df.loc[~df["done"], "measured"] == 0).all() and (df.loc[~df["done"], "last_step"] == -1).all()
    g = ra.group_stats(ra.lr_at(ds, 0.01))
    # per group, every cell counts exactly the group's finished runs
    for i, runs in enumerate(ra.seed_groups(ds).values()):
        assert (g["n"].isel(group=i).values == int(done[runs].sum())).all(), (runs, done)


def test_read_while_a_sweep_writes(work):
    """load() during a sweep: never blocked by the writer's lock, and every
    value it returns is either NaN (unwritten) or final."""
    # seconds of training even on a fast, idle machine, so loads land mid-sweep
    text = SMALL.replace("steps: 400", "steps: 300000").replace("name: small-analysis", "name: live")
    out = os.path.join(str(work), "live.h5")
    proc = subprocess.Popen([MPIRUN, "-np", "3", RS, "run", job(work, "live", text), "-o", out, "--quiet"],
                            stdin=subprocess.DEVNULL,
                            env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    snaps = []
    try:
        t0 = time.monotonic()
        while proc.poll() is None and time.monotonic() - t0 < 600:
            if os.path.exists(out):
                try:
                    snaps.append(ra.load(out))
                except ra.ArchiveError as e:  # before the structure is complete
                    assert "structure incomplete" in str(e) or "cannot open" in str(e) or "not a ranksweep" in str(e)
            time.sleep(0.3)
        assert proc.wait(timeout=600) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    final = ra.load(out)
    assert final.attrs["complete"] == 1
    assert len(snaps) >= 1, "no load succeeded while the sweep ran"
    for s in snaps:
        a, b = s["lr"].values, final["lr"].values
        ok = ~np.isnan(a)
        assert np.array_equal(a[ok], b[ok])
    print(f"{len(snaps)} loads during the sweep; measured fraction seen: "
          f"{[round(float(s['lr'].notnull().mean()), 2) for s in snaps][:10]}")


def _make_v2(src, dst):
    """A real archive given the version-2 additions of docs/archive.md, with
    values that differ from what the version-1 path would give, so the test
    sees which path the reader took."""
    shutil.copyfile(src, dst)
    with h5py.File(dst, "r+") as f:
        f.attrs["format_version"] = np.int64(2)
        R = int(f.attrs["n_runs"])
        g = f.create_group("runs/grid")
        g["train.weight_decay"] = np.array([0.0123456789, 0.0123456789, 0.1, 0.1])
        g["train.weight_decay"].attrs["key"] = "train.weight_decay"
        g["seed"] = np.array([0, 1, 0, 1], np.int64)
        g["run"] = np.arange(R, dtype=np.int64)     # each group holds its own scales
        g["run"].make_scale("run")
        g["seed"].dims[0].attach_scale(g["run"])
        cfgs = []
        for r in range(R):
            cfgs.append(f"name: v2\nseed: {r % 2}\ndata.kind: gaussian_mixture\ndata.train_size: 64\n"
                        f"train.batch: 8\nmeasure.noise: [0.1, 0.3, 1]\n")
        f["runs/config"] = np.array([c.encode() for c in cfgs], dtype="S200")
        steps = f["runs/steps"][()]
        f["runs/epochs"] = np.where(steps >= 0, steps * 8 / 64.0, np.nan)
        cnt = f["lr/counts"][()]
        f["lr/counts_numpy"] = np.where(cnt[..., -1] >= 0, 7, -1).astype(np.int32)
        P = f["done/points"].shape[-1]
        f["runs/eval_index"] = np.tile(np.arange(P, dtype=np.int64) * 3, (R, 1))


def test_version_2_layout_as_written(small):
    """When the build writes format 2, its own additions are what load() uses."""
    with h5py.File(small, "r") as f:
        if int(f.attrs.get("format_version", 1)) < 2:
            pytest.skip("this build writes format 1; test_version_2_layout covers format 2")
        cn = f["lr/counts_numpy"][()]
        ei = f["runs/eval_index"][()]
        epochs = f["runs/epochs"][()]
    ds = ra.load(small, points=True)
    assert ds.attrs["format_version"] == 2
    assert np.array_equal(ds["counts_numpy"].values, np.where(cn >= 0, cn, np.nan))
    assert np.array_equal(ds["eval_index"].values, ei)
    assert np.allclose(ds["epoch"].values, epochs[0]) and ra.configs(small)[0]["train.batch"] == 16
    assert ds["weight_decay"].values.tolist() == [0.01, 0.01, 0.1, 0.1]


def test_version_2_layout(small, work):
    """The format-2 paths (docs/archive.md) take precedence over the
    version-1 ones: checked on a format-1 archive given them by hand."""
    with h5py.File(small, "r") as f:
        if int(f.attrs.get("format_version", 1)) >= 2:
            pytest.skip("this build writes format 2 itself (test_version_2_layout_as_written)")
    v2 = os.path.join(str(work), "v2.h5")
    _make_v2(small, v2)
    ds = ra.load(v2, points=True)
    assert ds.attrs["format_version"] == 2
    assert ds["weight_decay"].values[0] == 0.0123456789            # full precision from /runs/grid
    assert (ds["lr_numpy"].values == 7).all()                     # from /lr/counts_numpy
    assert np.allclose(ds["epoch"].values, ds["step"].values * 8 / 64)  # from /runs/epochs
    assert ds["eval_index"].values[0, :3].tolist() == [0, 3, 6]
    assert ds.attrs["grid_keys"] == ["seed", "train.weight_decay"]  # the scale is not a grid key
    assert ra.configs(v2)[1]["train.batch"] == 8
    v1 = ra.load(small)
    assert np.array_equal(ds["lr"].values, v1["lr"].values)


def test_refusals(small, work):
    bad = os.path.join(str(work), "foreign.h5")
    with h5py.File(bad, "w") as f:
        f["x"] = [1]
    with pytest.raises(ra.ArchiveError, match="not a ranksweep archive"):
        ra.load(bad)
    with pytest.raises(ra.ArchiveError, match="no such file"):
        ra.load(os.path.join(str(work), "absent.h5"))
    v9 = os.path.join(str(work), "v9.h5")
    shutil.copyfile(small, v9)
    with h5py.File(v9, "r+") as f:
        f.attrs["format_version"] = np.int64(9)
    with pytest.raises(ra.ArchiveError, match="format_version 9 is not supported"):
        ra.load(v9)
    inc = os.path.join(str(work), "incomplete.h5")
    shutil.copyfile(small, inc)
    with h5py.File(inc, "r+") as f:
        del f.attrs["structure_complete"]
    with pytest.raises(ra.ArchiveError, match="structure incomplete"):
        ra.load(inc)
