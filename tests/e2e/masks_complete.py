#!/usr/bin/python3
"""Every written-mask cell of a complete archive is set, checked from the
archive alone (Debian's h5py, no ranksweep code, no reference archive): a
mask the code never sets would pass any comparison with an archive the same
code wrote.
- the archive says it is complete;
- within each run's own extent (its checkpoints, its points): done/runs,
  done/metrics and done/points are all 1; done/weights_final is 1 for runs
  saving final weights, done/weights_all for every checkpoint of runs saving
  all; the runs/last_step of every run is its last checkpoint's step;
- outside a run's extent (padding of shorter runs) every mask cell is 0.
Usage: masks_complete.py ARCHIVE.h5"""
import sys

import h5py
import numpy as np


def main(path):
    bad = []
    with h5py.File(path, "r") as f:
        if not bool(f.attrs["complete"]):
            bad.append("archive not marked complete")
        d = f["done"]
        runs, metrics, points = d["runs"][()], d["metrics"][()], d["points"][()]
        # (the weight masks exist only when some run saves those weights)
        wfinal = d["weights_final"][()] if "weights_final" in d else None
        wall = d["weights_all"][()] if "weights_all" in d else None
        save = f["runs/save_weights"][()]
        R = len(runs)
        for r in range(R):
            C, P = int(f["runs/nckpt"][r]), int(f["runs/npoints"][r])
            if runs[r] != 1:
                bad.append(f"run {r}: done/runs unset")
            if not np.all(metrics[r, :C] == 1):
                bad.append(f"run {r}: done/metrics unset at checkpoints {np.flatnonzero(metrics[r, :C] != 1).tolist()}")
            miss = np.argwhere(points[r, :C, :P] != 1)
            if len(miss):
                bad.append(f"run {r}: {len(miss)} done/points cells unset, first (ckpt, point) {miss[0].tolist()}")
            if np.any(metrics[r, C:]) or np.any(points[r, C:]) or np.any(points[r, :, P:]):
                bad.append(f"run {r}: mask cells set outside the run's extent")
            if save[r] == 1 and (wfinal is None or wfinal[r] != 1):
                bad.append(f"run {r}: saves final weights but done/weights_final is unset")
            if save[r] == 2 and (wall is None or not np.all(wall[r, :C] == 1)):
                bad.append(f"run {r}: saves all weights but done/weights_all is unset")
            if f["runs/last_step"][r] != f["runs/steps"][r, C - 1]:
                bad.append(f"run {r}: last_step {f['runs/last_step'][r]} is not its last checkpoint's step")
    for b in bad:
        print("FAIL:", b)
    print(f"{path}: every written mask checked, {len(bad)} problems")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
