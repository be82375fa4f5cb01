#!/usr/bin/env bash
# `run --profile`: where a whole sweep's CPU time went, summed over the ranks.
# Every kind of work is non-negative (the rest is what no kind claims, so a
# kind counted twice would drive it below zero), the training products are a
# part of training, the spectrum pass appears exactly when the job has one,
# the total is the process's own CPU time less its start-up, the products'
# FLOPs are exactly the job's and their rate is FLOPs over time, and profiling
# changes no result: the archives equal unprofiled ones.
source "$(dirname "$0")/lib.sh"
cd "$WORK"

# The small job with wider layers (enough work in each kind to show at 0.01 s),
# with and without the spectrum pass.
sed 's/^  widths: \[16, 16, 16\]$/  widths: [64, 64, 64]/' "$E2E/small.yaml" > plain.yaml
sed 's/^  save_weights: final$/  save_weights: final\n  spectrum: true/' plain.yaml > spec.yaml
grep -q '^  widths: \[64, 64, 64\]$' plain.yaml && grep -q '^  spectrum: true$' spec.yaml ||
  { echo "FAIL: could not make the jobs from small.yaml"; exit 1; }

# check LOG NRANKS SPECTRUM [CPU_SECONDS]: the profile's lines in LOG
check() {
  "$PY" - "$@" <<'PYEOF'
import re, sys
log, nranks, spectrum = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "yes"
cpu = float(sys.argv[4]) if len(sys.argv) > 4 else None
lines = [l for l in open(log) if l.startswith("ranksweep: profile: ")]
rate = re.match(r"ranksweep: profile: training products: ([0-9.e+]+) GFLOP in ([0-9.]+) s inside them: "
                r"([0-9.]+) GFLOP/s per rank$", lines.pop().rstrip("\n"))
assert rate, "no products line"
gflop, inside, gflops = (float(v) for v in rate.groups())
# The job's FLOPs: every run has 3 hidden layers of 64 on 12 inputs, 3 classes, batch 32, 1500
# steps, and 4 runs: 2 x batch x (forward + weight gradient + input gradient but layer 1's).
w = [12, 64, 64, 64, 3]
mk = sum(w[i] * w[i + 1] for i in range(4))
want = 4 * 1500 * 2 * 32 * (3 * mk - w[0] * w[1])
assert abs(gflop * 1e9 - want) <= 0.001 * want, (gflop, want)
assert abs(gflops - gflop / inside) <= gflops * (0.0006 / inside + 0.001) and 0.1 < gflops < 1000, (gflop, inside, gflops)
head = re.match(r"ranksweep: profile: ([0-9.]+) s of CPU over (\d+) ranks? \(rank 0: ([0-9.]+) s\)", lines[0])
assert head, lines[0]
total, n, rank0 = float(head[1]), int(head[2]), float(head[3])
rows = {}
for l in lines[1:]:
    m = re.match(r"ranksweep: profile: (.+?)\s+(-?[0-9.]+) s\s+(-?[0-9.]+)%$", l.rstrip("\n"))
    assert m, l
    rows[m[1]] = float(m[2])
want = ["training: matrix products", "training: the rest of the step", "measurement: local ranks",
        "checkpoint metrics", "archive writes", "spectrum pass", "dispatch, start-up, data, MPI"]
assert list(rows) == want, list(rows)
assert n == nranks, (n, nranks)
assert all(v >= 0 for v in rows.values()), rows
for k in want[:5]:
    assert rows[k] > 0, (k, rows)
assert (rows["spectrum pass"] > 0) == spectrum, rows
assert abs(sum(rows.values()) - total) <= 0.01 * len(rows), (sum(rows.values()), total)
assert (rank0 < total) if nranks > 1 else abs(rank0 - total) < 0.01, (rank0, total)
if cpu is not None:  # the process's CPU from outside: start-up and exit lie outside the profile
    assert total <= cpu + 0.05 and total >= cpu - 1.5, (total, cpu)
print("profile of %.2f s over %d rank(s): " % (total, n) +
      ", ".join("%s %.2f" % (k, v) for k, v in rows.items()))
PYEOF
}

# One rank, the binary alone (no launcher, whose CPU /usr/bin/time would add).
if /usr/bin/time -f '%U %S' -o cpu.txt "$RS" run spec.yaml -o one.h5 --quiet --profile 2> one.log; then
  read -r u s < cpu.txt
  if out=$(check one.log 1 yes "$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')" 2>&1); then
    ok "1 rank: $out (process CPU $u + $s s)"
  else bad "1 rank: $out"; cat one.log; fi
else bad "1 rank: the sweep failed"; cat one.log; fi

# Three ranks (dispatcher and two workers) with the spectrum pass.
if "$MPIRUN" -np 3 "$RS" run spec.yaml -o three.h5 --quiet --profile 2> three.log; then
  if out=$(check three.log 3 yes 2>&1); then ok "3 ranks: $out"; else bad "3 ranks: $out"; cat three.log; fi
else bad "3 ranks: the sweep failed"; cat three.log; fi

# Two ranks, no spectrum pass in the job: its row is zero.
if "$MPIRUN" -np 2 "$RS" run plain.yaml -o two.h5 --quiet --profile 2> two.log; then
  if out=$(check two.log 2 no 2>&1); then ok "2 ranks, no spectrum: $out"; else bad "2 ranks: $out"; cat two.log; fi
else bad "2 ranks: the sweep failed"; cat two.log; fi

# Profiling changes no result: profiled archives against unprofiled ones, on the
# same rank count where the job has a spectrum pass (ScaLAPACK's spectra agree
# across process grids to 1e-10, not bit for bit: tests/e2e/spectrum.sh), on
# another one where it has none.
"$RS" run spec.yaml -o spec1.h5 --quiet 2> spec1.log || { bad "unprofiled sweep failed"; cat spec1.log; }
"$MPIRUN" -np 3 "$RS" run plain.yaml -o plain3.h5 --quiet 2> plain3.log ||
  { bad "unprofiled sweep failed"; cat plain3.log; }
for pair in "one.h5 spec1.h5" "two.h5 plain3.h5"; do
  read -r a b <<<"$pair"
  if same "$a" "$b" > cmp.txt 2>&1; then ok "$a (profiled) equals $b (not profiled)"
  else bad "$a differs from $b"; cat cmp.txt; fi
done
grep -q 'profile' spec1.log plain3.log && bad "a sweep without --profile printed a profile" || ok "no profile without --profile"
finish
