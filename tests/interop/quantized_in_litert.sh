#!/usr/bin/env bash
# Interop + fidelity: qcal's quantized models in the real LiteRT runtime, on real photos.
#   * calibration on one part of the photo fixtures, evaluation on the other (never seen
#     by the calibration);
#   * int8 (--io float) with every calibrator, int8 --io int8 and --io uint8, fp16 and
#     dynamic: each loads and runs in LiteRT without error;
#   * fidelity of each against the float model, both run by LiteRT: per-output SQNR and
#     cosine, and (segmentation) mask agreement at 0.5, all printed. For the calibrator
#     given, every output must keep SQNR >= MIN_SQNR (or, for a mask output, agreement >=
#     MIN_AGREEMENT). These bars guard against regressions at the level qcal reaches today;
#     docs/quantization.md records the figures, and where they stay below the 20 dB / 98%
#     the project aims for, which layers are responsible.
# usage: quantized_in_litert.sh QCAL_BINARY MODEL_NAME CALIBRATOR MIN_SQNR [MASK_OUTPUT MIN_AGREEMENT]
set -euo pipefail
QCAL=$1
NAME=$2
BEST=$3
MIN_SQNR=$4
MASK=${5:-}
MIN_AGREEMENT=${6:-0.98}
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=${QCAL_KEEP_DIR:-$(mktemp -d)}
[[ -n "${QCAL_KEEP_DIR:-}" ]] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W/calib" "$W/eval"

# Evaluation photos (people, animals, objects); the other fixtures calibrate.
EVAL="darknet_person.jpg skimage_astronaut.png grace_hopper.jpg darknet_dog.jpg skimage_chelsea.png
      skimage_coffee.png darknet_horses.jpg skimage_motorcycle_left.png"
for f in "$CACHE"/photos/*; do
  b=$(basename "$f")
  if [[ " $(echo $EVAL) " == *" $b "* ]]; then ln -sf "$f" "$W/eval/$b"; else ln -sf "$f" "$W/calib/$b"; fi
done

"$QCAL" calibrate "$MODEL" --images "$W/calib" --threads 2 --quiet -o "$W/calib.json" >/dev/null
"$QCAL" preprocess "$MODEL" --images "$W/eval" --quiet -o "$W/evalnpy" >/dev/null

run_litert() {  # model, outdir: every eval sample through LiteRT
  local model=$1 out=$2
  for f in "$W"/evalnpy/sample*.npy; do
    node "$HERE/litert_run.js" "$model" --input "$f" --outdir "$out/$(basename "$f" .npy)" >/dev/null
  done
}

run_litert "$MODEL" "$W/float"
fidelity_args=()
[[ -n "$MASK" ]] && fidelity_args=(--mask "$MASK" --min-agreement "$MIN_AGREEMENT")
status=0
for cal in minmax percentile kl mse; do
  "$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator $cal -o "$W/int8_$cal.tflite" > "$W/int8_$cal.log"
  run_litert "$W/int8_$cal.tflite" "$W/int8_$cal"
  echo "-- int8 --calibrator $cal (LiteRT, $(ls "$W/eval" | wc -l) eval photos)"
  if [[ $cal == "$BEST" ]]; then
    node "$HERE/fidelity.js" "$W/float" "$W/int8_$cal" --min-sqnr "$MIN_SQNR" "${fidelity_args[@]}" || status=1
  else
    node "$HERE/fidelity.js" "$W/float" "$W/int8_$cal" ${MASK:+--mask $MASK} | grep -v PASS
  fi
done
for io in int8 uint8; do
  "$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator "$BEST" --io $io -o "$W/int8_io$io.tflite" >/dev/null
  node "$HERE/litert_run.js" "$W/int8_io$io.tflite" --seed 1 --outdir "$W/int8_io$io.out" >/dev/null
  echo "-- int8 --io $io: loads and runs in LiteRT"
done
for scheme in fp16 dynamic; do
  "$QCAL" quantize "$MODEL" --scheme $scheme -o "$W/$scheme.tflite" >/dev/null
  run_litert "$W/$scheme.tflite" "$W/$scheme"
  echo "-- $scheme (LiteRT)"
  node "$HERE/fidelity.js" "$W/float" "$W/$scheme" ${MASK:+--mask $MASK} | grep -v PASS
done
exit $status
