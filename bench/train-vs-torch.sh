#!/usr/bin/env bash
# Training step of the paper's MNIST shape (784-200x4-10, ReLU, batch 64,
# AdamW, float32): ranksweep (train.gemm: openblas, then auto, its default) vs
# PyTorch at 1 and 2 threads, PyTorch both in its default configuration and in
# its fastest (AdamW foreach=True, set_flush_denormal(True), glibc's mmap and
# trim thresholds raised: the mmap one alone made it slower here, as every
# large free then shrinks the heap), and each against its floor (the same products alone).
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
# round (least disturbed on a shared machine); "cpu" uses process CPU time,
# which leaves out the time other processes held the core.
printf '%-7s %-9s %9s %9s %10s %10s %10s %10s %6s\n' threads side step_ms floor_ms \
  cpu_step cpu_floor cpu:s/f cpu:t/this load
for t in 1 2; do
  ours="$("$bench" "$t" "$steps" float32 both adamw 1000 openblas,auto)"
  torch="$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="$t" /usr/bin/python3 "$here/torch_train.py" "$t" "$steps")"
  fast="$(MALLOC_MMAP_THRESHOLD_=1073741824 MALLOC_TRIM_THRESHOLD_=1073741824 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS="$t" \
    /usr/bin/python3 "$here/torch_train.py" "$t" "$steps" fast)"
  # bench_train prints one block per backend after a "== train.gemm NAME" line.
  block() { awk -v b="$1" '$1 == "==" { on = ($3 == b) } on'; }
  tf="$(field step_cpu_ms <<<"$fast")"
  for side in openblas auto torch fast; do
    case $side in
      openblas|auto) out="$(block "$side" <<<"$ours")" ;;
      torch) out="$torch" ;;
      fast) out="$fast" ;;
    esac
    awk -v t="$t" -v s="$side" -v st="$(field step_ms <<<"$out")" -v fl="$(field floor_ms <<<"$out")" \
        -v sc="$(field step_cpu_ms <<<"$out")" -v fc="$(field floor_cpu_ms <<<"$out")" \
        -v tf="$tf" -v load="$(field loadavg_1min <<<"$ours")" 'BEGIN {
      printf "%-7s %-9s %9.4f %9.4f %10.4f %10.4f %10.3f %10.3f %6.2f\n",
        t, s, st, fl, sc, fc, sc / fc, tf / sc, load }'
  done
done
echo "cpu:t/this = PyTorch's fastest configuration's step CPU time over this side's."
