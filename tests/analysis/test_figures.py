"""The figure modules, the wrappers and reproduce.sh on small archives of
the real ranksweep: PNG and CSV written, the CSV holds the package's numbers,
panel grids wrap for many groups, and an eps, data kind or proxy the archive
lacks is an error (one line, exit 1, no figure)."""
import os
import subprocess
import sys

import h5py
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

import ranksweep_analysis as ra
from conftest import ENV, ROOT, job, sweep
from ranksweep_analysis.plots import info, layout, localrank, vib

PY = "/usr/bin/python3"

# A VIB beta sweep on Gaussian-mixture data (not gaussian_ib), named like the
# MNIST VIB job so that reproduce.sh recognises it.
VIB = """name: vib-mnist
data:
  kind: gaussian_mixture
  dim: 6
  classes: 3
  train_size: 60
  heldout_size: 60
model:
  kind: vib
  widths: [6]
  latent: 3
  eval_samples: 2
train:
  optimizer: adam
  lr: 1.0e-2
  batch: 20
  steps: 200
  state_every: 0
measure:
  log_points: 5
  points: 8
  eps: [0.1, 0.01]
  save_weights: none
grid:
  train.beta: [0.001, 0.01, 0.1]
  seed: [0, 1]
"""

# 30 groups of one seed each (legibility of the panel grid).
MANY = """name: twin-many
data:
  kind: gaussian_mixture
  dim: 4
  classes: 2
  train_size: 32
  heldout_size: 32
model:
  widths: [4, 4]
train:
  batch: 16
  steps: 20
  state_every: 0
measure:
  log_points: 4
  points: 4
  eps: [0.1, 0.01]
  save_weights: none
grid:
  train.lr: [%s]
""" % ", ".join(f"{1e-3 * (i + 1):g}" for i in range(30))


@pytest.fixture(scope="module")
def vib_archive(work):
    out = os.path.join(str(work), "vib-mnist.h5")
    sweep(job(work, "vib", VIB), out)
    return out


@pytest.fixture(scope="module")
def many(work):
    out = os.path.join(str(work), "many.h5")
    sweep(job(work, "many", MANY), out)
    return out


def run(*args):
    return subprocess.run([PY, *args], env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=600)


def test_localrank_figure_and_its_csv(small, tmp_path):
    png = tmp_path / "lr.png"
    res = run(os.path.join(ROOT, "analysis", "plot_localrank.py"), small, "-o", str(png), "--eps", "0.01")
    assert res.returncode == 0, res.stderr
    img = mpimg.imread(png)
    assert img.shape[0] > 200 and img.shape[1] > 400
    df = pd.read_csv(tmp_path / "lr.csv")
    assert set(df["group"]) == {"weight_decay=0.01", "weight_decay=0.1"} and set(df["layer"]) == {1, 2, 3}
    # the CSV against the raw datasets read with h5py (not through the package)
    with h5py.File(small, "r") as f:
        mean, wd = f["lr/mean"][()], f["runs/values/train.weight_decay"][()]
        e = int(np.flatnonzero(np.isclose(f["runs/eps"][0], 0.01))[0])
        steps = f["runs/steps"][0]
    for w in (0.01, 0.1):
        runs = np.flatnonzero(np.isclose(wd, w))
        for l in (1, 2, 3):
            want = mean[runs, :, l - 1, e].mean(axis=0)
            got = df[(df["group"] == f"weight_decay={w:g}") & (df["layer"] == l)].sort_values("step")
            assert got["step"].tolist() == steps.tolist()
            assert np.allclose(got["lr_mean"].values, want, rtol=1e-5, atol=0), (w, l)
    assert (df["n_seeds"] == 2).all()


def test_absent_eps_is_an_error(small, tmp_path):
    png = tmp_path / "x.png"
    res = run("-m", "ranksweep_analysis.plots.localrank", small, "-o", str(png), "--eps", "0.05")
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "eps 0.05 is not in the archive's ladder" in res.stderr
    assert not png.exists()


def test_panel_grid_wraps_30_groups(many, tmp_path):
    for n, shape in ((1, (1, 1)), (4, (1, 4)), (7, (2, 5)), (30, (6, 5))):
        fig, slots = layout.grid(n)
        assert len(slots) == n
        assert [a.get_visible() for a in fig.axes].count(True) == n
        rows = {round(a.get_position().y0, 3) for a in fig.axes}
        cols = {round(a.get_position().x0, 3) for a in fig.axes}
        assert (len(rows), len(cols)) == shape
    png = tmp_path / "many.png"
    df = localrank.data(ra.load(many), 0.01)
    assert df["group"].nunique() == 30
    localrank.draw(df, str(png), "a title long enough to need wrapping " * 6)
    h, w = mpimg.imread(png).shape[:2]
    # 6 rows x 5 columns of legible panels, not one row of 30
    assert 0.6 < h / w < 2.0 and w < 3000, (h, w)  # one row of 30 would be ~0.03


