#!/usr/bin/env bash
# Interop: `qcal dequantize` on a real quantized model (a fixture).
#   1. the float twin is written; writing it onto the input is refused (exit 1, input intact);
#   2. op by op on photos, the twin matches the quantized model to within that model's own
#      rounding (twin_check: bounds derived in tests/unit/twin_check.h);
#   3. the twin loads and runs in LiteRT, and qcal's float executor gives LiteRT's outputs
#      (rel_l2 <= 1e-5, or 2x the spread between two LiteRT builds); LiteRT's outputs of the
#      quantized model against the twin's are printed for information (mAP50 of detections,
#      else top-1 agreement and SQNR).
# usage: twin.sh QCAL_BINARY TWIN_CHECK_BINARY MODEL_NAME [PREPROCESS_FLAG...]
set -euo pipefail
QCAL=$1
CHECK=$2
NAME=$3
shift 3
PRE=("$@")
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=${QCAL_KEEP_DIR:-$(mktemp -d)}
[[ -n "${QCAL_KEEP_DIR:-}" ]] || trap 'rm -rf "$W"' EXIT

"$QCAL" dequantize "$MODEL" -o "$W/twin.tflite"
before=$(sha256sum "$MODEL" | cut -d' ' -f1)
if "$QCAL" dequantize "$MODEL" -o "$MODEL" 2>"$W/err"; then echo "FAIL: wrote the twin onto its input"; exit 1; fi
[[ "$(sha256sum "$MODEL" | cut -d' ' -f1)" == "$before" ]] || { echo "FAIL: the input changed"; exit 1; }
echo "refused onto its input: $(cat "$W/err")"

echo "-- op by op against the quantized model, 3 photos"
"$QCAL" preprocess "$MODEL" --images "$CACHE/photos" --num 3 --seed 7 ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/qin" >/dev/null
"$CHECK" "$MODEL" "$W/twin.tflite" "$W"/qin/sample*.npy

echo "-- the twin in LiteRT vs qcal's float executor, same photos"
"$QCAL" preprocess "$W/twin.tflite" --images "$CACHE/photos" --num 3 --seed 7 ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/fin" >/dev/null
node "$HERE/litert_run.js" "$W/twin.tflite" --samples "$W/fin" --outdir "$W/litert" >/dev/null
node "$HERE/litert_run.js" "$W/twin.tflite" --samples "$W/fin" --outdir "$W/litert-relaxed" --variant relaxed >/dev/null
for f in "$W"/fin/sample*.npy; do
  s=$(basename "$f" .npy)
  "$QCAL" run "$W/twin.tflite" --input "$f" --output-dir "$W/qcal/$s" >/dev/null
  node "$HERE/compare_npy.js" "$W/litert/$s" "$W/qcal/$s" --max-rel-l2 1e-5 --or-spread "$W/litert-relaxed/$s" --or-max-abs 1e-7
done
echo "-- LiteRT: quantized model vs its twin (information)"
"$CHECK" --shaped "$MODEL" "$W/quant.tflite" >/dev/null  # TOCO's unshaped detection outputs crash LiteRT
node "$HERE/litert_run.js" "$W/quant.tflite" --samples "$W/qin" --outdir "$W/litert-quant" >/dev/null
if [[ $(ls "$W/litert-quant/sample00000"/out*.npy | wc -l) == 4 ]]; then
  node "$HERE/detection_map.js" "$W/litert" "$W/litert-quant" | sed 's/^PASS: //'
else
  node "$HERE/fidelity.js" "$W/litert" "$W/litert-quant" --top1 0 | grep -v PASS || true
fi
