#!/usr/bin/python3
"""Writes the synthetic sweep with 2 ranks, then reads the archive back with
Debian's h5py only (no ranksweep code): every dataset is readable, every
value is what the writer put there, padding holds the fill values, the
strings/attributes/job text are right, and the means come from the counts.
Usage: test_h5py.py MPIRUN ARCHIVE_WRITER"""
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import synth_ref as S  # noqa: E402

failures = []


def fail(msg):
    failures.append(msg)


def check(cond, msg):
    if not cond:
        fail(msg)


def main(mpirun, writer):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "a.h5")
        subprocess.run([mpirun, "-np", "2", writer, "full", path], check=True, timeout=120)
        with h5py.File(path, "r") as f:
            names = []
            f.visititems(lambda n, o: names.append(n) if isinstance(o, h5py.Dataset) else None)
            for n in names:
                f[n][()]  # every dataset reads
            print(f"read {len(names)} datasets")
            for n in ["lr/mean", "lr/counts", "lr/spectra", "lr/effrank", "lr/stablerank",
                      "metrics/train_loss", "metrics/train_acc", "metrics/heldout_loss", "metrics/heldout_acc",
                      "metrics/rate", "metrics/info_y", "metrics/weight_fro", "metrics/weight_spec",
                      "metrics/weight_rank", "runs/name", "runs/steps", "runs/nckpt", "runs/nlayers",
                      "runs/widths", "runs/npoints", "runs/nparams", "runs/diverged", "runs/last_step",
                      "runs/params/train.lr", "runs/values/train.lr", "weights/final", "weights/all",
                      "state/blob", "state/header", "done/points", "done/metrics", "done/runs", "job/text"]:
                check(n in f, f"missing /{n}")
            A = f.attrs
            # format 2: string attributes are UTF-8 variable length (h5py gives str)
            check(A["format"] == "ranksweep-archive" and A["format_version"] == 2, "format attribute")
            check(A["complete"] == 1 and A["structure_complete"] == 1, "complete flags")
            text = f["job/text"][()]
            check(hashlib.sha256(text).hexdigest() == A["job_hash"], "job text does not hash to job_hash")
            check(A["job_name"] == "archive-test", "job name")
            check(list(A["eps"]) == [0.1, 0.01], f"eps {A['eps']}")
            dims = {k: int(A[k]) for k in ["n_runs", "n_ckpt", "n_layers", "n_points", "n_eps", "n_spectrum",
                                           "n_weights", "n_params", "n_state"]}
            check(dims == {"n_runs": 3, "n_ckpt": 5, "n_layers": 3, "n_points": 10, "n_eps": 2, "n_spectrum": 6,
                           "n_weights": 4, "n_params": 23, "n_state": 42}, f"dims {dims}")
            check("shard_size" not in A and "n_shards" not in A, "shard size is not part of the structure")
            check(list(f["runs/name"][()]) == [b"lr=0.001", b"lr=0.01", b"lr=0.1"], f"names {f['runs/name'][()]}")
            check(list(f["runs/params/train.lr"][()]) == [b"0.001", b"0.01", b"0.1"], "params text")
            check(list(f["runs/values/train.lr"][()]) == [0.001, 0.01, 0.1], "params values")
            prov = f["provenance"].attrs
            for k in ["ranksweep_version", "git_commit", "mpi_library", "hdf5_version", "openblas_config",
                      "nranks", "blas_threads", "shard_size", "hostname", "start_time", "end_time"]:
                check(k in prov, f"provenance lacks {k}")
            check(prov["nranks"] == 2, "provenance nranks")
            check(isinstance(prov["end_time"], str) and len(prov["end_time"]) == 20, f"end_time {prov['end_time']}")

            mean = f["lr/mean"][()]
            counts = f["lr/counts"][()]
            E = dims["n_eps"]
            for r in range(S.RUNS):
                C, L, P = S.NCKPT[r], S.NLAYERS[r], S.NPOINTS[r]
                check(list(f["runs/steps"][r]) == S.steps(r) + [-1] * (5 - C), f"run {r} steps")
                check(f["runs/nckpt"][r] == C and f["runs/nlayers"][r] == L and f["runs/npoints"][r] == P,
                      f"run {r} shape table")
                check(list(f["runs/widths"][r]) == [S.width(r, l) for l in range(L)] + [-1] * (3 - L), "widths")
                check(f["done/runs"][r] == 1 and f["runs/diverged"][r] == (r == 2) and f["runs/last_step"][r] == 100 + r,
                      f"run {r} done/diverged/last_step")
                check(np.all(f["done/metrics"][r, :C] == 1) and np.all(f["done/metrics"][r, C:] == 0), "metric masks")
                for c in range(C):
                    check(np.all(f["done/points"][r, c, :P] == 1) and np.all(f["done/points"][r, c, P:] == 0),
                          f"point masks {r},{c}")
                    for s in range(S.nshards(r)):
                        S.check_shard(f, r, c, s, fail)
                    check(f["metrics/train_loss"][r, c] == S.metric(r, c, 0), "train_loss")
                    check(f["metrics/heldout_acc"][r, c] == S.metric(r, c, 3), "heldout_acc")
                    check(np.isnan(f["metrics/rate"][r, c]), "rate NaN")
                    check(f["metrics/weight_rank"][r, c, 0, 1] == r + c + 1, "weight_rank")
                # padding holds fills; means come from the counts
                check(np.all(counts[r, C:] == -1) and np.all(counts[r, :, L:] == -1) and np.all(counts[r, :, :, P:] == -1),
                      f"run {r}: count padding is not -1")
                check(np.all(np.isnan(mean[r, C:])) and np.all(np.isnan(mean[r, :, L:])), f"run {r}: mean padding")
                cm = counts[r, :C, :L, :P, :].astype(np.int64).sum(axis=2) / P
                check(np.array_equal(cm, mean[r, :C, :L, :]), f"run {r}: /lr/mean is not the mean of the counts")
                nw = 20 + 3 * r if r < 2 else 0  # run 2 saves no weights
                check(np.all(f["weights/final"][r, :nw] == [S.param(r, -1, i) for i in range(nw)]),
                      f"run {r}: final weights")
                check(np.all(np.isnan(f["weights/final"][r, nw:])), f"run {r}: weight padding")
                check(f["done/weights_final"][r] == (r < 2), f"run {r}: final weights mask")
                # a finished run's state slots are cleared
                check(np.all(f["state/header"][r] == -1) and not f["state/blob"][r].any(), f"run {r}: state not cleared")
            wall = f["weights/all"][()]
            check(np.all(wall[1, :3, :23] == np.array([[S.param(1, c, i) for i in range(23)] for c in range(3)])),
                  "weights/all of run 1")
            check(np.all(np.isnan(wall[0])) and np.all(f["done/weights_all"][0] == 0), "weights/all of run 0 unset")
            check(E == 2 and np.all(counts[:, :, :, :, E] >= -1), "numpy column")
            # format 2: the NumPy count where padding cannot shift it, split means
            check(np.array_equal(f["lr/counts_numpy"][()], counts[..., E]), "lr/counts_numpy is not the NumPy column")
            check(np.array_equal(f["lr/mean_eps"][()], mean[..., :E], equal_nan=True), "lr/mean_eps")
            check(np.array_equal(f["lr/mean_numpy"][()], mean[..., E], equal_nan=True), "lr/mean_numpy")
            # exact grid values, resolved configurations and their hashes
            lr = f["runs/grid/train.lr"]
            check(lr.dtype == np.float64 and list(lr[()]) == [0.001, 0.01, 0.1], f"grid values {lr[()]}")
            check(lr.attrs["key"] == "train.lr" and "description" in lr.attrs, "grid attributes")
            cfg = f["runs/config"].asstr()[()]
            for r, want in enumerate(["0.001", "0.01", "0.1"]):
                check(f"train.lr: {want}\n" in cfg[r] and "train.batch: " in cfg[r] and "seed: 5\n" in cfg[r],
                      f"run {r}: resolved configuration lacks train.lr {want}:\n{cfg[r][:200]}")
            hashes = f["runs/config_hash"].asstr()[()]
            check(len(set(hashes)) == 3 and all(len(h) == 64 for h in hashes), f"config hashes {hashes}")
            check(list(f["runs/seed"][()]) == [5, 5, 5], "seeds")
            batch = int(cfg[0].split("train.batch: ")[1].split("\n")[0])
            for r in range(S.RUNS):
                C = S.NCKPT[r]
                check(np.array_equal(f["runs/epochs"][r, :C], np.array(S.steps(r)) * batch / 64), f"run {r} epochs")
            check(np.all(f["runs/eval_index"][()] == -1), "eval_index unknown to the writer: -1")
            check(np.all(f["runs/data_sha256"].asstr()[()] == ""), "synthetic data: no checksums")
        # compare_archives.py: provenance ignored, one flipped bit anywhere else found
        compare = os.path.join(HERE, "..", "e2e", "compare_archives.py")

        def compare_after(edit):
            b = os.path.join(tmp, "b.h5")
            shutil.copyfile(path, b)
            with h5py.File(b, "r+") as g:
                edit(g)
            return subprocess.run(["/usr/bin/python3", compare, path, b], stdout=subprocess.PIPE, text=True)

        def nan_payload(g):
            x = g["lr/effrank"][0, 0]
            v = x.view(np.uint64)
            v[-1, -1] ^= np.uint64(1)  # a NaN with another payload (padding cell) is a difference too
            g["lr/effrank"][0, 0] = v.view(np.float64)

        def set_attr(obj, k, v):
            obj.attrs[k] = v

        cases = [("provenance only", lambda g: set_attr(g["provenance"], "hostname", "elsewhere"), 0),
                 ("one count", lambda g: g["lr/counts"].__setitem__((2, 1, 0, 3, 0), 99), 1),
                 ("NaN payload", nan_payload, 1),
                 ("root attribute", lambda g: set_attr(g, "job_name", "other"), 1),
                 ("dataset attribute", lambda g: set_attr(g["lr/mean"], "note", 1), 1),
                 ("extra dataset", lambda g: g.create_dataset("lr/extra", data=[1]), 1)]
        for what, edit, want in cases:
            res = compare_after(edit)
            check(res.returncode == want, f"compare_archives on {what}: exit {res.returncode}, want {want}\n{res.stdout}")
        # the h5py example of docs/archive.md runs as documented
        doc = os.path.join(HERE, "..", "..", "docs", "archive.md")
        lines, inside = [], False
        for line in open(doc):
            if line.strip() == "```python":
                inside = True
            elif inside and line.strip() == "```":
                break
            elif inside:
                lines.append(line)
        check(len(lines) > 10, "docs/archive.md has no python example")
        ex = os.path.join(tmp, "example.py")
        open(ex, "w").write("".join(lines))
        out = subprocess.run(["/usr/bin/python3", ex, path], stdout=subprocess.PIPE, text=True)
        print(out.stdout, end="")
        check(out.returncode == 0 and "complete True" in out.stdout, "the docs example failed")
    for m in failures[:20]:
        print("FAIL:", m)
    print(f"{'FAILED' if failures else 'ok'}: {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
