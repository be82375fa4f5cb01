#!/usr/bin/env bash
# Bad input through the real command: one clear line (file, line, key,
# expectation) on stderr and a non-zero exit; usage errors exit 2.
source "$(dirname "$0")/lib.sh"
expect_error() { # expect_error NAME PATTERN CODE YAML
  local name="$1" pattern="$2" code="$3" yaml="$4"
  printf '%s\n' "$yaml" > "$WORK/$name.yaml"
  set +e
  "$RS" plan "$WORK/$name.yaml" > /dev/null 2> "$WORK/$name.err"
  local rc=$?
  set -e
  local lines
  lines=$(wc -l < "$WORK/$name.err")
  if [[ $rc -eq $code && $lines -eq 1 ]] && grep -q -- "$pattern" "$WORK/$name.err" && grep -q "$name.yaml" "$WORK/$name.err"; then
    ok "$name: $(cat "$WORK/$name.err")"
  else
    bad "$name: rc=$rc lines=$lines: $(cat "$WORK/$name.err")"
  fi
}
expect_error unknown_key "trian" 1 $'name: x\ntrian:\n  lr: 0.1'
expect_error unknown_nested "train.learning_rate" 1 $'name: x\ntrain:\n  learning_rate: 0.1'
expect_error wrong_type "train.lr" 1 $'train:\n  lr: fast'
expect_error out_of_range "train.batch" 1 $'train:\n  batch: -3'
expect_error bad_enum "relu" 1 $'model:\n  activation: sigmoid'
expect_error duplicate "train.lr" 1 $'train:\n  lr: 0.1\n  lr: 0.2'
expect_error empty_grid "grid" 1 $'grid:\n  train.lr: []'
expect_error grid_unknown "train.lrr" 1 $'grid:\n  train.lrr: [0.1]'
expect_error yaml_syntax ":" 1 $'train: [1, 2\nmodel: {'

# A missing data file is reported when the sweep starts, naming the file.
printf 'data:\n  kind: idx\n  images: /nonexistent/images.gz\n  labels: /nonexistent/labels.gz\n' > "$WORK/nodata.yaml"
set +e
sweep 2 "$WORK/nodata.yaml" -o "$WORK/nodata.h5" 2> "$WORK/nodata.err"
rc=$?
set -e
if [[ $rc -ne 0 ]] && grep -q "/nonexistent/images.gz" "$WORK/nodata.err" && [[ ! -e "$WORK/nodata.h5" ]]; then
  ok "missing data file: $(grep -m1 nonexistent "$WORK/nodata.err")"
else
  bad "missing data file: rc=$rc $(cat "$WORK/nodata.err")"
fi
set +e
"$RS" run > /dev/null 2>&1; rc1=$?
"$RS" frobnicate > /dev/null 2>&1; rc2=$?
"$RS" run --slice 3/2 -o x.h5 > /dev/null 2>&1; rc3=$?
set -e
[[ $rc1 -eq 2 && $rc2 -eq 2 && $rc3 -eq 2 ]] && ok "usage errors exit 2" || bad "usage exits $rc1 $rc2 $rc3"
finish
