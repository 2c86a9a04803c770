#!/usr/bin/env bash
# Interop: qcal's float executor against the real LiteRT runtime on one real model, on two
# seeded random inputs: every output within rel_l2 <= 1e-5. Also checks that 1 and 2
# threads give bit-identical outputs, and that a stacked batch of 2 equals two single runs.
#   usage: executor_vs_litert.sh QCAL_BINARY MODEL_NAME
set -euo pipefail
QCAL=$1
NAME=$2
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL="${QCAL_CACHE:-$HOME/.cache/qcal}/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

for seed in 1 2; do
  node "$HERE/litert_run.js" "$MODEL" --seed $seed --outdir "$W/litert$seed"
  inputs=()
  for f in "$W/litert$seed"/in*.npy; do inputs+=(--input "$f"); done
  "$QCAL" run "$MODEL" "${inputs[@]}" --output-dir "$W/qcal$seed" >/dev/null
  echo "-- seed $seed: qcal vs LiteRT (rel_l2 <= 1e-5)"
  node "$HERE/compare_npy.js" "$W/litert$seed" "$W/qcal$seed" --max-rel-l2 1e-5
done

echo "-- 2 threads vs 1 thread (bit-identical)"
inputs=()
for f in "$W/litert1"/in*.npy; do inputs+=(--input "$f"); done
"$QCAL" run "$MODEL" "${inputs[@]}" --threads 2 --output-dir "$W/qcal1t2" >/dev/null
node "$HERE/compare_npy.js" "$W/qcal1" "$W/qcal1t2" --exact

echo "-- a stacked batch of the two inputs equals the two single runs (bit-identical)"
mkdir -p "$W/batch_in" "$W/singles"
inputs=()
for f in "$W/litert1"/in*.npy; do
  b=$(basename "$f")
  node "$HERE/stack_npy.js" "$W/batch_in/$b" "$f" "$W/litert2/$b"
  inputs+=(--input "$W/batch_in/$b")
done
"$QCAL" run "$MODEL" "${inputs[@]}" --threads 2 --output-dir "$W/batch" >/dev/null
for f in "$W/qcal1"/out*.npy; do
  b=$(basename "$f")
  node "$HERE/stack_npy.js" "$W/singles/$b" "$f" "$W/qcal2/$b"
done
node "$HERE/compare_npy.js" "$W/singles" "$W/batch" --exact

