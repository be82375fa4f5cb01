"""End-to-end test of `ranksweep ib` (through its driver): the worked example
of docs/theory.md read back from the printed table and CSV, and bad
arguments that must give one error line and exit code 2."""
import csv
import io
import math
import os
import subprocess
import sys
import tempfile

exe = sys.argv[1]
failures = 0


def check(cond, what):
    global failures
    if not cond:
        failures += 1
        print("FAIL:", what)
    else:
        print("ok:", what)


def run(*args):
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60)


# Worked example: table rows (4 decimals as printed in docs/theory.md).
ref = {1.1: (0, 0.0, 0.0), 1.5: (1, 0.3784, 0.2811), 3.0: (2, 1.3981, 0.7616),
       5.0: (3, 2.2351, 0.9762), 20.0: (4, 4.8878, 1.2554), 100.0: (4, 8.1891, 1.3379)}
args = ["--rho", "0.3,0.9,0.5,0.7"]
for b in ref:
    args += ["--beta", repr(b)]
r = run(*args)
check(r.returncode == 0 and r.stderr == "", "worked example runs cleanly")
lines = r.stdout.splitlines()
check("I(X;Y) = 1.358034" in lines[0], "I(X;Y) in the header")
crit = [l.split() for l in lines[2:6]]
check([round(float(c[3]), 3) for c in crit] == [1.235, 2.041, 4.0, 11.111], "critical beta")
check([round(float(c[4]), 4) for c in crit] == [0.81, 0.49, 0.25, 0.09], "critical beta_vib")
rows = [l.split() for l in lines[7:]]
check(len(rows) == len(ref), "one row per --beta")
# Tolerance: the reference is rounded to 4 decimals and the CLI prints 6.
for row in rows:
    b = float(row[0])
    rank, itx, ity = ref[b]
    check(int(row[2]) == rank and abs(float(row[3]) - itx) < 5.1e-5
          and abs(float(row[4]) - ity) < 5.1e-5 and abs(float(row[1]) - 1 / b) < 1e-5,
          "row beta=%g" % b)

# --beta-vib is the same point in the other convention.
a = run("--rho", "0.9,0.7,0.5,0.3", "--beta", "4").stdout.splitlines()[-1].split()
v = run("--rho", "0.9,0.7,0.5,0.3", "--beta-vib", "0.25").stdout.splitlines()[-1].split()
check(a == v, "--beta-vib 0.25 equals --beta 4")

# CSV curve: comment lines, then a monotone curve whose rank steps at 1/rho^2.
r = run("--rho", "0.9,0.7,0.5,0.3", "--curve", "--beta-min", "1", "--beta-max", "1000",
        "--points", "400")
check(r.returncode == 0, "curve runs")
body = [l for l in r.stdout.splitlines() if not l.startswith("#")]
pts = list(csv.DictReader(io.StringIO("\n".join(body))))
check(len(pts) == 400, "400 curve points")
check(abs(float(pts[0]["beta"]) - 1) < 1e-12 and abs(float(pts[-1]["beta"]) - 1000) < 1e-9,
      "grid end points")
mono = all(float(q["I_TX"]) >= float(p["I_TX"]) and float(q["I_TY"]) >= float(p["I_TY"])
           and int(q["rank"]) >= int(p["rank"]) for p, q in zip(pts, pts[1:]))
check(mono, "curve monotone")
steps = [float(q["beta"]) for p, q in zip(pts, pts[1:]) if q["rank"] != p["rank"]]
check(len(steps) == 4 and all(s > 1 / r0**2 and s / 1.02 < 1 / r0**2
                              for s, r0 in zip(steps, [0.9, 0.7, 0.5, 0.3])),
      "rank steps just after 1/rho^2: %s" % steps)

# --job: rho from a job's data section, the same numbers as --rho; a VIB job's
# train.beta values become table rows (beta = 1/beta_vib).
with tempfile.TemporaryDirectory() as tmp:
    def job(name, text):
        path = os.path.join(tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path
    base = ("name: ib-test\ndata:\n  kind: gaussian_ib\n  dim: 8\n"
            "  rho: [0.3, 0.9, 0.5, 0.7]\n")
    j = job("ib.yaml", base + "grid:\n  seed: [0, 1]\n")
    a = run("--job", j, "--beta", "3", "--beta", "20")
    b = run("--rho", "0.9,0.7,0.5,0.3", "--beta", "3", "--beta", "20")
    check(a.returncode == 0 and a.stdout == b.stdout, "--job gives the same as --rho")
    j = job("vib.yaml", base + "model:\n  kind: vib\ngrid:\n  seed: [0, 1]\n  train.beta: [0.6, 0.3, 0.01]\n")
    r = run("--job", j)
    rows = [l.split() for l in r.stdout.splitlines()[7:]]
    check(r.returncode == 0 and [float(x[1]) for x in rows] == [0.6, 0.3, 0.01]
          and [int(x[2]) for x in rows] == [1, 2, 4],
          "VIB job: one row per distinct train.beta, ranks 1, 2, 4: %s" % rows)
    j = job("mix.yaml", "name: mix\ndata:\n  kind: gaussian_mixture\n")
    r = run("--job", j)
    # a bad job file exits 1, as it does from plan (one exit-code mapping)
    check(r.returncode == 1 and "gaussian_ib" in r.stderr and len(r.stderr.splitlines()) == 1,
          "non-IB job refused: %r" % r.stderr.strip())
    j = job("typo.yaml", base + "  rhoo: [0.5]\n")
    r = run("--job", j)
    check(r.returncode == 1 and "rhoo" in r.stderr and len(r.stderr.splitlines()) == 1,
          "job with an unknown key refused: %r" % r.stderr.strip())
    r = run("--job", os.path.join(tmp, "missing.yaml"))
    check(r.returncode == 1 and len(r.stderr.splitlines()) == 1,
          "missing job file: %r" % r.stderr.strip())

# Bad arguments: exit 2, one line on stderr, nothing on stdout.
bad = [[], ["--rho"], ["--rho", "0.9,1.0"], ["--rho", "0.9,,0.5"], ["--rho", "abc"],
       ["--rho", "0.5", "--beta", "0"], ["--rho", "0.5", "--beta", "x"],
       ["--rho", "0.5", "--frobnicate"], ["--rho", "0.5", "--points", "10"],
       ["--rho", "0.5", "--curve", "--beta-min", "5", "--beta-max", "2"],
       ["--rho", "0.5", "--job", "x.yaml"], ["--rho", "0.5", "--rho", "0.6"]]
for b in bad:
    r = run(*b)
    check(r.returncode == 2 and r.stdout == "" and len(r.stderr.splitlines()) == 1
          and r.stderr.startswith("ranksweep: error: "), "bad %s -> %r" % (b, r.stderr.strip()))

print("%d failure(s)" % failures)
sys.exit(1 if failures else 0)
