#!/usr/bin/env bash
# Interop: qcal's float executor against the real LiteRT runtime on one real model.
#   1. two seeded random inputs in [0,1] and two real photos (pre-processed by qcal as x/255):
#      every output within rel_l2 <= 1e-5 of LiteRT, or within 2x the distance between two
#      builds of LiteRT itself (wasm SIMD128 vs relaxed SIMD with FMA) where that is larger:
#      deep models amplify float reassociation noise (pose_landmark_* outputs differ between
#      the two LiteRT builds by up to ~8e-4), and no executor can be held closer to one
#      build than the runtime's builds are to each other. (qcal's conv, depthwise and FC
#      follow XNNPACK's summation order without FMA, so on most models they are bit-exact.)
#      Outputs that are ~0 everywhere (selfie_segmentation's mask on noise is ~1e-10) pass
#      with max |diff| <= 1e-7, where a relative error measures nothing;
#   2. 1 and 2 threads give bit-identical outputs;
#   3. a stacked batch of two samples equals the two single runs, bit for bit.
# usage: executor_vs_litert.sh QCAL_BINARY MODEL_NAME
set -euo pipefail
QCAL=$1
NAME=$2
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

compare_one() {  # label, input files...
  local label=$1; shift
  local inputs=()
  for f in "$@"; do inputs+=(--input "$f"); done
  node "$HERE/litert_run.js" "$MODEL" "${inputs[@]}" --outdir "$W/$label.litert"
  node "$HERE/litert_run.js" "$MODEL" "${inputs[@]}" --outdir "$W/$label.litert-relaxed" --variant relaxed
  "$QCAL" run "$MODEL" "${inputs[@]}" --output-dir "$W/$label.qcal" >/dev/null
  echo "-- $label: qcal vs LiteRT (rel_l2 <= max(1e-5, 2 x LiteRT build spread))"
  node "$HERE/compare_npy.js" "$W/$label.litert" "$W/$label.qcal" --max-rel-l2 1e-5 --or-spread "$W/$label.litert-relaxed" --or-max-abs 1e-7
}

for seed in 1 2; do
  node "$HERE/litert_run.js" "$MODEL" --seed $seed --range 0,1 --outdir "$W/seed$seed.gen" >/dev/null
  compare_one "seed$seed" "$W/seed$seed.gen"/in*.npy
done

# Real photos, only for single-image-input models.
if "$QCAL" preprocess "$MODEL" --images "$CACHE/photos" --num 2 --seed 5 -o "$W/photos" --quiet >/dev/null 2>"$W/pp.err"; then
  for f in "$W/photos"/sample*.npy; do compare_one "photo-$(basename "$f" .npy)" "$f"; done
elif grep -qE "needs a model with one input|not an image|image inputs (need|must)|channels in" "$W/pp.err"; then
  echo "-- photos skipped: not an image model: $(cat "$W/pp.err")"
else
  echo "FAIL: qcal preprocess failed on the photo fixtures: $(cat "$W/pp.err")"
  exit 1
fi

echo "-- 2 threads vs 1 thread (bit-identical)"
inputs=()
for f in "$W/seed1.gen"/in*.npy; do inputs+=(--input "$f"); done
"$QCAL" run "$MODEL" "${inputs[@]}" --threads 2 --output-dir "$W/t2" >/dev/null
node "$HERE/compare_npy.js" "$W/seed1.qcal" "$W/t2" --exact

echo "-- a stacked batch of two samples equals the two single runs (bit-identical)"
mkdir -p "$W/batch_in" "$W/singles"
inputs=()
for f in "$W/seed1.gen"/in*.npy; do
  b=$(basename "$f")
  node "$HERE/stack_npy.js" "$W/batch_in/$b" "$f" "$W/seed2.gen/$b"
  inputs+=(--input "$W/batch_in/$b")
done
"$QCAL" run "$MODEL" "${inputs[@]}" --threads 2 --output-dir "$W/batch" >/dev/null
for f in "$W/seed1.qcal"/out*.npy; do
  b=$(basename "$f")
  node "$HERE/stack_npy.js" "$W/singles/$b" "$f" "$W/seed2.qcal/$b"
done
node "$HERE/compare_npy.js" "$W/singles" "$W/batch" --exact
