#!/usr/bin/python3
"""SIGKILL crash test. A 2-rank writer creates the archive and writes its
cells slowly; both ranks are killed with SIGKILL at a random moment. Then:
the file opens (h5py, no ranksweep code), every cell whose mask is set holds
exactly its data, and resuming (reopen, write what the masks say is missing,
finalize) gives an archive identical to an uninterrupted one.
Usage: test_crash.py MPIRUN ARCHIVE_WRITER [TRIALS]"""
import os
import random
import signal
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# Open MPI's --quiet hides its abort banner; MPICH's Hydra has no such option.
QUIET = [] if os.environ.get("RANKSWEEP_MPI") == "mpich" else ["--quiet"]
sys.path.insert(0, HERE)
import synth_ref as S  # noqa: E402

COMPARE = os.path.join(HERE, "..", "e2e", "compare_archives.py")


def check_masked(path):
    """Every masked cell holds its data. Returns (failures, cells masked)."""
    failures = []
    fail = failures.append
    n = 0
    with h5py.File(path, "r") as f:
        pm, mm, rm = f["done/points"][()], f["done/metrics"][()], f["done/runs"][()]
        # a shard's points are marked in one write: all or none
        sm = np.zeros((S.RUNS, 5, 3), bool)
        for r in range(S.RUNS):
            for c in range(S.NCKPT[r]):
                for s in range(S.nshards(r)):
                    blk = pm[r, c, s * S.SHARD:min((s + 1) * S.SHARD, S.NPOINTS[r])]
                    if blk.any() and not blk.all():
                        fail(f"shard {r},{c},{s}: points partly marked {blk}")
                    sm[r, c, s] = blk.all()
        for r in range(S.RUNS):
            for c in range(S.NCKPT[r]):
                for s in range(S.nshards(r)):
                    if sm[r, c, s]:
                        n += 1
                        S.check_shard(f, r, c, s, fail)
                if mm[r, c]:
                    n += 1
                    if f["metrics/train_loss"][r, c] != S.metric(r, c, 0) or \
                            f["metrics/weight_spec"][r, c, 0] != S.metric(r, c, 7):
                        fail(f"metrics {r},{c}")
            if rm[r]:
                n += 1
                nw = 20 + 3 * r if r < 2 else 0  # run 2 saves no weights
                w = f["weights/final"][r, :nw]
                if f["runs/last_step"][r] != 100 + r or not np.array_equal(w, [S.param(r, -1, i) for i in range(nw)]):
                    fail(f"run {r} closing writes")
        # cells without a mask are either untouched (fill) or this cell's data
        counts = f["lr/counts"][()]
        for r in range(S.RUNS):
            for c in range(S.NCKPT[r]):
                for s in range(S.nshards(r)):
                    if not sm[r, c, s]:
                        p0 = s * S.SHARD
                        blk = counts[r, c, :S.NLAYERS[r], p0:min(p0 + S.SHARD, S.NPOINTS[r]), 0]
                        want = np.array([[S.count(r, c, l, p, 0) for p in range(p0, min(p0 + S.SHARD, S.NPOINTS[r]))]
                                         for l in range(S.NLAYERS[r])])
                        if not np.all((blk == -1) | (blk == want)):
                            fail(f"unmasked shard {r},{c},{s} holds foreign data")
    return failures, n


def main(mpirun, writer, trials):
    seed = int(os.environ.get("RS_CRASH_SEED", time.time_ns() % 100000))
    rng = random.Random(seed)
    print(f"seed {seed}")
    bad = 0
    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, "ref.h5")
        subprocess.run([mpirun, "-np", "2", writer, "full", ref], check=True, timeout=120)
        for t in range(trials):
            path = os.path.join(tmp, f"kill{t}.h5")
            pidf = os.path.join(tmp, f"pids{t}")
            proc = subprocess.Popen([mpirun, *QUIET, "-np", "2", writer, "slow", path, pidf], start_new_session=True)
            deadline = time.time() + 60
            pidfiles = [f"{pidf}.{i}" for i in range(2)]
            while not all(os.path.exists(p) and os.path.getsize(p) > 0 for p in pidfiles):
                if time.time() > deadline or proc.poll() is not None:
                    print(f"trial {t}: writer did not start")
                    proc.kill()
                    return 1
                time.sleep(0.005)
            delay = rng.uniform(0.0, 0.2)
            time.sleep(delay)
            for p in pidfiles:
                try:
                    os.kill(int(open(p).read()), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
            failures, n = check_masked(path)
            res = subprocess.run([mpirun, "-np", "2", writer, "resume", path], timeout=120)
            same = subprocess.run(["/usr/bin/python3", COMPARE, ref, path], stdout=subprocess.PIPE, text=True)
            ok = not failures and res.returncode == 0 and same.returncode == 0
            bad += not ok
            print(f"trial {t}: SIGKILL after {delay:.3f} s with {n} cells masked: "
                  f"{len(failures)} bad masked cells, resume rc {res.returncode}, "
                  f"{'identical to uninterrupted' if same.returncode == 0 else 'DIFFERS: ' + same.stdout}")
            for m in failures[:10]:
                print("  FAIL:", m)
        # killed during creation, at each stage: never a usable-looking archive,
        # and resuming starts over and ends identical
        for k in range(1, 5):
            path = os.path.join(tmp, f"create{k}.h5")
            env = dict(os.environ, RANKSWEEP_TEST_KILL_IN_CREATE=str(k))
            r1 = subprocess.run([mpirun, *QUIET, "-np", "2", writer, "full", path], env=env, timeout=120,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                with h5py.File(path, "r") as f:
                    state = "opens, no marker" if "structure_complete" not in f.attrs else "MARKED"
            except OSError:
                state = "does not open"
            res = subprocess.run([mpirun, "-np", "2", writer, "resume", path], timeout=120)
            same = subprocess.run(["/usr/bin/python3", COMPARE, ref, path], stdout=subprocess.PIPE, text=True)
            ok = r1.returncode != 0 and os.path.exists(path) and state != "MARKED" and \
                res.returncode == 0 and same.returncode == 0
            bad += not ok
            trials += 1
            print(f"kill at creation stage {k}: writer rc {r1.returncode}, file {state}, resume rc {res.returncode}, "
                  f"{'identical to uninterrupted' if same.returncode == 0 else 'DIFFERS: ' + same.stdout}")
    print(f"{'FAILED' if bad else 'ok'}: {bad} of {trials} trials failed")
    return 1 if bad else 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) == 4 else 6))
