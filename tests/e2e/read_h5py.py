#!/usr/bin/python3
"""Reads a complete ranksweep archive with Debian's h5py (no ranksweep code)
and checks what must hold in any correct archive:
- every dataset is readable; the job text hashes to the recorded job_hash;
- every written mask is set and the archive says it is complete;
- every mean local rank lies in [0, min(width, input dim)];
- layer 1's count is the same at every point (J_1 = W_1 everywhere);
- the stored per-point counts reproduce /lr/mean, and the stored spectra
  reproduce the counts at every eps of the ladder (re-thresholding works).
Usage: read_h5py.py ARCHIVE.h5"""
import hashlib
import sys

import h5py
import numpy as np


def main(path):
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)

    nread = 0
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            nonlocal nread
            if isinstance(obj, h5py.Dataset):
                obj[()]
                nread += 1
        f.visititems(visit)
        text = f["job/text"][()]
        text = text.tobytes() if isinstance(text, np.ndarray) else text
        if isinstance(text, str):
            text = text.encode()
        text = text.rstrip(b"\x00")
        check(hashlib.sha256(text).hexdigest() == f.attrs["job_hash"].decode()
              if isinstance(f.attrs["job_hash"], bytes) else hashlib.sha256(text).hexdigest() == f.attrs["job_hash"],
              "job text does not hash to job_hash")
        check(bool(f.attrs["complete"]), "archive not marked complete")
        check(np.all(f["done/runs"][()] == 1), "a run mask is unset")
        eps = np.atleast_1d(f.attrs["eps"])
        R = len(f["runs/name"])
        mean = f["lr/mean"][()]
        counts = f["lr/counts"][()]
        spectra = f["lr/spectra"][()]
        for r in range(R):
            C = int(f["runs/nckpt"][r])
            L = int(f["runs/nlayers"][r])
            P = int(f["runs/npoints"][r])
            widths = f["runs/widths"][r]
            check(np.all(f["done/metrics"][r, :C] == 1), f"run {r}: metrics mask unset")
            cnt = counts[r, :C, :L, :P, :]
            check(np.all(cnt >= 0), f"run {r}: unwritten counts")
            check(np.allclose(cnt.mean(axis=2), mean[r, :C, :L, :]), f"run {r}: counts do not reproduce /lr/mean")
            check(np.all(cnt[:, 0, :, :] == cnt[:, 0, :1, :]), f"run {r}: layer-1 count varies across points")
            for l in range(L):
                lim = min(int(widths[l]), spectra.shape[-1])
                check(np.all(mean[r, :C, l, :] <= lim + 1e-9), f"run {r} layer {l+1}: LR above its bound")
                sv = spectra[r, :C, l, :P, :].astype(np.float64)
                for e, x in enumerate(eps):
                    # float32 storage: only compare where no value sits at the threshold
                    recount = (sv > x).sum(axis=-1)
                    near = (np.abs(sv - x) <= 1e-6 * max(1.0, x)).any(axis=-1)
                    check(np.all((recount == cnt[:, l, :, e]) | near),
                          f"run {r} layer {l+1} eps {x}: spectra do not reproduce the counts")
    for f_ in failures:
        print("FAIL:", f_)
    print(f"read {nread} datasets from {path}: {len(failures)} problems")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
