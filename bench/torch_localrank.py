#!/usr/bin/python3
"""PyTorch side of the local-rank benchmark: reads a network, its points and
ranksweep's counts exported by `bench_localrank --export DIR`, computes every
hidden pre-activation Jacobian with functorch.vmap(functorch.jacfwd(...)) and
torch.linalg.svdvals in float64, times that, and compares the counts (eps
ladder + NumPy tolerance) with ranksweep's.
usage: torch_localrank.py DIR [--threads N] [--reps R]"""
import argparse
import os
import sys

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before torch loads OpenBLAS
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "torch"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lr_manifest import read_export, torch_counts, torch_localrank  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--reps", type=int, default=1)
    a = ap.parse_args()
    exp = read_export(a.dir)
    times, cpus = [], []
    for _ in range(a.reps):
        jacs, svals, t = torch_localrank(exp, threads=a.threads)
        times.append(t)
        cpus.append(torch_localrank.last_cpu)
    tc = torch_counts(jacs, svals, exp["eps"])
    L = exp["nmeasure"]
    ndiff = sum(int((exp["counts"][l] != tc[l]).sum()) for l in range(L))
    worst = max(float((np.abs(exp["spectra"][l] - svals[l].numpy()) /
                       np.maximum(svals[l].numpy()[:, :1], 1e-300)).max()) for l in range(L))
    print(f"torch {torch.__version__} threads {torch.get_num_threads()} "
          f"OPENBLAS_NUM_THREADS {os.environ.get('OPENBLAS_NUM_THREADS')} "
          f"OPENBLAS_CORETYPE {os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"torch_time_s {sorted(times)[len(times) // 2]:.4f}")
    print(f"torch_cpu_s {sorted(cpus)[len(cpus) // 2]:.4f}")
    for l in range(L):
        m = tc[l].mean(0)
        print(f"layer {l + 1} mean counts " + " ".join(f"{v:.4f}" for v in m))
    print(f"counts_differing {ndiff}")
    print(f"max_rel_spectrum_difference {worst:.3e}")
    return 0 if ndiff == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
