#!/usr/bin/env bash
# Interop: qcal's integer executor predicts what LiteRT computes on a quantized model.
# qcal quantizes a real model (--io int8, calibrated on photo fixtures), pre-processes other
# photos into the model's int8 input, and runs them through LiteRT and through
# `qcal run --numerics xnnpack`: every output element must be identical (0 LSB): the executor
# matches LiteRT bit for bit on every model here, so any difference is a bug. --numerics reference (TFLite's fixed-point kernels) is
# reported next to it, not required to match LiteRT.
# CALIBRATOR "none" takes the model as it is (one already quantized, e.g. by TF's converter);
# arguments after it are pre-processing flags (--mean, --std, ...) for calibration and `qcal preprocess`.
# usage: int8_executor_vs_litert.sh QCAL_BINARY MODEL_NAME CALIBRATOR|none [PREPROCESS_FLAG...]
set -euo pipefail
QCAL=$1
NAME=$2
CAL=$3
shift 3
PRE=("$@")
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=${QCAL_KEEP_DIR:-$(mktemp -d)}
[[ -n "${QCAL_KEEP_DIR:-}" ]] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W/calib" "$W/eval"
i=0
for f in "$CACHE"/photos/*; do  # every third photo evaluates, the rest calibrate
  if (( i++ % 3 == 0 )); then ln -sf "$f" "$W/eval/"; else ln -sf "$f" "$W/calib/"; fi
done
if [[ "$CAL" == none ]]; then
  ln -sf "$MODEL" "$W/int8.tflite"
else
  "$QCAL" quantize "$MODEL" --images "$W/calib" ${PRE[@]+"${PRE[@]}"} --calibrator "$CAL" --io int8 --threads 2 --quiet \
    -o "$W/int8.tflite" >/dev/null
fi
"$QCAL" preprocess "$W/int8.tflite" --images "$W/eval" ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/evalnpy" >/dev/null
node "$HERE/litert_run.js" "$W/int8.tflite" --samples "$W/evalnpy" --outdir "$W/litert" >/dev/null
for f in "$W"/evalnpy/sample*.npy; do
  s=$(basename "$f" .npy)
  "$QCAL" run "$W/int8.tflite" --input "$f" --numerics xnnpack --output-dir "$W/xnnpack/$s" >/dev/null
  "$QCAL" run "$W/int8.tflite" --input "$f" --numerics reference --output-dir "$W/reference/$s" >/dev/null
done
echo "-- qcal --numerics reference vs LiteRT (reported only)"
node "$HERE/fidelity.js" "$W/litert" "$W/reference" | grep -v PASS
echo "-- qcal --numerics xnnpack vs LiteRT (100% identical, 0 LSB)"
node "$HERE/fidelity.js" "$W/litert" "$W/xnnpack" --min-exact 1 --max-lsb 0
