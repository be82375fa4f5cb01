#!/usr/bin/env bash
# The archive's scientific content is bit-identical for 1, 2, 3 and 5 ranks and
# for different shard sizes; h5py reads it back.
source "$(dirname "$0")/lib.sh"
job="$E2E/small.yaml"
t0=$SECONDS
sweep 1 "$job" -o "$WORK/n1.h5"
echo "1 rank: $((SECONDS - t0)) s"
for n in 2 3 5; do
  t0=$SECONDS
  sweep "$n" "$job" -o "$WORK/n$n.h5"
  echo "$n ranks: $((SECONDS - t0)) s"
  if same "$WORK/n1.h5" "$WORK/n$n.h5"; then ok "N=$n identical to N=1"; else bad "N=$n differs from N=1"; fi
done
sweep 3 "$job" -o "$WORK/shard3.h5" --shard 3
if same "$WORK/n1.h5" "$WORK/shard3.h5"; then ok "shard 3 identical to shard 8"; else bad "shard 3 differs"; fi
sweep 2 "$job" -o "$WORK/shard40.h5" --shard 40
if same "$WORK/n1.h5" "$WORK/shard40.h5"; then ok "shard 40 identical to shard 8"; else bad "shard 40 differs"; fi
# The comparison itself must be able to fail: a different job differs.
sed 's/seed: 11/seed: 12/' "$job" > "$WORK/other.yaml"
sweep 2 "$WORK/other.yaml" -o "$WORK/other.h5"
if same "$WORK/n1.h5" "$WORK/other.h5" >/dev/null; then bad "comparison cannot tell different seeds apart"; else ok "comparison detects a different job seed"; fi
if "$PY" "$E2E/read_h5py.py" "$WORK/n3.h5"; then ok "h5py reads the archive"; else bad "h5py read-back"; fi
# The job keeps train.flush_denormals true: provenance records the state read back from the CPU.
fp=$("$PY" -c 'import h5py, sys; print(h5py.File(sys.argv[1], "r")["provenance"].attrs["fp_state"])' "$WORK/n3.h5")
if [[ $fp == "ftz=1 daz=1 round=nearest" ]]; then ok "provenance fp_state: $fp"; else bad "provenance fp_state: '$fp'"; fi
finish
