"""Checks that the documentation points at things that exist.

usage: /usr/bin/python3 check_links.py SOURCE_ROOT RANKSWEEP_BINARY
       /usr/bin/python3 check_links.py --self-test RANKSWEEP_BINARY

For README.md and every docs/**/*.md:
- every relative Markdown link names a file or directory of the repository, and
  its #anchor (if any) names a heading of that file (GitHub's slug rules);
- every repository path written in code (inline or fenced: src/..., tests/...,
  jobs/..., docs/..., ...) exists; a build-tree path build/DIR/NAME must name a
  source directory DIR whose meson.build defines NAME;
- every `ranksweep CMD` written in code is a command the binary knows
  (`ranksweep help CMD` exits 0), and every --option after it on the same line is
  listed in that command's help;
- every pointer from the code into the docs (docs/FILE.md, "Section") names an
  existing file and the beginning of one of its headings.
Files that other work is still writing may be linked before they exist: PENDING.
Prints one line per problem and exits 1 if there are any.
"""
import os
import re
import subprocess
import sys

# Linked from README.md and the guide before they land; anchors into them are
# not checked while they are missing. Remove a name once its file is committed.
PENDING = {"docs/archive.md", "docs/data.md", "docs/testing.md"}

TOP = ("src", "tests", "jobs", "scripts", "analysis", "bench", "slurm", "include", "docs", ".ci")
PATH_RE = re.compile(r"(?:(?<=^)|(?<=[\s`(=\"']))((?:%s|build)/[A-Za-z0-9_./+-]*[A-Za-z0-9_/])"
                     % "|".join(re.escape(t) for t in TOP))
LINK_RE = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")
CMD_RE = re.compile(r"\branksweep ([a-z][a-z-]*)")


def invoked(prefix):
    """Whether `ranksweep` after this prefix is a command being run, not a word in prose."""
    p = prefix.rstrip()
    return (p == "" or prefix.endswith("/") or p.endswith(("$", "&&", ";", "|", "(", "\"")) or
            re.search(r"(^|\s)(mpirun|srun|sudo|exec|timeout)\b[^|;]*$", p) is not None)


def slug(heading):
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    s = heading.strip().lower()
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


def headings(path):
    out, fence = [], False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
        elif not fence and re.match(r"^#{1,6}\s", line):
            out.append(line.lstrip("#").strip().replace("`", ""))
    return out


SOURCE_REF_RE = re.compile(r"(docs/[\w/-]+\.md)(?:,\s+\"([^\"]+)\")?")
SOURCE_DIRS = ("src", "include", "tests", "scripts", "slurm", "jobs", "analysis", "bench", ".ci")


def source_refs(root, problems):
    """Comments in the code that point into the docs: docs/FILE.md[, "Section"]."""
    n = 0
    for top in SOURCE_DIRS:
        for d, _, files in os.walk(os.path.join(root, top)):
            for f in files:
                path = os.path.join(d, f)
                if f == "check_links.py" or f.endswith((".png", ".gz", ".h5", ".pyc")):
                    continue
                try:
                    text = open(path, encoding="utf-8").read()
                except (UnicodeDecodeError, OSError):
                    continue
                for m in SOURCE_REF_RE.finditer(text):
                    n += 1
                    where = "%s:%d" % (os.path.relpath(path, root), text.count("\n", 0, m.start()) + 1)
                    doc = os.path.join(root, m.group(1))
                    if not os.path.exists(doc):
                        if m.group(1) not in PENDING:
                            problems.append("%s: points to missing %s" % (where, m.group(1)))
                    elif m.group(2) and not any(h.startswith(m.group(2)) for h in headings(doc)):
                        problems.append('%s: no section "%s" in %s' % (where, m.group(2), m.group(1)))
    return n


def anchors(path):
    out, seen, fence = set(), {}, False
    for line in open(path, encoding="utf-8"):
        if line.startswith("```"):
            fence = not fence
            continue
        m = None if fence else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            out.add(base if n == 0 else "%s-%d" % (base, n))
    return out


def code_parts(text):
    """(line number, text) of every fenced block line and every inline code span."""
    parts, fence = [], False
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fence = not fence
            continue
        if fence:
            parts.append((i, line))
        else:
            for span in re.findall(r"`([^`]+)`", line):
                parts.append((i, span))
    return parts


