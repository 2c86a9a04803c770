#!/usr/bin/env bash
# Pre-processing travels with the calibration: face_detection_short_range takes [-1, 1]
# (--mean/--std 127.5). Calibrated that way, a quantize --report and a later qcal report
# evaluate with the same pre-processing without being told (they used x/255 before, where the
# float model finds no face); a flag that differs wins, with a warning.
set -euo pipefail
QCAL=$1
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/face_detection_short_range.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
ls "$CACHE"/people/*.jpg >/dev/null 2>&1 || { echo "missing fixture photos $CACHE/people"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }

"$QCAL" calibrate "$MODEL" --images "$CACHE/people" --mean 127.5 --std 127.5 --quiet -o "$W/c.json" >/dev/null
"$QCAL" quantize "$MODEL" --calib "$W/c.json" --report "$W/r1" --eval-images "$CACHE/people" --task detect \
  --ssd-anchors mediapipe-face-short --quiet -o "$W/q.tflite" > "$W/q.log" 2>&1
[[ $(json "$W/r1/report.json" "d['preprocessing']['mean']") == "[127.5]" ]] || fail "quantize --report ignored the calibration's pre-processing"
# The float model must find faces on these photos with the right pre-processing.
found=$(json "$W/r1/report.json" "d['accuracy'].get('float_detections', d['accuracy'].get('detections_float', -1))")
echo "float detections with the recorded pre-processing: $found"
(( found > 0 )) || fail "the float model found no face: wrong pre-processing"
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$CACHE/people" --task detect --ssd-anchors mediapipe-face-short --quiet \
  -o "$W/r2" > "$W/r2.log" 2>&1
[[ $(json "$W/r2/report.json" "d['preprocessing']['mean']") == "[127.5]" ]] || fail "report did not use the model's recorded pre-processing"
grep -q "as calibrated" "$W/r2.log" || fail "report did not say where its pre-processing came from"
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$CACHE/people" --mean 0 --std 255 --quiet -o "$W/r3" > "$W/r3.log" 2>&1
[[ $(json "$W/r3/report.json" "d['preprocessing']['mean']") == "[0.0]" ]] || fail "a --mean flag did not win"
grep -q "^warning: --mean/--std (calibrated with mean \[127.5\]" "$W/r3.log" || { cat "$W/r3.log"; fail "no warning when the flag differs from the calibration"; }
echo PASS
