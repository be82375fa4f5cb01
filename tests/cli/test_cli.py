"""The ranksweep command line, end to end on the real binary.

usage: /usr/bin/python3 test_cli.py RANKSWEEP MANPAGE

- every command's help comes from `help CMD`, `CMD --help` and `CMD -h` alike;
- every option listed in a help is accepted (long, short, --opt=value), which
  getopt proves by reaching a trailing --help; an unlisted option is refused;
- the man page lists every command and every option of every help;
- bad numbers for every numeric option are refused: exit 2, one line, nothing on stdout;
- one exit-code mapping: the same bad job file exits 1, with one error line,
  from every command that takes a job file (plan, run, train, ib --job): an
  unknown key, a missing file, and a run that cannot be built (ib --job builds
  no run: it reads data.rho and train.beta only); an out-of-range run or
  checkpoint exits 2 from train, show and spectrum, an existing archive exits
  1, a drained sweep exits 3.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

failures = 0


def check(ok, what):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1


def run(*args, **kw):
    return subprocess.run([RS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=kw.get("timeout", 120), cwd=kw.get("cwd"))


def one_error_line(r, code=2):
    return (r.returncode == code and r.stdout == "" and len(r.stderr.splitlines()) == 1
            and r.stderr.startswith("ranksweep: error: "))


def one_job_error(r, key):
    """Exit 1, nothing on stdout, one error line naming key (a BLAS kernel
    warning, which plan and train may print first, aside)."""
    lines = [l for l in r.stderr.splitlines() if not l.startswith("ranksweep: warning: ")]
    return (r.returncode == 1 and r.stdout == "" and len(lines) == 1
            and lines[0].startswith("ranksweep: error: ") and key in lines[0])


OPT_RE = re.compile(r"^  (?:-(\w), )?\s*--([a-z][a-z-]*)(?: (\S+))?\s{2,}|^  (?:-(\w), )?\s*--([a-z][a-z-]*)(?: (\S+))?$")


def options(help_text):
    """(short, long, metavar) of every option in a help's options section."""
    out, inside = [], False
    for line in help_text.splitlines():
        if line == "options:":
            inside = True
            continue
        if inside and not line.strip():
            break
        m = OPT_RE.match(line) if inside else None
        if m:
            g = m.groups()
            out.append((g[0] or g[3], g[1] or g[4], g[2] or g[5]))
    return out


# A valid value for each metavariable (the option then meets --help, exit 0).
GOOD = {"I": "0", "T": "2", "ARCHIVE.h5": "x.h5", "OLD.h5": "old.h5", "P": "8", "I/N": "1/3",
        "S": "0.5", "SIG": "SIGUSR2", "N": "3", "L": "1", "X": "0.01", "WHICH": "eval",
        "KIND": "pre", "I,J,...": "0,2", "C,D,...": "1", "LIST": "0.9,0.5", "JOB.yaml": "j.yaml",
        "B": "2", "V": "0.5", "Y": "50"}
# Bad values per (command, option); every numeric option also gets NOT_NUMBERS.
NOT_NUMBERS = ["abc", "2abc", "", " 3", "3 ", "0x10", "1e999"]
BAD = {("train", "run"): ["-1", "1000000", "1.5"], ("train", "threads"): ["0", "1025", "+2"],
       ("run", "threads"): ["0", "1025"], ("run", "shard"): ["0", "-4"],
       ("run", "slice"): ["0/2abc", "2/2", "1/0", "a/b", "1/", "/2", "0/2/3", "-1/2", "0/1000001"],
       ("run", "progress-every"): ["0.05", "86401", "nan", "inf", "-2"],
       ("run", "bench-dispatch"): ["0", "1000000001"],
       ("show", "run"): ["-1", "1000000"], ("show", "layer"): ["0", "-1"],
       ("show", "eps"): ["0", "-0.1", "nan", "inf"],
       ("spectrum", "points"): ["0", "-5", "100000001", "trains"],
       ("spectrum", "runs"): ["1,,2", "-1", "1,", ",1", "a"],
       ("spectrum", "checkpoints"): ["x", "1,-2"],
       ("ib", "points"): ["1", "10000001"], ("ib", "beta"): ["0", "-2", "inf", "nan"],
       ("ib", "beta-vib"): ["0", "-1"], ("ib", "beta-min"): ["0"], ("ib", "beta-max"): ["-3"],
       ("ib", "rho"): ["1.0", "0.9,,0.5", "x"]}
