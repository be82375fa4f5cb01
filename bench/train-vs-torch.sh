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
bench="$build/src/model/bench_train"
if [[ ! -x "$bench" ]]; then
  echo "train-vs-torch.sh: $bench not built (ninja -C $build src/model/bench_train)" >&2
  exit 2
fi

field() { awk -v k="$1" '$1 == k { print $2 }'; }

echo "machine: $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) cores"
echo "OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
"$bench" 1 10 | grep '^openblas_get_config'
printf '%-8s %12s %12s %12s %12s %14s %14s %14s\n' threads ours_ms ours_floor torch_ms \
  torch_floor torch/ours ours/floor torch/floor
for t in 1 2; do
  ours="$("$bench" "$t" "$steps")"
  torch="$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="$t" /usr/bin/python3 "$here/torch_train.py" "$t" "$steps")"
  os="$(field step_ms <<<"$ours")"; of="$(field floor_ms <<<"$ours")"
  ts="$(field step_ms <<<"$torch")"; tf="$(field floor_ms <<<"$torch")"
  awk -v t="$t" -v os="$os" -v of="$of" -v ts="$ts" -v tf="$tf" 'BEGIN {
    printf "%-8s %12.4f %12.4f %12.4f %12.4f %14.3f %14.3f %14.3f\n", t, os, of, ts, tf, ts / os, os / of, ts / tf }'
done
