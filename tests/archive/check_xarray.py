#!/usr/bin/python3
"""Opens every group of a ranksweep archive with xarray (engine h5netcdf, no
phony dimensions) and checks that it describes itself: every variable has a
description, no variable repeats a dimension, the rank columns (threshold)
and the eps ladder (eps) are different dimensions, and coordinates hold what
the run tables say. Usage: check_xarray.py ARCHIVE.h5 | --write MPIRUN ARCHIVE_WRITER
(--write: makes the synthetic archive of synth.h with 3 ranks first).
Exit 0: all good."""
import os
import subprocess
import tempfile
import sys

import h5py
import numpy as np
import xarray as xr


def main(path):
    problems = []
    groups = ["/"]
    with h5py.File(path, "r") as f:
        f.visit(lambda n: groups.append(n) if isinstance(f[n], h5py.Group) else None)
        fmt = f.attrs["format_version"]
        E = int(f.attrs["n_eps"])
    if fmt < 2:
        print(f"{path}: format {fmt} has no dimension scales")
        return 1
    nvars = 0
    for g in groups:
        ds = xr.open_dataset(path, engine="h5netcdf", group=g)  # raises on a missing scale
        for name, v in ds.variables.items():
            nvars += 1
            if any(d.startswith("phony_dim") for d in v.dims):
                problems.append(f"{g}/{name}: phony dimension {v.dims}")
            if len(set(v.dims)) != len(v.dims):
                problems.append(f"{g}/{name}: repeated dimension {v.dims}")
            if "description" not in v.attrs and name not in ("text",):
                problems.append(f"{g}/{name}: no description")
            if v.dtype == object and v.size and not isinstance(v.values.flat[0], str):
                problems.append(f"{g}/{name}: strings come back as {type(v.values.flat[0])}")
        if g == "lr":
            if ds.counts.dims[-1] != "threshold" or ds.mean_eps.dims[-1] != "eps":
                problems.append(f"lr: rank columns {ds.counts.dims}, ladder {ds.mean_eps.dims}")
            if ds.sizes["threshold"] != E + 1 or ds.sizes["eps"] != E:
                problems.append(f"lr: sizes {dict(ds.sizes)}")
            if not np.array_equal(ds.counts_numpy.values, ds.counts.values[..., E]):
                problems.append("lr: counts_numpy is not the last rank column")
        if g == "spectrum":
            if ds.sv.dims != ("run", "checkpoint", "layer", "repr_sv_index"):
                problems.append(f"spectrum: sv dims {ds.sv.dims}")
            if int(ds.done.sum()) == 0:
                problems.append("spectrum: nothing computed")
        if g == "runs":
            if list(ds.layer.values) != list(range(1, ds.sizes["layer"] + 1)):
                problems.append(f"runs: layer coordinate {ds.layer.values}")
            if not all(len(h) == 64 for h in ds.config_hash.values):
                problems.append("runs: config_hash is not 64 hex digits")
            if ds.steps.attrs.get("units") != "steps" or ds.epochs.attrs.get("units") != "epochs":
                problems.append("runs: steps/epochs units")
        ds.close()
    for p in problems[:20]:
        print("FAIL:", p)
    print(f"{path}: {len(groups)} groups, {nvars} variables opened in xarray; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--write":
        with tempfile.TemporaryDirectory() as tmp:
            a = os.path.join(tmp, "a.h5")
            subprocess.run([sys.argv[2], "-np", "3", sys.argv[3], "full", a], check=True, timeout=120)
            sys.exit(main(a))
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