def test_vib_figure_without_and_with_theory(vib_archive, tmp_path):
    png = tmp_path / "vib.png"
    res = run(os.path.join(ROOT, "analysis", "plot_vib.py"), vib_archive, "-o", str(png))
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(tmp_path / "vib.csv")
    assert sorted(df["beta_vib"].unique()) == [0.001, 0.01, 0.1] and "theory_rank" not in df
    assert (df["n_seeds"] == 2).all()
    # final local rank and rate per beta against the raw datasets (h5py)
    with h5py.File(vib_archive, "r") as f:
        mean, beta = f["lr/mean"][()], f["runs/values/train.beta"][()]
        rate, nck = f["metrics/rate"][()], f["runs/nckpt"][()]
        e = int(np.flatnonzero(np.isclose(f["runs/eps"][0], 0.01))[0])
        L = mean.shape[2]
    for bv in (0.001, 0.01, 0.1):
        runs = np.flatnonzero(np.isclose(beta, bv))
        row = df[np.isclose(df["beta_vib"], bv) & (df["layer"] == L)].iloc[0]
        assert np.isclose(row["lr_mean"], np.mean([mean[r, nck[r] - 1, L - 1, e] for r in runs]), rtol=1e-5)
        assert np.isclose(row["rate"], np.mean([rate[r, nck[r] - 1] for r in runs]), rtol=1e-5)
    # the Gaussian bottleneck over non-gaussian_ib data: refused
    for cmd in ([os.path.join(ROOT, "analysis", "plot_ib.py"), vib_archive, "-o", str(tmp_path / "ib.png")],
                ["-m", "ranksweep_analysis.plots.vib", vib_archive, "-o", str(tmp_path / "ib.png"), "--theory"]):
        res = run(*cmd)
        assert res.returncode == 1 and "data kind is gaussian_mixture, not gaussian_ib" in res.stderr, res.stderr
        assert not (tmp_path / "ib.png").exists()


def test_vib_figure_needs_a_beta_sweep(small):
    with pytest.raises(ra.ArchiveError, match="train.beta is not a grid axis"):
        vib.data(ra.load(small))


def test_info_figure_and_absent_proxies(vib_archive, small, tmp_path):
    png = tmp_path / "info.png"
    res = run("-m", "ranksweep_analysis.plots.info", vib_archive, "-o", str(png))
    assert res.returncode == 0, res.stderr
    df = pd.read_csv(tmp_path / "info.csv")
    assert (df["proxy"] == "rate").all() and df["group"].nunique() == 3
    # the rate at every checkpoint, mean over seeds, against the raw metrics (h5py)
    with h5py.File(vib_archive, "r") as f:
        rate, beta, steps = f["metrics/rate"][()], f["runs/values/train.beta"][()], f["runs/steps"][0]
    for bv in (0.001, 0.01, 0.1):
        got = df[df["group"] == f"beta={bv:g}"].sort_values("step")
        runs = np.flatnonzero(np.isclose(beta, bv))
        assert got["step"].tolist() == steps.tolist()
        assert np.allclose(got["proxy_mean"].values, rate[runs].mean(axis=0), rtol=1e-5)
    ds = ra.load(vib_archive)
    with pytest.raises(ra.ArchiveError, match="proxy gauss needs /spectrum"):
        info.data(ds, "gauss")
    with pytest.raises(ra.ArchiveError, match="no information proxy"):
        info.data(ra.load(small))


def test_reproduce_draws_every_recognised_archive(small, vib_archive, tmp_path):
    d = tmp_path / "archives"
    d.mkdir()
    os.symlink(vib_archive, d / "vib-mnist.h5")
    os.symlink(small, d / "small.h5")  # job small-analysis: not recognised, skipped
    (d / "junk.h5").write_text("not hdf5")
    out = tmp_path / "figs"
    res = subprocess.run(["bash", os.path.join(ROOT, "analysis", "reproduce.sh"), str(d), str(out)], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)
    assert res.returncode == 0, res.stdout
    made = sorted(os.listdir(out))
    # the VIB-MNIST figures at eps 0.01 and at 0.1 (where the encoder mean falls), and the rate at 0.1
    assert made == ["vib-mnist-info-eps0.1.csv", "vib-mnist-info-eps0.1.png", "vib-mnist-vib-eps0.1.csv",
                    "vib-mnist-vib-eps0.1.png", "vib-mnist-vib.csv", "vib-mnist-vib.png"], made
    assert "skipped" in res.stdout
    res = subprocess.run(["bash", os.path.join(ROOT, "analysis", "reproduce.sh")], env=ENV,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert res.returncode == 2 and "usage" in res.stderr
