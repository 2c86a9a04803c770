#!/usr/bin/env bash
# LiteRT.js latency (XNNPACK in wasm, 1 thread) of each model's float form against qcal's int8
# forms (minmax, --io int8 and --io float, qcal's defaults), and against the int8 model qcal
# would write without its deployment rules ("naive": --all-int8 --no-fuse-activations, i.e.
# standalone int8 RELU/PRELU/HARD_SWISH ops) where that model differs; with how many ops
# LiteRT's XNNPACK delegate takes in each (qcal inspect). Each round times every variant once,
# in turn, so load on a shared machine hits them alike; node runs with --no-liftoff (V8
# compiles the wasm with its optimizing tier up front), so the timed runs do not straddle the
# tier-up. The table gives, per variant, the median over rounds of each round's median, and
# the fastest run of all rounds, each also as a ratio to the float model's.
#   usage: bench/int8_vs_float_litert.sh [QCAL_BINARY] [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
QCAL=${1:-build/qcal}
RUNS=${2:-30}
ROUNDS=${3:-3}
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODELS=(face_detection_short_range hand_landmark_lite selfie_segmentation pose_landmark_lite pose_landmark_full
        mobilenet_v1_0.25_224_float_metadata palm_detection_lite)
declare -A PRE=([face_detection_short_range]="--mean 127.5 --std 127.5")  # its input is [-1, 1]
model_file() { if [[ -f "$CACHE/models/$1.tflite" ]]; then echo "$CACHE/models/$1.tflite"; else echo "$CACHE/zoo/$1.tflite"; fi; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

declare -A VARIANTS
delegated() { "$QCAL" inspect "$1" --json | node -e "const j=JSON.parse(require('fs').readFileSync(0)).litert_xnnpack; console.log(j.delegated + '/' + j.operators)"; }
for m in "${MODELS[@]}"; do
  f=$(model_file "$m")
  read -r -a pre <<<"${PRE[$m]:-}"
  "$QCAL" calibrate "$f" --images "$CACHE/photos" ${pre[@]+"${pre[@]}"} --threads 2 --quiet -o "$W/$m.json" >/dev/null 2>&1
  cp "$f" "$W/$m.float.tflite"
  v="float"
  for io in int8 float; do
    "$QCAL" quantize "$f" --calib "$W/$m.json" --calibrator minmax --io "$io" --quiet -o "$W/$m.int8_io_$io.tflite" >/dev/null
    v+=" int8_io_$io"
  done
  "$QCAL" quantize "$f" --calib "$W/$m.json" --calibrator minmax --io int8 --all-int8 --no-fuse-activations --quiet \
    -o "$W/$m.naive_io_int8.tflite" >/dev/null
  [[ $(delegated "$W/$m.naive_io_int8.tflite") == $(delegated "$W/$m.int8_io_int8.tflite") ]] || v+=" naive_io_int8"
  VARIANTS[$m]=$v
done

for ((r = 0; r < ROUNDS; ++r)); do
  for m in "${MODELS[@]}"; do
    for v in ${VARIANTS[$m]}; do
      node --no-liftoff tests/interop/litert_run.js "$W/$m.$v.tflite" --seed 1 --range 0,1 --bench "$RUNS" --warmup 10 |
        node -e "const j = JSON.parse(require('fs').readFileSync(0)); console.log(j.median_ms, j.min_ms)" >>"$W/$m.$v.ms"
    done
  done
done

echo "| model | variant | ops XNNPACK takes | median ms (each round's) | / float | fastest run ms | / float |"
echo "|---|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  for v in ${VARIANTS[$m]}; do
    taken=$(delegated "$W/$m.$v.tflite")
    node -e "
      const fs = require('fs');
      const rounds = (f) => fs.readFileSync(f, 'utf8').trim().split('\\n').map((l) => l.split(' ').map(Number));
      const median = (x) => x.slice().sort((a, b) => a - b)[x.length >> 1];
      const stats = (f) => { const r = rounds(f); return { walls: r.map((x) => x[0]), wall: median(r.map((x) => x[0])), min: Math.min(...r.map((x) => x[1])) }; };
      const a = stats('$W/$m.$v.ms'), f = stats('$W/$m.float.ms');
      const d = (x) => x.toFixed(2);
      console.log('| $m | $v | $taken | ' + d(a.wall) + ' (' + a.walls.map(d).join(', ') + ') | ' + d(a.wall / f.wall) + ' | ' +
        d(a.min) + ' | ' + d(a.min / f.min) + ' |');"
  done
done
