#!/usr/bin/env bash
# analysis-install: analysis/ is an installable package. Offline (--no-index)
# with Debian's python3-* packages, each way a user installs it:
#  - into their own virtual environment (venv --system-site-packages), with
#    its declared dependencies satisfied by the Debian packages;
#  - with --target DIR and with --prefix DIR (no virtual environment);
# then `import ranksweep_analysis` resolves to the installed copy and every
# console command answers --help. The source tree is copied first: building
# in place would leave build/ and *.egg-info in analysis/. Never installs
# into the system. The old way (PYTHONPATH=analysis, analysis/plot_*.py)
# keeps working too.
set -euo pipefail

src="${RANKSWEEP_SOURCE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
py=/usr/bin/python3
tmp="$(mktemp -d "${TMPDIR:-/tmp}/rs-analysis-install.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }
commands=(ranksweep-plot-localrank ranksweep-plot-info ranksweep-plot-vib ranksweep-plot-ib)
export PIP_NO_INPUT=1 PIP_DISABLE_PIP_VERSION_CHECK=1

copy() { rm -rf "$tmp/src" && cp -r "$src/analysis" "$tmp/src"; }

# $1: what; $2: the directory whose bin/ holds the commands; $3: PYTHONPATH ("" for none);
# $4: the directory the package must be imported from
check_install() {
  local what=$1 bin=$2 path=$3 want=$4 where
  where=$(cd "$tmp" && PYTHONPATH="$path" "${PYBIN:-$py}" -c \
          'import ranksweep_analysis as ra, os; print(os.path.realpath(ra.__file__))' 2>&1) || true
  if [[ "$where" == "$(realpath "$want")"/ranksweep_analysis/__init__.py ]]; then
    ok "$what: import ranksweep_analysis from $want"
  else
    bad "$what: import ranksweep_analysis gave '$where', expected under $want"
  fi
  for c in "${commands[@]}"; do
    local out
    if out=$(cd "$tmp" && PYTHONPATH="$path" "$bin/$c" --help 2>&1) && [[ "$out" == "usage: $c "* ]]; then
      ok "$what: $c --help"
    else
      bad "$what: $c --help: $(head -3 <<< "$out")"
    fi
  done
}

# 1. A user's own virtual environment that sees Debian's packages.
copy
"$py" -m venv --system-site-packages "$tmp/venv"
if log=$("$tmp/venv/bin/pip" install --no-build-isolation --no-index "$tmp/src" 2>&1); then
  ok "venv: pip install --no-build-isolation --no-index ./analysis"
  req=$("$tmp/venv/bin/pip" show ranksweep-analysis | sed -n 's/^Requires: //p')
  for d in numpy pandas xarray matplotlib; do
    [[ ", $req," == *", $d,"* ]] || bad "venv: the installed package does not require $d (Requires: $req)"
  done
  PYBIN="$tmp/venv/bin/python" check_install venv "$tmp/venv/bin" "" "$tmp/venv/lib/python3"*/site-packages
else
  bad "venv: pip install failed: $(tail -3 <<< "$log")"
fi

# 2. --target DIR: pip sees no installed package there, so --no-deps (Debian's
#    packages provide them).
copy
if log=$("$py" -m pip install --no-build-isolation --no-index --no-deps --target "$tmp/target" "$tmp/src" 2>&1); then
  ok "--target: pip install"
  check_install --target "$tmp/target/bin" "$tmp/target" "$tmp/target"
else
  bad "--target: pip install failed: $(tail -3 <<< "$log")"
fi

# 3. --prefix DIR (Debian's pip puts it under DIR/local/lib/python3.X/dist-packages).
copy
if log=$("$py" -m pip install --no-build-isolation --no-index --prefix "$tmp/prefix" "$tmp/src" 2>&1); then
  site=$(compgen -G "$tmp/prefix/*lib/python3*/*-packages" || compgen -G "$tmp/prefix/local/lib/python3*/*-packages" || true)
  bin=$(compgen -G "$tmp/prefix/local/bin" || compgen -G "$tmp/prefix/bin" || true)
  site=${site%%$'\n'*}
  ok "--prefix: pip install (into $site)"
  check_install --prefix "$bin" "$site" "$site"
else
  bad "--prefix: pip install failed: $(tail -3 <<< "$log")"
fi

# 4. The old way still works.
if out=$(cd "$tmp" && PYTHONPATH="$src/analysis" "$py" -c 'import ranksweep_analysis' 2>&1) &&
   out=$("$py" "$src/analysis/plot_localrank.py" --help 2>&1) && [[ "$out" == usage:* ]]; then
  ok "PYTHONPATH=analysis and analysis/plot_localrank.py still work"
else
  bad "the uninstalled package: $(head -3 <<< "$out")"
fi
[[ ! -e "$src/analysis/build" && -z "$(ls -d "$src"/analysis/*.egg-info 2>/dev/null)" ]] ||
  bad "the test left build/ or *.egg-info in analysis/"

exit $fail