NUMERIC = {"I", "T", "P", "S", "N", "L", "X", "B", "V", "Y", "I/N", "I,J,...", "C,D,...", "WHICH"}
# Operands so that a command would otherwise run (a refused value must stop it first).
OPERANDS = {"run": ["-o", "never.h5"], "show": ["never.h5"], "spectrum": ["never.h5"],
            "status": ["never.h5"], "ib": ["--rho", "0.5", "--curve"], "train": [], "plan": [],
            "merge": ["a.h5", "b.h5"], "version": [], "help": []}


def main():
    work = tempfile.mkdtemp(prefix="rs-cli-")
    man = open(MAN).read()

    # ---- the command list ----
    r0 = subprocess.run([RS], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    check(r0.returncode == 2 and "commands:" in r0.stderr, "no command: usage on stderr, exit 2")
    r = run("--help")
    check(r.returncode == 0 and r.stdout == run("help").stdout == run("-h").stdout,
          "--help, -h and help print the same list")
    cmds = re.findall(r"^  ([a-z]+)\s{2,}", r.stdout.split("commands:")[1], re.M)
    check(set(cmds) == {"plan", "train", "run", "status", "show", "merge", "spectrum", "ib",
                        "version", "help"}, "commands listed: %s" % cmds)
    check(one_error_line(run("frobnicate")), "unknown command: one line, exit 2")
    v = run("version")
    check(v.returncode == 0 and v.stdout.startswith("ranksweep ") and run("--version").stdout == v.stdout,
          "--version is version")

    # ---- each command's help, options, man page ----
    nopts = nbad = 0
    for c in cmds:
        h = run("help", c)
        ok = (h.returncode == 0 and h.stderr == "" and h.stdout.startswith("usage: ranksweep " + c)
              and run(c, "--help").stdout == h.stdout and run(c, "-h").stdout == h.stdout)
        check(ok, "%s: help CMD, CMD --help and CMD -h agree" % c)
        check('.SS "ranksweep %s' % c in man, "%s: in the man page" % c)
        opts = options(h.stdout)
        check(("h", "help", None) in opts and len(opts) >= 1, "%s: options parsed from its help (%d)" % (c, len(opts)))
        for short, name, meta in opts:
            if name == "help":
                continue
            nopts += 1
            check(("\\-\\-" + name.replace("-", "\\-")) in man, "%s --%s: in the man page" % (c, name))
            vals = [GOOD[meta]] if meta else []
            r = run(c, "--" + name, *vals, "--help")
            check(r.returncode == 0 and r.stdout == h.stdout, "%s --%s %s: accepted" % (c, name, " ".join(vals)))
            if meta:
                r = run(c, "--%s=%s" % (name, GOOD[meta]), "--help")
                check(r.returncode == 0, "%s --%s=%s: accepted" % (c, name, GOOD[meta]))
            if short:
                r = run(c, "-" + short, *vals, "--help")
                check(r.returncode == 0, "%s -%s: accepted" % (c, short))
            bad = list(BAD.get((c, name), []))
            if meta in NUMERIC:
                bad += NOT_NUMBERS
            for b in bad:
                nbad += 1
                r = run(c, *OPERANDS[c], "--" + name, b, "--help")
                check(one_error_line(r) and ("--" + name) in r.stderr,
                      "%s --%s %r refused: %s" % (c, name, b, r.stderr.strip() or r.returncode))
        r = run(c, "--no-such-option", "--help")
        check(one_error_line(r), "%s: an option not in its help is refused" % c)
    print("%d options accepted, %d bad values refused" % (nopts, nbad))

    # ---- one exit-code mapping, on real files ----
    bad_job = os.path.join(work, "bad.yaml")
    open(bad_job, "w").write("name: x\ndata:\n  kind: gaussian_ib\n  rhoo: [0.5]\n")
    missing = os.path.join(work, "missing.yaml")
    unbuildable = os.path.join(work, "unbuildable.yaml")  # parses; its model does not fit its data
    open(unbuildable, "w").write("name: x\ndata:\n  kind: gaussian_mixture\n"
                                 "model:\n  kind: vib\n  decoder: gaussian\n")
    never = os.path.join(work, "never.h5")
    for job, what, key, cmds in [
            (bad_job, "an unknown key", "rhoo", ["plan", "run", "train", "ib"]),
            (missing, "a missing job file", "missing.yaml", ["plan", "run", "train", "ib"]),
            (unbuildable, "a run that cannot be built", "model.decoder", ["plan", "run", "train"])]:
        rs = {c: run("ib", "--job", job) if c == "ib" else
              run("run", job, "-o", never, "--quiet", timeout=300) if c == "run" else run(c, job)
              for c in cmds}
        check(all(one_job_error(r, key) for r in rs.values()) and not os.path.exists(never),
              "%s: exit 1 and one line from %s (%s)" % (
                  what, ", ".join(cmds), ", ".join("%s %d" % (c, r.returncode) for c, r in rs.items())))
    tiny = os.path.join(work, "tiny.yaml")
    open(tiny, "w").write(
        "name: cli-tiny\ndata:\n  dim: 6\n  classes: 3\n  train_size: 64\n  heldout_size: 16\n"
        "model:\n  widths: [8, 8]\ntrain:\n  steps: 60\n  batch: 16\n"
        "measure:\n  log_points: 4\n  points: 8\n  save_weights: final\n"
        "grid:\n  seed: [0, 1]\n")
    arch = os.path.join(work, "tiny.h5")
    r = run("run", tiny, "-o", arch, "--quiet", timeout=300)
    check(r.returncode == 0 and os.path.exists(arch), "a tiny sweep in one process: exit 0 (%s)" % r.stderr.strip())
    r = run("run", tiny, "-o", arch, "--quiet")
    check(r.returncode == 1 and len(r.stderr.splitlines()) == 1, "an existing archive: exit 1, one line")
    r = run("train", tiny, "--run", "2")
    check(one_error_line(r) and "out of range" in r.stderr, "train --run 2 of 2 runs: exit 2 (%s)" % r.stderr.strip())
    r = run("show", arch, "--run=99")
    check(r.returncode == 2 and "out of range" in r.stderr, "show --run 99: exit 2 (%s)" % r.stderr.strip())
    r = run("spectrum", arch, "--runs", "99", timeout=300)
    check(r.returncode == 2 and "out of range" in r.stderr, "spectrum --runs 99: exit 2 (%s)" % r.stderr.strip())
    r = run("spectrum", arch, "--checkpoints", "99", timeout=300)
    check(r.returncode == 2 and "out of range" in r.stderr, "spectrum --checkpoints 99: exit 2 (%s)" % r.stderr.strip())
    r = run("show", arch, "--ru", "1")
    check(r.returncode == 0 and "cli-tiny" in r.stdout, "show --ru 1 (an abbreviation): exit 0")
    r = run("status", arch, "--json")
    try:
        ok = r.returncode == 0 and json.loads(r.stdout) is not None
    except ValueError:
        ok = False
    check(ok, "status --json prints JSON")
    check(run("status", arch).returncode == 0, "status: exit 0")
    r = run("merge", os.path.join(work, "m.h5"), arch)
    check(r.returncode == 0 and os.path.exists(os.path.join(work, "m.h5")), "merge: exit 0")

    # ---- a drained sweep exits 3 (tests/e2e/resume.sh resumes drained and killed sweeps) ----
    long_job = os.path.join(work, "long.yaml")
    open(long_job, "w").write(
        "name: cli-drain\ndata:\n  dim: 6\n  classes: 3\n  train_size: 64\n  heldout_size: 16\n"
        "model:\n  widths: [16, 16]\ntrain:\n  steps: 3000000\n  batch: 16\n  state_every: 1000\n"
        "measure:\n  log_points: 6\n  points: 4\n")
    arch2 = os.path.join(work, "long.h5")
    p = subprocess.Popen([RS, "run", long_job, "-o", arch2, "--progress-every", "0.2"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    started = False
    while time.time() - t0 < 120:  # wait for the first progress line: training is under way
        line = p.stderr.readline()
        if not line:
            break
        if "steps/s" in line:
            started = True
            break
    p.send_signal(signal.SIGUSR1)
    try:
        rest = p.communicate(timeout=300)[1]
    except subprocess.TimeoutExpired:
        p.kill()
        rest = p.communicate()[1]
    check(started and p.returncode == 3 and "drained" in rest,
          "SIGUSR1: the sweep drains and exits 3 (started %s, exit %s)" % (started, p.returncode))

    shutil.rmtree(work, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    RS, MAN = sys.argv[1], sys.argv[2]
    sys.exit(main())
