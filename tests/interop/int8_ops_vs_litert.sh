#!/usr/bin/env bash
# Interop: qcal's integer kernels against the real LiteRT runtime, one op at a time.
# make_op_models writes small int8 single-op models (tests/interop/op_models/*_cases.cc);
# each runs in LiteRT and in qcal (--numerics xnnpack) on the same seeded int8 inputs
# (two seeds) and the outputs must be identical, byte for byte.
# usage: int8_ops_vs_litert.sh QCAL_BINARY MAKE_OP_MODELS_BINARY [SUBSTRING]
set -euo pipefail
QCAL=$1
MAKER=$2
FILTER=${3:-}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
"$MAKER" "$W/models" $FILTER
fail=0
for m in "$W"/models/*.tflite; do
  name=$(basename "$m" .tflite)
  for seed in 1 2; do
    d="$W/$name.$seed"
    node "$HERE/litert_run.js" "$m" --seed $seed --outdir "$d.litert" >/dev/null
    inputs=()
    for f in "$d.litert"/in*.npy; do inputs+=(--input "$f"); done
    "$QCAL" run "$m" "${inputs[@]}" --numerics xnnpack --output-dir "$d.qcal" >/dev/null
    if out=$(node "$HERE/compare_npy.js" "$d.litert" "$d.qcal" --exact 2>&1); then
      echo "PASS $name seed $seed"
    else
      echo "FAIL $name seed $seed"; echo "$out" | sed 's/^/    /'; fail=1
    fi
  done
done
exit $fail
