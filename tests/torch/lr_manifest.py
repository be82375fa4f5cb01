"""Reader of ranksweep's local-rank export (manifest.txt + raw little-endian
files, docs/numerics.md, "Measurement") and the PyTorch reference computation: Jacobians of
every measured pre-activation by functorch.vmap(functorch.jacfwd(...)) and
their singular values by torch.linalg.svdvals, all in float64."""
import os
import time

import numpy as np


def read_export(d):
    """Returns a dict with the network, the points and ranksweep's results."""
    meta, files = {}, {}
    with open(os.path.join(d, "manifest.txt")) as f:
        for line in f:
            parts = line.split()
            if not parts:
                continue
            if parts[0] == "file":
                name, path, typ, dims = parts[1], parts[2], parts[3], [int(v) for v in parts[4:]]
                dtype = {"f64": "<f8", "i32": "<i4"}[typ]
                a = np.fromfile(os.path.join(d, path), dtype=dtype)
                if a.size != int(np.prod(dims)):
                    raise ValueError(f"{d}/{path}: {a.size} values, manifest says {dims}")
                files[name] = a.reshape(dims)
            else:
                meta[parts[0]] = parts[1:]
    if meta["format"] != ["ranksweep-localrank-export", "1"]:
        raise ValueError(f"{d}/manifest.txt: unknown format {meta['format']}")
    sizes = [int(v) for v in meta["sizes"]]
    nlayers, L = int(meta["nlayers"][0]), int(meta["nmeasure"][0])
    N, neps = int(meta["npoints"][0]), int(meta["neps"][0])
    lens = [min(sizes[l], sizes[0]) for l in range(1, L + 1)]
    spectra, off = [], 0
    if "spectra" in files:
        flat = files["spectra"]
        for ln in lens:
            spectra.append(flat[off:off + N * ln].reshape(N, ln))
            off += N * ln
    return {
        "dir": d, "label": meta.get("label", ["?"])[0], "sizes": sizes, "nlayers": nlayers,
        "nmeasure": L, "activation": meta["activation"][0], "npoints": N,
        "eps": [float(v) for v in meta["eps"]][:neps],
        "W": [files[f"W{l}"] for l in range(1, nlayers + 1)],
        "b": [files[f"b{l}"] for l in range(1, nlayers + 1)],
        "x": files["x"], "counts": files["counts"], "spectra": spectra,
        "effrank": files.get("effrank"), "stablerank": files.get("stablerank"),
    }


def torch_localrank(exp, threads=1):
    """Singular values of J_l(x) for l = 1..nmeasure at every point, and the
    wall time of the Jacobians + svdvals (the part being benchmarked); the
    process CPU time of that part is left in torch_localrank.last_cpu."""
    import torch
    import functorch

    torch.set_num_threads(threads)
    act = {"relu": torch.relu, "tanh": torch.tanh, "identity": lambda t: t,
           "gelu": torch.nn.functional.gelu}[exp["activation"]]
    W = [torch.from_numpy(np.ascontiguousarray(w)) for w in exp["W"]]
    b = [torch.from_numpy(np.ascontiguousarray(v)) for v in exp["b"]]
    L = exp["nmeasure"]

    def pres(x):
        out, h = [], x
        for l in range(L):
            p = W[l] @ h + b[l]
            out.append(p)
            h = act(p)
        return tuple(out)

    x = torch.from_numpy(np.ascontiguousarray(exp["x"]))
    t0, c0 = time.perf_counter(), time.process_time()
    jacs = functorch.vmap(functorch.jacfwd(pres))(x)
    svals = [torch.linalg.svdvals(J) for J in jacs]
    torch_localrank.last_cpu = time.process_time() - c0
    elapsed = time.perf_counter() - t0
    return jacs, svals, elapsed


def torch_counts(jacs, svals, eps):
    """Per layer an (N, neps+1) array: counts above each absolute eps, then the
    NumPy-default relative tolerance (torch.linalg.matrix_rank's default)."""
    import torch

    res = []
    for J, s in zip(jacs, svals):
        m, n = J.shape[-2], J.shape[-1]
        tol = s[:, :1] * max(m, n) * torch.finfo(torch.float64).eps
        cols = [(s > e).sum(1) for e in eps] + [(s > tol).sum(1)]
        res.append(torch.stack(cols, 1).numpy().astype(np.int64))
    return res
