#!/usr/bin/env bash
# qcal's INT8 of a float twin against the quantized model the twin came from, in LiteRT.
# The twin (`qcal dequantize`) is the reference. qcal quantizes it (int8, calibrated on the
# first 20 photos of $CACHE/photos); the original quantized model and qcal's INT8 then run in
# LiteRT on every photo of $CACHE/eval (none used for calibration), and each is compared with
# the twin: top-1 agreement for a classifier (TASK classify), mAP50 of detections against the
# twin's for a TFLite_Detection_PostProcess detector (TASK detect; also counting only
# detections scoring >= 0.5). Fails when qcal's INT8 agrees less than the original does.
# usage: twin_fidelity.sh QCAL_BINARY TWIN_CHECK_BINARY MODEL_NAME classify|detect [QUANTIZE_FLAG...]
set -euo pipefail
QCAL=$1
CHECK=$2
NAME=$3
TASK=$4
shift 4
FLAGS=("$@")
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/$NAME.tflite"
PRE=(--mean 127.5 --std 127.5)   # both fixtures take [-1, 1]: uint8 input scale 1/128, zero point 128
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=${QCAL_KEEP_DIR:-$(mktemp -d)}
[[ -n "${QCAL_KEEP_DIR:-}" ]] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W/calib"
for f in $(ls "$CACHE"/photos/* | head -n 20); do ln -sf "$f" "$W/calib/"; done

"$QCAL" dequantize "$MODEL" -o "$W/twin.tflite" >/dev/null
"$CHECK" --shaped "$MODEL" "$W/quant.tflite" >/dev/null   # detection outputs with static shapes, for LiteRT
"$QCAL" quantize "$W/twin.tflite" --scheme int8 --images "$W/calib" "${PRE[@]}" --threads 2 --quiet \
  ${FLAGS[@]+"${FLAGS[@]}"} -o "$W/int8.tflite" >"$W/quantize.log"
grep -i -E 'float|kept' "$W/quantize.log" | head -n 5 || true
"$QCAL" preprocess "$W/twin.tflite" --images "$CACHE/eval" "${PRE[@]}" --quiet -o "$W/evf" >/dev/null
"$QCAL" preprocess "$W/quant.tflite" --images "$CACHE/eval" "${PRE[@]}" --quiet -o "$W/evq" >/dev/null
node "$HERE/litert_run.js" "$W/twin.tflite" --samples "$W/evf" --outdir "$W/lt_twin" >/dev/null
node "$HERE/litert_run.js" "$W/quant.tflite" --samples "$W/evq" --outdir "$W/lt_quant" >/dev/null
node "$HERE/litert_run.js" "$W/int8.tflite" --samples "$W/evf" --outdir "$W/lt_int8" >/dev/null
n=$(ls "$W/evf"/sample*.npy | wc -l)
if [[ "$TASK" == classify ]]; then
  score() { node "$HERE/fidelity.js" "$W/lt_twin" "$W/$1" --top1 0 | sed -n 's/^top-1 agreement.*(\([0-9.]*\)%).*/\1/p'; }
  q=$(score lt_quant); i=$(score lt_int8)
  echo "top-1 agreement with the twin on $n eval photos: original quantized $q%, qcal int8 $i%"
else
  score() { node "$HERE/detection_map.js" "$W/lt_twin" "$W/$1" "${@:2}" | sed -n 's/.*mAP50 \([0-9.]*\).*/\1/p'; }
  q=$(score lt_quant); i=$(score lt_int8); q5=$(score lt_quant --min-score 0.5); i5=$(score lt_int8 --min-score 0.5)
  echo "mAP50 against the twin's detections on $n eval photos: original quantized $q, qcal int8 $i" \
       "(scores >= 0.5: $q5, $i5)"
fi
awk -v q="$q" -v i="$i" 'BEGIN { if (i + 1e-9 < q) { print "FAIL: qcal int8 agrees less than the original"; exit 1 } print "PASS" }'
