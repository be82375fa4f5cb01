"""Fixtures of the analysis tests: small archives written by the real
ranksweep under mpirun (never synthetic HDF5 files, except where a test
edits a real archive to build a layout the build does not write yet).
The build root comes from RANKSWEEP_BUILD_ROOT (set by meson test), else
./build; a missing binary is an error, not a skip."""
import os
import subprocess
import sys
import time

import pytest

ROOT = os.environ.get("RANKSWEEP_SOURCE_ROOT") or os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.environ.get("RANKSWEEP_BUILD_ROOT") or os.path.join(ROOT, "build")
RS = os.path.join(BUILD, "src", "cli", "ranksweep")
# The launcher of the MPI the build links (tests/meson.build sets it).
MPIRUN = os.environ.get("RANKSWEEP_MPIRUN", "mpirun")
sys.path.insert(0, os.path.join(ROOT, "analysis"))

ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1", HDF5_USE_FILE_LOCKING="FALSE",
           PYTHONPATH=os.path.join(ROOT, "analysis"))

# A small MLP sweep: 2 weight decays x 2 seeds, three layers, two eps.
SMALL = """name: small-analysis
data:
  kind: gaussian_mixture
  dim: 8
  classes: 3
  train_size: 64
  heldout_size: 64
model:
  widths: [8, 8, 8]
train:
  lr: 3.0e-3
  batch: 16
  steps: 400
  state_every: 0
measure:
  log_points: 8
  points: 16
  eps: [0.1, 0.01]
  save_weights: none
grid:
  train.weight_decay: [0.01, 0.1]
  seed: [0, 1]
"""


def job(tmp, name, text):
    p = os.path.join(str(tmp), name + ".yaml")
    with open(p, "w") as f:
        f.write(text)
    return p


def sweep(job_path, out, nranks=3, extra=(), timeout=1800):
    """Runs the real CLI on nranks MPI ranks; returns the wall time."""
    if not os.access(RS, os.X_OK):
        raise RuntimeError(f"{RS} is not built (set RANKSWEEP_BUILD_ROOT)")
    t0 = time.monotonic()
    res = subprocess.run([MPIRUN, "-np", str(nranks), RS, "run", job_path, "-o", out, "--quiet", *extra],
                         stdin=subprocess.DEVNULL,
                         env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout,
                         cwd=ROOT)
    if res.returncode != 0:
        raise RuntimeError(f"sweep of {job_path} failed ({res.returncode}):\n{res.stdout[-3000:]}")
    return time.monotonic() - t0


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("analysis")


@pytest.fixture(scope="session")
def small(work):
    out = os.path.join(str(work), "small.h5")
    sweep(job(work, "small", SMALL), out)
    return out


def timed_archive(work, job_path, name):
    out = os.path.join(str(work), name + ".h5")
    secs = sweep(job_path, out)
    print(f"\n{name}: {job_path} on 3 ranks in {secs:.1f} s", file=sys.stderr)
    with open(os.path.join(str(work), "times.txt"), "a") as f:
        f.write(f"{name} {secs:.1f}\n")
    return out


@pytest.fixture(scope="session")
def twin_gaussian(work):
    return timed_archive(work, os.path.join(ROOT, "jobs", "twin-gaussian.yaml"), "twin-gaussian")


@pytest.fixture(scope="session")
def gaussian_ib(work):
    # The job of tests/e2e/gaussian_ib.sh, read here through the package.
    return timed_archive(work, os.path.join(ROOT, "jobs", "gaussian-ib.yaml"), "gaussian-ib")
