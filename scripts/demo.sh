#!/usr/bin/env bash
# The main job, end to end, on a real model: installs what is missing, builds qcal, fetches
# MediaPipe's hand_landmark_lite model from npm, and shows what qcal does with it today:
# inspect -> fold fp16 weights to float32 -> run on an input -> benchmark.
# (Calibration and INT8 rewriting join this script as they land.)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/fetch_fixtures.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build qcal_cli

CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/hand_landmark_lite.tflite"
OUT=out/demo
mkdir -p "$OUT"
QCAL=build/qcal

echo; echo "== qcal inspect $MODEL"
$QCAL inspect "$MODEL"

echo; echo "== qcal quantize --scheme float32 (fold the fp16 weights)"
$QCAL quantize "$MODEL" --scheme float32 -o "$OUT/hand_landmark_lite.float32.tflite"

if $QCAL run "$MODEL" --seed 1 --output-dir "$OUT/run" 2>"$OUT/run.err"; then
  echo; echo "== qcal bench (1 thread)"
  $QCAL bench "$MODEL" --threads 1 --runs 30
else
  echo; echo "(qcal run is not available for this model yet: $(cat "$OUT/run.err"))"
fi
echo; echo "demo outputs are in $OUT"
