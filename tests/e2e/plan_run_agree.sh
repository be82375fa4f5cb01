#!/usr/bin/env bash
# Plan and run agree: every bad job of the test suite (the job parser's bad
# snippets in tests/job/test_job.c, the jobs of cli_errors.sh, and bad data
# jobs written here) fails in `plan` AND in `run`, with the same exit code
# (one mapping from error to exit code), and `run` leaves no file behind (no
# archive, no .status). Jobs that plan cleanly also run to the end.
source "$(dirname "$0")/lib.sh"
mkdir -p "$WORK/jobs" "$WORK/data"

# The bad snippets, extracted from the C table and the shell script so the
# list cannot fall behind them.
"$PY" - "$RANKSWEEP_SOURCE_ROOT" "$WORK/jobs" <<'EOF'
import re, sys, os
src, out = sys.argv[1], sys.argv[2]
c = open(os.path.join(src, "tests/job/test_job.c")).read()
table = c[c.index("static const bad_case bad[] = {"):]
table = table[:table.index("\n};")]
strlit = r'"(?:[^"\\]|\\.)*"'
n = 0
for m in re.finditer(r'\{\s*((?:' + strlit + r'\s*)+),\s*\d+\s*,', table):
    text = "".join(eval(s) for s in re.findall(strlit, m.group(1)))  # C and Python escapes agree here
    open(os.path.join(out, "snippet%02d.yaml" % n), "w").write(text)
    n += 1
sh = open(os.path.join(src, "tests/e2e/cli_errors.sh")).read()
k = 0
for m in re.finditer(r"^expect_error (\w+) .*? (\d+) \$'((?:[^'\\]|\\.)*)'$", sh, re.M):
    text = m.group(3).encode().decode("unicode_escape")
    open(os.path.join(out, "cli_%s.yaml" % m.group(1)), "w").write(text + "\n")
    k += 1
print("extracted %d parser snippets and %d cli_errors jobs" % (n, k))
assert n >= 60 and k >= 9, "the extraction found too few jobs"
EOF

# Data files: a good .npy pair, and broken ones written next to it.
"$PY" - "$WORK/data" <<'EOF'
import numpy as np, sys, os
d = sys.argv[1]
rng = np.random.default_rng(1)
x = rng.normal(size=(300, 6)).astype(np.float32)
y = rng.integers(0, 3, size=300)
np.save(f"{d}/x.npy", x); np.save(f"{d}/y.npy", y)
np.save(f"{d}/y_short.npy", y[:200])
yb = y.copy(); yb[17] = -1; np.save(f"{d}/y_neg.npy", yb)
xn = x.copy(); xn[5, 2] = np.nan; np.save(f"{d}/x_nan.npy", xn)
np.save(f"{d}/x_fortran.npy", np.asfortranarray(x))
np.save(f"{d}/x_obj.npy", np.array([[1, "a"]] * 300, dtype=object), allow_pickle=True)
raw = open(f"{d}/x.npy", "rb").read()
open(f"{d}/x_trunc.npy", "wb").write(raw[:len(raw) - 100])
open(f"{d}/x_magic.npy", "wb").write(b"\x93NUMPZ" + raw[6:])
open(f"{d}/x_dict.npy", "wb").write(raw.replace(b"'shape'", b"'shope'"))
EOF
mkfifo "$WORK/data/fifo.npy"

job() { # job NAME DATA-SECTION [EXTRA]
  printf 'name: %s\ndata: %s\nmodel: {widths: [8]}\ntrain: {steps: 20, batch: 16%s}\nmeasure: {points: 8, log_points: 3}\n' \
    "$1" "$2" "${3:-}" > "$WORK/jobs/$1.yaml"
}
D="$WORK/data"
npy() { echo "{kind: npy, images: $D/$1, labels: $D/$2, train_size: 100, heldout_size: 50}"; }
job data_idx_missing "{kind: idx, images: /nonexistent/images.gz, labels: /nonexistent/labels.gz}"
job data_idx_fifo "{kind: idx, images: $D/fifo.npy, labels: /nonexistent/labels.gz}"
job data_npy_fifo "$(npy fifo.npy y.npy)"
job data_npy_dir "$(npy . y.npy)"
job data_npy_missing "$(npy nothere.npy y.npy)"
job data_npy_short_labels "$(npy x.npy y_short.npy)"
job data_npy_negative_label "$(npy x.npy y_neg.npy)"
job data_npy_nan "$(npy x_nan.npy y.npy)"
job data_npy_fortran "$(npy x_fortran.npy y.npy)"
job data_npy_object "$(npy x_obj.npy y.npy)"
job data_npy_truncated "$(npy x_trunc.npy y.npy)"
job data_npy_bad_magic "$(npy x_magic.npy y.npy)"
job data_npy_bad_dict "$(npy x_dict.npy y.npy)"
job data_npy_too_many "{kind: npy, images: $D/x.npy, labels: $D/y.npy, train_size: 250, heldout_size: 100}"
job data_npy_idx_file "{kind: npy, images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz, labels: $D/y.npy}"
job vib_gaussian_on_classes "{kind: gaussian_mixture, dim: 6, classes: 3, train_size: 100, heldout_size: 50}"
sed -i 's/^model: .*/model: {kind: vib, widths: [8], latent: 2, decoder: gaussian}/' "$WORK/jobs/vib_gaussian_on_classes.yaml"
job cross_entropy_on_targets "{kind: npy, images: $D/x.npy, labels: $D/x.npy, train_size: 100, heldout_size: 50}" ", loss: cross_entropy"
printf 'name: grid_one_bad_run\ndata: {kind: npy, labels: %s/y.npy, train_size: 100, heldout_size: 50}\nmodel: {widths: [8]}\ntrain: {steps: 20, batch: 16}\nmeasure: {points: 8, log_points: 3}\ngrid:\n  data.images: [%s/x.npy, %s/x_nan.npy]\n' "$D" "$D" "$D" > "$WORK/jobs/grid_one_bad_run.yaml"

