#!/usr/bin/env bash
# The main job, end to end, on a real model: installs what is missing, builds qcal, fetches
# MediaPipe's hand_landmark_lite model (npm) and photos (Debian packages), then
#   calibrate on 20 photos -> INT8 (mse calibrator) -> report on 8 held-out photos
#   -> run the INT8 model with qcal's integer executor -> compare every scheme.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install_deps.sh
scripts/fetch_fixtures.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build qcal_cli

CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/hand_landmark_lite.tflite"
OUT=out/demo
QCAL=build/qcal
rm -rf "$OUT"
mkdir -p "$OUT/calib" "$OUT/eval"
i=0
for f in "$CACHE"/photos/*; do  # every fourth photo is held out for evaluation
  if (( i++ % 4 == 0 )); then ln -s "$f" "$OUT/eval/"; else ln -s "$f" "$OUT/calib/"; fi
done

echo; echo "== qcal inspect $MODEL"
$QCAL inspect "$MODEL"

echo; echo "== qcal calibrate (one pass over the calibration photos)"
$QCAL calibrate "$MODEL" --images "$OUT/calib" --threads 2 --quiet -o "$OUT/hand.calib.json"

echo; echo "== qcal quantize --scheme int8 --calibrator mse, with a report on the held-out photos"
$QCAL quantize "$MODEL" --calib "$OUT/hand.calib.json" --calibrator mse -o "$OUT/hand_int8.tflite" \
  --report "$OUT/report" --eval-images "$OUT/eval" --task landmarks --quiet

echo; echo "== qcal run the INT8 model (integer executor, LiteRT's numerics)"
$QCAL preprocess "$OUT/hand_int8.tflite" --images "$OUT/eval" --num 1 --quiet -o "$OUT/input" >/dev/null
$QCAL run "$OUT/hand_int8.tflite" --input "$OUT/input/sample00000.npy" --output-dir "$OUT/run"

echo; echo "== qcal compare: every scheme from the same calibration"
$QCAL compare "$MODEL" --images "$OUT/calib" --eval-images "$OUT/eval" --task landmarks --threads 2 --quiet \
  --runs 10 -o "$OUT/compare" | sed -n '/^| scheme/,$p'

echo; echo "demo outputs are in $OUT (open $OUT/report/report.html and $OUT/compare/compare.html in a browser)"
