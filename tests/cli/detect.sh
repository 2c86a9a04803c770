#!/usr/bin/env bash
# --task detect on raw SSD outputs: face_detection_short_range (regressors [1,896,16],
# classificators [1,896,1]) decoded with the mediapipe-face-short anchors, float vs int8
# (mAP@0.5 in [0,1]) and float vs float (mAP 1.0); quantize --report and compare take the same
# flags; missing or mismatched anchors are one-line errors.   usage: detect.sh QCAL
set -euo pipefail
QCAL=$1
EVAL_EVERY=7 source "$(dirname "$0")/common.sh"
FACE="$CACHE/models/face_detection_short_range.tflite"
[[ -f "$FACE" ]] || { echo "missing fixture $FACE: run scripts/fetch_fixtures.sh"; exit 1; }
PHOTOS="$CACHE/photos"
NORM=(--mean 127.5,127.5,127.5 --std 127.5,127.5,127.5)  # MediaPipe feeds [-1, 1]
DET=(--task detect --ssd-anchors mediapipe-face-short)

echo "-- quantize --report, qcal report float vs int8 and float vs float"
"$QCAL" quantize "$FACE" --images "$PHOTOS" "${NORM[@]}" --quiet -o "$W/f8.tflite" --report "$W/qrep" "${DET[@]}" > /dev/null
"$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${NORM[@]}" "${DET[@]}" --quiet -o "$W/rep" > "$W/rep.log"
grep -q "decoded with preset mediapipe-face-short (896 anchors)" "$W/rep.log" || { echo "FAIL: decoding line"; cat "$W/rep.log"; exit 1; }
for r in qrep rep; do
  [[ $(json "$W/$r/report.json" "d['accuracy']['metric'] == 'map50_vs_float' and 0 <= d['accuracy']['quantized'] <= 1 and d['accuracy']['float_detections'] > 0") == True ]] \
    || { echo "FAIL: $r mAP"; exit 1; }
done
"$QCAL" report "$FACE" "$FACE" --images "$PHOTOS" "${NORM[@]}" "${DET[@]}" --quiet -o "$W/ff" > /dev/null
[[ $(json "$W/ff/report.json" "d['accuracy']['quantized'] == 1.0 and d['accuracy']['float_detections'] == d['accuracy']['quantized_detections'] > 0") == True ]] \
  || { echo "FAIL: float vs float mAP"; exit 1; }
echo "ok"

echo "-- compare with the same flags; key=value anchors equal the preset"
"$QCAL" compare "$FACE" --images "$W/calib" --eval-images "$PHOTOS" "${NORM[@]}" --schemes int8:minmax,fp16 --runs 1 \
  "${DET[@]}" --quiet -o "$W/cmp" > /dev/null
[[ $(json "$W/cmp/compare.json" "len(d['schemes'])") == 2 ]] || { echo "FAIL: compare rows"; exit 1; }
"$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${NORM[@]}" --task detect --quiet -o "$W/kv" --box-scale 128 --box-order xywh \
  --ssd-anchors num_layers=4,min_scale=0.1484375,max_scale=0.75,input_size=128,strides=8:16:16:16,aspect_ratios=1.0,fixed_anchor_size=true > /dev/null
[[ $(json "$W/kv/report.json" "d['accuracy']['quantized']") == $(json "$W/rep/report.json" "d['accuracy']['quantized']") ]] \
  || { echo "FAIL: key=value anchors"; exit 1; }
echo "ok"

echo "-- errors: raw outputs without anchors, wrong anchor count, anchors without --task detect"
expect_error() {  # PATTERN CMD...
  local pat=$1; shift
  if "$@" > "$W/err.out" 2> "$W/err.log"; then echo "FAIL: succeeded: $*"; exit 1; fi
  local msg; msg=$(grep '^qcal:' "$W/err.log" || true)
  [[ $(printf '%s\n' "$msg" | grep -c .) == 1 && "$msg" == *"$pat"* ]] || { echo "FAIL: want '$pat', got:"; cat "$W/err.log"; exit 1; }
}
expect_error "pass --ssd-anchors" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$W/eval" --task detect --quiet -o "$W/e1"
expect_error "2304 anchors, the model's 'regressors' [1,896,16] has 896 boxes" \
  "$QCAL" report "$FACE" "$W/f8.tflite" --images "$W/eval" --task detect --ssd-anchors mediapipe-face-full --quiet -o "$W/e2"
expect_error "are for --task detect" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$W/eval" --ssd-anchors mediapipe-face-short --quiet -o "$W/e3"
[[ ! -e "$W/e1" && ! -e "$W/e2" && ! -e "$W/e3" ]] || { echo "FAIL: output written on error"; exit 1; }
echo "ok"
