#!/usr/bin/env bash
# Interop: for one real model, LiteRT must not be able to tell qcal's rewrite from the
# original (bit-identical outputs), and the fp16-folded float32 model must match it
# within rel_l2 <= 1e-6.   usage: roundtrip.sh QCAL_BINARY MODEL_NAME
set -euo pipefail
QCAL=$1
NAME=$2
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL="${QCAL_CACHE:-$HOME/.cache/qcal}/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

"$QCAL" rewrite "$MODEL" -o "$W/rewritten.tflite"
"$QCAL" quantize "$MODEL" --scheme float32 -o "$W/float32.tflite"
"$QCAL" inspect "$W/float32.tflite" --json | node -e '
  const j = JSON.parse(require("fs").readFileSync(0));
  if (j.weights.fp16_constants !== 0) { console.error("float32 model still has fp16 constants"); process.exit(1); }'

node "$HERE/litert_run.js" "$MODEL" --seed 7 --outdir "$W/original"
node "$HERE/litert_run.js" "$W/rewritten.tflite" --input "$W/original/in0.npy" --outdir "$W/rewritten"
node "$HERE/litert_run.js" "$W/float32.tflite" --input "$W/original/in0.npy" --outdir "$W/float32"
echo "-- rewritten vs original (must be bit-identical)"
node "$HERE/compare_npy.js" "$W/original" "$W/rewritten" --exact
echo "-- float32 (fp16 folded) vs original (rel_l2 <= 1e-6)"
node "$HERE/compare_npy.js" "$W/original" "$W/float32" --max-rel-l2 1e-6
