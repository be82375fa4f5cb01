"""Output paths the archive's files cannot have, and outputs that cannot be
created, on the real binary.

usage: /usr/bin/python3 test_paths.py RANKSWEEP RANKSWEEP_HOOKS JOB.yaml

(RANKSWEEP_HOOKS: the same command with the test-only fault hooks, for the kill)

- `run -o` at lengths around the limit (limit-1 and limit work; limit+1,
  1004 and 4300 characters are refused with one line giving the length and
  the limit, exit 2) and a 255-character file name (File name too long):
  nothing is left behind by a refused path, not even a lock or a mark;
- `-o` in a missing directory, `-o` naming a directory, `merge` into a path
  under a regular file (ENOTDIR) and into a read-only directory (a read-only
  bind mount, when this machine allows one): one line with the system's
  reason and what to do, nothing created;
- `merge` killed during the output's creation: rerunning it says what merge
  accepts (remove the leftovers), never `--resume`, which merge lacks.
"""
import os
import subprocess
import sys
import tempfile

LIMIT = 511  # RS_PATH_MAX - 1
failures = 0


def check(ok, what, r=None):
    global failures
    print(("ok: " if ok else "FAIL: ") + what)
    if not ok:
        failures += 1
        if r is not None:
            print(f"  exit {r.returncode}; stderr: {r.stderr[:600]!r}")


def run(*args, env=None, exe=None):
    return subprocess.run([exe or RS] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=300, env=env)


def one_line(r, code, *needles):
    lines = [l for l in r.stderr.splitlines() if not l.startswith("ranksweep: warning: ")]
    return (r.returncode == code and len(lines) == 1 and lines[0].startswith("ranksweep: error: ")
            and all(n in lines[0] for n in needles))


def files_under(d):
    return sorted(os.path.join(a, f) for a, _, fs in os.walk(d) for f in fs)


def long_path(root, n):
    """A path of exactly n characters under root: directories of at most 200
    characters, then a 100-character file name."""
    name = "a" * 97 + ".h5"
    rest = n - len(root) - 1 - len(name)  # characters of "/dir" parts
    parts = []
    while rest > 0:
        c = min(201, rest)
        if 0 < rest - c < 2:  # never leave a 1-character remainder ("/" alone)
            c -= 2
        parts.append("d" * (c - 1))
        rest -= c
    p = os.path.join(root, *parts, name)
    assert len(p) == n, (len(p), n)
    return p


def main():
    with tempfile.TemporaryDirectory(prefix="rs-paths.") as tmp:
        root = os.path.join(tmp, "o")
        os.mkdir(root)
        # at the limit and just under it: a normal sweep
        made = []
        for n in (LIMIT - 1, LIMIT):
            p = long_path(root, n)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            # (at the limit under mpirun on 2 ranks, as users run it)
            pre = [os.environ.get("RANKSWEEP_MPIRUN", "mpirun"), "-np", "2"] if n == LIMIT else []
            r = subprocess.run(pre + [RS, "run", JOB, "-o", p, "--quiet"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, timeout=300)
            s1, s2 = run("show", p), run("status", p)
            check(r.returncode == 0 and os.path.isfile(p) and not os.path.exists(p + ".lock")
                  and s1.returncode == 0 and s2.returncode == 0,
                  f"-o of {n} characters (limit {LIMIT}){' on 2 ranks' if pre else ''}: sweep "
                  "complete, lock released, show and status read it", r)
            made.append(p)
        before = files_under(root)
        for n in (LIMIT + 1, 1004, 4300):
            p = long_path(root, n)
            r = run("run", JOB, "-o", p, "--quiet")
            check(one_line(r, 2, f"output path is {n} characters; the limit is {LIMIT}",
                           "File name too long") and files_under(root) == before,
                  f"-o of {n} characters: exit 2, one line giving length and limit, nothing created", r)
        p = os.path.join(root, "n" * 252 + ".h5")
        r = run("run", JOB, "-o", p, "--quiet")
        check(one_line(r, 2, "file name is 255 characters", "File name too long")
              and files_under(root) == before,
              "-o with a 255-character file name: exit 2, File name too long, nothing created", r)

        # outputs that cannot be created: the system's reason and what to do
        r = run("run", JOB, "-o", os.path.join(tmp, "missing", "dir", "a.h5"), "--quiet")
        check(one_line(r, 1, "No such file or directory", "create the directory")
              and not os.path.exists(os.path.join(tmp, "missing")),
              "-o in a missing directory: No such file or directory, create it", r)
        r = run("run", JOB, "-o", root, "--quiet")
        check(one_line(r, 1, "is a directory", "Is a directory", "sweep.h5")
              and files_under(root) == before, "-o naming a directory: Is a directory, name a file in it", r)
        src = made[0]
        plain = os.path.join(tmp, "plain")
        open(plain, "w").close()
        r = run("merge", os.path.join(plain, "m.h5"), src)
        check(one_line(r, 1, "Not a directory", "choose another path"),
              "merge under a regular file: Not a directory, choose another path", r)
        ro = os.path.join(tmp, "ro")
        os.mkdir(ro)
        mounted = subprocess.run(["mount", "--bind", ro, ro], stderr=subprocess.DEVNULL).returncode == 0
        if mounted and subprocess.run(["mount", "-o", "remount,bind,ro", ro],
                                      stderr=subprocess.DEVNULL).returncode == 0:
            r = run("merge", os.path.join(ro, "m.h5"), src)
            check(one_line(r, 1, "Read-only file system", "choose a directory you can write to")
                  and "MB free" not in r.stderr and os.listdir(ro) == [],
                  "merge into a read-only directory: Read-only file system, write elsewhere", r)
        else:
            print("note: no read-only bind mount here (needs root); ENOTDIR above stands for it")
        if mounted:
            subprocess.run(["umount", ro])

        # merge killed while creating its output: the rerun names what merge accepts
        out = os.path.join(tmp, "merged.h5")
        env = dict(os.environ, RANKSWEEP_TEST_KILL_IN_CREATE="2")
        r1 = run("merge", out, src, env=env, exe=RS_HOOKS)
        r = run("merge", out, src)
        check(r1.returncode != 0 and one_line(r, 1, "interrupted", "remove")
              and "--resume" not in r.stderr,
              f"merge rerun after a kill in creation (exit {r1.returncode}): remove the leftovers, "
              "no --resume", r)
        os.remove(out)
        os.remove(out + ".creating")
        r = run("merge", out, src)
        check(r.returncode == 0 and not os.path.exists(out + ".creating"),
              "merge after removing the leftovers: done", r)
    print(f"{'FAILED' if failures else 'ok'}: {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    RS, RS_HOOKS, JOB = sys.argv[1], sys.argv[2], sys.argv[3]
    sys.exit(main())