nplan=0
for f in "$WORK"/jobs/*.yaml; do
  name=$(basename "$f" .yaml)
  out="$WORK/out/$name"
  mkdir -p "$out"
  set +e
  timeout 60 "$RS" plan "$f" > "$out/plan.out" 2> "$out/plan.err"
  prc=$?
  (cd "$out" && timeout 120 "$RS" run "$f" -o "$out/a.h5" --quiet > /dev/null 2> run.err)
  rrc=$?
  set -e
  left=$(cd "$out" && ls -A | grep -v -x -e plan.out -e plan.err -e run.err || true)
  perr=$(grep -v 'OpenBLAS' "$out/plan.err" | head -1 || true)
  if [[ $prc -ne 0 && $prc -ne 124 && $rrc -ne 0 && $rrc -ne 124 && $prc -eq $rrc && -z "$left" ]]; then
    ok "$name: plan $prc, run $rrc, nothing left: $perr"
  else
    bad "$name: plan rc=$prc run rc=$rrc left='$left' plan: $perr run: $(grep -v OpenBLAS "$out/run.err" | head -2)"
  fi
  nplan=$((nplan + 1))
done
echo "$nplan bad jobs tried"

# Under mpirun with 2 ranks too (the data errors are found on rank 0 before
# any collective file is created).
for name in data_npy_nan data_npy_fifo vib_gaussian_on_classes; do
  out="$WORK/mpi/$name"
  mkdir -p "$out"
  set +e
  (cd "$out" && timeout 120 "$MPIRUN" -np 2 "$RS" run "$WORK/jobs/$name.yaml" -o "$out/a.h5" --quiet \
     > /dev/null 2> run.err)
  rrc=$?
  set -e
  left=$(cd "$out" && ls -A | grep -v -x run.err || true)
  if [[ $rrc -ne 0 && $rrc -ne 124 && -z "$left" ]]; then
    ok "$name under 2 ranks: run $rrc, nothing left"
  else
    bad "$name under 2 ranks: rc=$rrc left='$left'"
  fi
done

# Jobs that plan cleanly run to completion: MSE on class labels (MLP and a
# VIB with a linear decoder), and .npy classification and regression.
"$PY" -c "
import numpy as np
x = np.load('$D/x.npy'); np.save('$D/t.npy', (x @ np.ones((6, 2))).astype('>f8'))"
good() { # good NAME
  local f="$WORK/jobs/$1.yaml"
  if "$RS" plan "$f" > /dev/null 2>&1 && sweep 2 "$f" -o "$WORK/$1.h5" &&
     "$PY" -c "
import h5py, numpy as np, sys
h = h5py.File(sys.argv[1], 'r')
loss, acc = h['metrics/train_loss'][0], h['metrics/heldout_acc'][0]
assert np.all(np.isfinite(loss)), loss
assert loss[-1] < loss[0], loss
if sys.argv[2] == 'classes': assert np.all((acc >= 0) & (acc <= 1)), acc
else: assert np.all(np.isnan(acc)), acc
" "$WORK/$1.h5" "$2"; then
    ok "$1: plans, runs and its metrics are finite and fall"
  else
    bad "$1: does not plan and run cleanly"
  fi
}
job good_mse_classes "{kind: gaussian_mixture, dim: 6, classes: 3, train_size: 100, heldout_size: 50}" ", loss: mse, lr: 0.01"
good good_mse_classes classes
job good_vib_mse_classes "{kind: gaussian_mixture, dim: 6, classes: 3, train_size: 100, heldout_size: 50}" ", loss: mse, lr: 0.01"
sed -i 's/^model: .*/model: {kind: vib, widths: [8], latent: 2, decoder: linear}/' "$WORK/jobs/good_vib_mse_classes.yaml"
good good_vib_mse_classes classes
job good_npy_classes "$(npy x.npy y.npy)" ", lr: 0.01"
good good_npy_classes classes
job good_npy_targets "$(npy x.npy t.npy)" ", lr: 0.01"
good good_npy_targets targets
finish
