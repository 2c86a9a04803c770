#!/usr/bin/env bash
# Interop + fidelity of a real float ImageNet classifier (MobileNet v1 0.25, 1001 classes,
# pre-processing from its TFLite metadata) quantized to int8 by qcal, run in LiteRT.
#   * calibration on the general photo fixtures; evaluation on the separate 'eval' set of
#     everyday photos (never calibrated on; at least 100 are required);
#   * top-1 agreement of int8 (minmax, mse) with the float model, both in LiteRT;
#   * kernel error: int8 in LiteRT may agree with float on at most 1 photo fewer than the
#     fake-quant simulation of the same model (qcal run --numerics simulate): the integer
#     kernels must not add error of their own;
#   * the weight-rounding correction must hold its gain: without it the same model agrees on
#     far fewer photos (61.6% vs 85.7% with minmax on 2026-12-07, see docs/quantization.md);
#   * regression guard (not the goal: the goal is 90%, see docs/quantization.md for why
#     plain int8 stops short): agreement >= the figure recorded there minus 1 photo;
#   * --per-tensor: within 2 points of its own simulation (the kernels add nothing).
# usage: classifier_in_litert.sh QCAL_BINARY
set -euo pipefail
QCAL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/mobilenet_v1_0.25_224_float_metadata.tflite"
[[ -f "$MODEL" ]] || { echo "FAIL: missing fixture $MODEL (scripts/fetch_fixtures.sh copies it from shared/fixtures)"; exit 1; }
n_eval=$(find "$CACHE/eval" -maxdepth 1 -type f \( -name '*.jpg' -o -name '*.png' \) | wc -l)
(( n_eval >= 100 )) || { echo "FAIL: only $n_eval photos in $CACHE/eval (run scripts/fetch_fixtures.sh)"; exit 1; }
W=${QCAL_KEEP_DIR:-$(mktemp -d)}
[[ -n "${QCAL_KEEP_DIR:-}" ]] || trap 'rm -rf "$W"' EXIT

"$QCAL" calibrate "$MODEL" --images "$CACHE/photos" --threads 2 --quiet -o "$W/calib.json" >/dev/null
"$QCAL" preprocess "$MODEL" --images "$CACHE/eval" --quiet -o "$W/eval" >/dev/null
n_samples=$(ls "$W"/eval/sample*.npy | wc -l)
(( n_samples == n_eval )) || { echo "FAIL: $n_eval photos but $n_samples pre-processed samples"; exit 1; }
node "$HERE/litert_run.js" "$MODEL" --samples "$W/eval" --outdir "$W/float" >/dev/null

# agreement TAG: top-1 agreement (in photos) of $W/TAG with the float model
agreement() { node "$HERE/fidelity.js" "$W/float" "$W/$1" --top1 0 --json "$W/$1.json" >/dev/null;
              node -e "const r=require('$W/$1.json'); console.log(Math.round(r.top1_agreement*r.samples))"; }
status=0
check() {  # check WHAT GOT MIN
  if (( $2 >= $3 )); then echo "PASS $1: $2/$n_eval (>= $3)"; else echo "FAIL $1: $2/$n_eval (< $3)"; status=1; fi
}
# simulate MODEL TAG: MODEL's fake-quant simulation on every photo, into $W/sim_TAG
simulate() {
  for f in "$W"/eval/sample*.npy; do
    "$QCAL" run "$1" --input "$f" --numerics simulate --output-dir "$W/sim_$2/$(basename "$f" .npy)" >/dev/null
  done
}
# Today's figures (docs/quantization.md), of 112 photos.
declare -A TODAY=([minmax]=96 [mse]=100)
for cal in minmax mse; do
  guard=$(( TODAY[$cal] * n_eval / 112 - 1 ))
  "$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator $cal -o "$W/int8_$cal.tflite" >/dev/null
  node "$HERE/litert_run.js" "$W/int8_$cal.tflite" --samples "$W/eval" --outdir "$W/int8_$cal" >/dev/null
  simulate "$W/int8_$cal.tflite" "$cal"
  int8=$(agreement int8_$cal)
  sim=$(agreement sim_$cal)
  echo "-- int8 --calibrator $cal: top-1 agreement with float $int8/$n_eval in LiteRT, simulation $sim/$n_eval"
  check "int8 $cal within 1 photo of its simulation (kernel error)" "$int8" $(( sim - 1 ))
  check "int8 $cal regression guard" "$int8" "$guard"
done
"$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator minmax --no-weight-correction -o "$W/plain.tflite" >/dev/null
node "$HERE/litert_run.js" "$W/plain.tflite" --samples "$W/eval" --outdir "$W/plain" >/dev/null
plain=$(agreement plain)
echo "-- int8 minmax without the weight-rounding correction: $plain/$n_eval"
check "the weight-rounding correction gains at least 10% of the photos" "$(agreement int8_minmax)" $(( plain + n_eval / 10 ))
"$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator minmax --per-tensor -o "$W/per_tensor.tflite" >/dev/null
node "$HERE/litert_run.js" "$W/per_tensor.tflite" --samples "$W/eval" --outdir "$W/per_tensor" >/dev/null
simulate "$W/per_tensor.tflite" per_tensor
per_tensor=$(agreement per_tensor)
sim=$(agreement sim_per_tensor)
# Per-tensor weights break this network's depthwise layers whatever the kernels do (channel
# ranges differ 100x, docs/quantization.md); what is checked is that the integer model is its
# grid's: within 2 points of the simulation, as the issue asks.
echo "-- int8 minmax --per-tensor: $per_tensor/$n_eval in LiteRT, simulation $sim/$n_eval"
check "int8 --per-tensor within 2 points of its simulation" "$per_tensor" $(( sim - 2 * n_eval / 100 ))
exit $status
