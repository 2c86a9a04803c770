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
# One Node process runs every model in LiteRT and one compares every pair (Node and the wasm
# runtime start in about 0.5 s, which was most of this test's time when started per model).
: > "$W/jobs"
for m in "$W"/models/*.tflite; do
  for seed in 1 2; do printf '%s\t%s\t%s\n' "$m" $seed "$W/$(basename "$m" .tflite).$seed.litert" >> "$W/jobs"; done
done
fail=0
node "$HERE/litert_run.js" --jobs "$W/jobs" >/dev/null 2> "$W/litert.err" || { sed 's/^/FAIL LiteRT: /' "$W/litert.err"; fail=1; }
: > "$W/pairs"
while IFS=$'\t' read -r m seed dir; do
  d=${dir%.litert}
  [[ -f "$dir/manifest.json" ]] || continue  # LiteRT failed on it: reported above
  inputs=()
  for f in "$dir"/in*.npy; do inputs+=(--input "$f"); done
  "$QCAL" run "$m" "${inputs[@]}" --numerics xnnpack --output-dir "$d.qcal" >/dev/null
  printf '%s\t%s\t%s\n' "$dir" "$d.qcal" "$(basename "$m" .tflite) seed $seed" >> "$W/pairs"
done < "$W/jobs"
(( $(wc -l < "$W/pairs") == $(wc -l < "$W/jobs") )) || fail=1
node "$HERE/compare_npy.js" --pairs "$W/pairs" --exact || fail=1
exit $fail
