#!/usr/bin/env bash
# What qcal writes for LiteRT's fast path (issue 22), read back with `qcal inspect`:
#  * face_detection_short_range: its 17 standalone RELUs are folded into the ops before them,
#    so XNNPACK takes every op of the int8 model; with --no-fuse-activations the RELUs stay
#    int8 ops the delegate refuses and inspect names them;
#  * hand_recrop: its 13 PRELUs stay float (the delegate takes float PRELU only); --all-int8
#    quantizes them and inspect reports them outside the delegate;
#  * inspect --json's litert_xnnpack agrees with the text; quantize warns, in one line, when the
#    model it wrote leaves more ops outside the delegate than the float model did.
# usage: deploy.sh QCAL_BINARY
set -euo pipefail
QCAL=$1
EVAL_EVERY=7
source "$(dirname "$0")/common.sh"
RECROP="$CACHE/zoo/hand_recrop.tflite"
[[ -f "$RECROP" ]] || { echo "FAIL: missing fixture $RECROP (scripts/fetch_fixtures.sh fetches it)"; exit 1; }
FACE="$CACHE/models/face_detection_short_range.tflite"
fail() { echo "FAIL: $*"; exit 1; }

# expect_placement MODEL PATTERN: the text line of qcal inspect about LiteRT matches PATTERN.
expect_placement() {
  "$QCAL" inspect "$1" >"$W/inspect.txt"
  grep -Eq "$2" "$W/inspect.txt" || { sed -n '/LiteRT on CPU/,/^weights/p' "$W/inspect.txt"; fail "$1: expected /$2/"; }
}

"$QCAL" calibrate "$FACE" --images "$W/calib" --mean 127.5 --std 127.5 --quiet -o "$W/face.json" >/dev/null
"$QCAL" quantize "$FACE" --calib "$W/face.json" --io int8 --quiet -o "$W/face.tflite" >/dev/null
expect_placement "$W/face.tflite" "XNNPACK takes ([0-9]+) of \1 operators \(one delegated graph\)"
"$QCAL" quantize "$FACE" --calib "$W/face.json" --io int8 --no-fuse-activations --quiet -o "$W/face_unfused.tflite" >/dev/null
expect_placement "$W/face_unfused.tflite" "^  RELU x17 \(op .*\): float32 only \(int8 here\)"
"$QCAL" inspect "$W/face_unfused.tflite" --json >"$W/face_unfused.json"
[[ $(json "$W/face_unfused.json" "d['litert_xnnpack']['operators'] - d['litert_xnnpack']['delegated']") == 17 ]] ||
  fail "inspect --json does not count the 17 int8 RELUs outside the delegate"
echo "PASS face_detection_short_range: folded int8 model in one delegated graph; 17 int8 RELUs named when not folded"

"$QCAL" quantize "$RECROP" --images "$W/calib" --io int8 --quiet -o "$W/recrop.tflite" >"$W/recrop.log"
grep -q "PRELU.*XNNPACK delegate takes float PRELU but not int8" "$W/recrop.log" || fail "no reason printed for the float PRELUs"
expect_placement "$W/recrop.tflite" "XNNPACK takes ([0-9]+) of \1 operators \(one delegated graph\)"
"$QCAL" quantize "$RECROP" --images "$W/calib" --io int8 --all-int8 --quiet -o "$W/recrop_all.tflite" >"$W/recrop_all.log"
grep -q "note: LiteRT's XNNPACK delegate leaves 13 ops of this model to TFLite's reference kernels (0 in the float model): PRELU x13" \
  "$W/recrop_all.log" || fail "quantize --all-int8 does not warn about the 13 int8 PRELUs outside the delegate"
! grep -q "note: LiteRT's XNNPACK" "$W/recrop.log" || fail "quantize warns about a model XNNPACK takes whole"
expect_placement "$W/recrop_all.tflite" "^  PRELU x13 \(op .*\): float32 only \(int8 here\)"
echo "PASS hand_recrop: PRELU float by default (one delegated graph); --all-int8 leaves 13 int8 PRELUs outside"
