#!/usr/bin/env bash
# Training step of the paper's MNIST shape (784-200x4-10, ReLU, batch 64,
# AdamW, float32): ranksweep vs PyTorch at 1 and 2 threads, and each against
# its floor (the same matrix products timed alone).
# Usage: bench/train-vs-torch.sh [BUILD_DIR (default build-model)] [STEPS (default 2000)]
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
build="${1:-$root/build-model}"
steps="${2:-2000}"
bench="$build/bench/bench_train"
if [[ ! -x "$bench" ]]; then
  echo "train-vs-torch.sh: $bench not built (ninja -C $build bench/bench_train)" >&2
  exit 2
fi

field() { awk -v k="$1" '$1 == k { print $2 }'; }

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
"$bench" 1 10 | grep '^openblas_get_config'
# Medians of 21 alternating rounds; "min" columns use each side's fastest
# round (least disturbed on a shared machine); "cpu" uses process CPU time.
printf '%-7s %9s %9s %9s %9s %10s %10s %10s %10s %10s %6s\n' threads ours_ms floor_ms \
  torch_ms t_floor torch/ours ours/floor min:t/o min:o/f cpu:o/f load
for t in 1 2; do
  ours="$("$bench" "$t" "$steps")"
  torch="$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="$t" /usr/bin/python3 "$here/torch_train.py" "$t" "$steps")"
  os="$(field step_ms <<<"$ours")"; of="$(field floor_ms <<<"$ours")"
  ts="$(field step_ms <<<"$torch")"; tf="$(field floor_ms <<<"$torch")"
  osm="$(field step_min_ms <<<"$ours")"; ofm="$(field floor_min_ms <<<"$ours")"
  tsm="$(field step_min_ms <<<"$torch")"
  ocr="$(field ratio_cpu_step_over_floor <<<"$ours")"
  load="$(field loadavg_1min <<<"$ours")"
  awk -v t="$t" -v os="$os" -v of="$of" -v ts="$ts" -v tf="$tf" -v osm="$osm" -v ofm="$ofm" \
      -v tsm="$tsm" -v ocr="$ocr" -v load="$load" 'BEGIN {
    printf "%-7s %9.4f %9.4f %9.4f %9.4f %10.3f %10.3f %10.3f %10.3f %10.3f %6.2f\n",
      t, os, of, ts, tf, ts / os, os / of, tsm / osm, osm / ofm, ocr, load }'
done