def main(root, binary):
    problems = []
    docs = [os.path.join(root, "README.md")]
    for d, _, files in os.walk(os.path.join(root, "docs")):
        docs += [os.path.join(d, f) for f in sorted(files) if f.endswith(".md")]
    helps, anchor_cache = {}, {}

    def help_of(cmd):
        if cmd not in helps:
            r = subprocess.run([binary, "help", cmd], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
            helps[cmd] = r.stdout if r.returncode == 0 else None
        return helps[cmd]

    checked = {"links": 0, "paths": 0, "commands": 0, "options": 0}
    for doc in docs:
        rel_doc = os.path.relpath(doc, root)
        text = open(doc, encoding="utf-8").read()
        fence = False
        for i, line in enumerate(text.splitlines(), 1):
            if line.lstrip().startswith("```"):
                fence = not fence
                continue
            if fence:
                continue
            for m in LINK_RE.finditer(line):
                target = m.group(1) or m.group(2)
                if re.match(r"^[a-z]+:", target):
                    continue
                checked["links"] += 1
                path, _, frag = target.partition("#")
                full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
                rel = os.path.relpath(full, root)
                if not os.path.exists(full):
                    if rel not in PENDING:
                        problems.append("%s:%d: link to missing %s" % (rel_doc, i, rel))
                    continue
                if frag and full.endswith(".md"):
                    if full not in anchor_cache:
                        anchor_cache[full] = anchors(full)
                    if frag not in anchor_cache[full]:
                        problems.append("%s:%d: no section #%s in %s" % (rel_doc, i, frag, rel))
        for i, part in code_parts(text):
            for p in PATH_RE.findall(part):
                p = p.rstrip("/.")
                checked["paths"] += 1
                if p.startswith("build/"):
                    d, name = os.path.split(p[len("build/"):])
                    mb = os.path.join(root, d, "meson.build")
                    ok = d and os.path.isfile(mb) and ("'%s'" % name) in open(mb).read()
                    if not ok:
                        problems.append("%s:%d: build path %s: no target %s in %s/meson.build"
                                        % (rel_doc, i, p, name, d or "."))
                elif not os.path.exists(os.path.join(root, p)) and p not in PENDING:
                    # a build target named as ninja names it (bench/bench_train)
                    d, name = os.path.split(p)
                    mb = os.path.join(root, d, "meson.build")
                    if os.path.isfile(mb) and ("'%s'" % name) in open(mb).read():
                        continue
                    problems.append("%s:%d: missing file %s" % (rel_doc, i, p))
            code = re.sub(r"(^|\s)#.*$", "", part)  # shell comments are prose
            for m in CMD_RE.finditer(code):
                if not invoked(code[:m.start()]):
                    continue
                cmd = m.group(1)
                checked["commands"] += 1
                h = help_of(cmd)
                if h is None:
                    problems.append("%s:%d: ranksweep has no command '%s'" % (rel_doc, i, cmd))
                    continue
                rest = re.split(r"\||;|&&", code[m.end():])[0]
                for opt in re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", rest):
                    checked["options"] += 1
                    if not re.search(r"(?<![\w-])%s(?![\w-])" % re.escape(opt), h):
                        problems.append("%s:%d: ranksweep %s has no option %s"
                                        % (rel_doc, i, cmd, opt))
    nsrc = source_refs(root, problems)
    for p in problems:
        print(p)
    print("%d documents; %d links, %d paths, %d commands, %d options, %d pointers from the code "
          "checked; %d problem(s)" % (len(docs), checked["links"], checked["paths"],
                                      checked["commands"], checked["options"], nsrc, len(problems)))
    missing = sorted(p for p in PENDING if not os.path.exists(os.path.join(root, p)))
    if missing:
        print("pending (linked, not yet written): " + ", ".join(missing))
    return 1 if problems else 0


def self_test(binary):
    """The checker finds each kind of problem it claims to (and no others)."""
    import tempfile
    with tempfile.TemporaryDirectory() as root:
        os.makedirs(os.path.join(root, "docs"))
        os.makedirs(os.path.join(root, "src", "cli"))
        open(os.path.join(root, "src", "cli", "meson.build"), "w").write(
            "executable('ranksweep')  # docs/a.md, \"Some code\" docs/a.md, \"Gone\"\n")
        open(os.path.join(root, "docs", "a.md"), "w").write("# A\n\n## Some `code` section\n")
        open(os.path.join(root, "README.md"), "w").write(
            "# R\n[ok](docs/a.md#some-code-section) [ok](#r) [pending](docs/data.md#x)\n"
            "[bad file](docs/b.md) [bad anchor](docs/a.md#nope)\n"
            "`src/cli/meson.build` `src/nope.c` `build/src/cli/ranksweep` `build/ranksweep`\n"
            "```sh\nranksweep plan --help  # ranksweep frob is prose\n"
            "mpirun -np 2 ranksweep frob\nranksweep run --no-such-option -o x.h5\n```\n")
        r = subprocess.run([sys.executable, __file__, root, binary], stdout=subprocess.PIPE, text=True)
    want = ["link to missing docs/b.md", "no section #nope", "missing file src/nope.c",
            "build path build/ranksweep", "no command 'frob'", "no option --no-such-option",
            'no section "Gone" in docs/a.md']
    lines = [l for l in r.stdout.splitlines() if l.startswith(("README.md:", "src/"))]
    ok = r.returncode == 1 and len(lines) == len(want) and all(
        any(w in l for l in lines) for w in want)
    print("self-test %s:\n%s" % ("ok" if ok else "FAILED", r.stdout))
    return 0 if ok else 1


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--self-test":
        sys.exit(self_test(sys.argv[2]))
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2]))
