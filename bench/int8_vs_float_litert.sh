#!/usr/bin/env bash
# LiteRT.js latency (XNNPACK in wasm, 1 thread) of each model's float form against qcal's int8
# forms (minmax, --io int8 and --io float), with activations folded into the op before them
# (qcal's default) and without (--no-fuse-activations), plus HARD_SWISH kept float where a
# model has it; and how many standalone int8 activation ops each model keeps. Each round
# times every variant once, in turn, so load on a shared machine hits them alike. Wall-clock
# medians move with the load of a shared machine; the CPU time per inference does much less:
# the process's user + system time (/usr/bin/time) for RUNS timed runs after 10 warm-up runs,
# minus that of a process that loads the model and runs it once, over RUNS + 9. The table
# gives the median over rounds of each round's figures.
#   usage: bench/int8_vs_float_litert.sh [QCAL_BINARY] [RUNS] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
QCAL=${1:-build/qcal}
RUNS=${2:-30}
ROUNDS=${3:-3}
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODELS=(face_detection_short_range selfie_segmentation hand_landmark_lite)
declare -A PRE=([face_detection_short_range]="--mean 127.5 --std 127.5")  # its input is [-1, 1]
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

declare -A VARIANTS
for m in "${MODELS[@]}"; do
  f="$CACHE/models/$m.tflite"
  read -r -a pre <<<"${PRE[$m]:-}"
  "$QCAL" calibrate "$f" --images "$CACHE/photos" ${pre[@]+"${pre[@]}"} --threads 2 --quiet -o "$W/$m.json" >/dev/null 2>&1
  cp "$f" "$W/$m.float.tflite"
  v="float"
  for io in int8 float; do
    q=(quantize "$f" --calib "$W/$m.json" --calibrator minmax --io "$io" --quiet)
    "$QCAL" "${q[@]}" -o "$W/$m.int8_io_$io.tflite" >/dev/null
    "$QCAL" "${q[@]}" --no-fuse-activations -o "$W/$m.int8_io_${io}_unfused.tflite" >/dev/null
    v+=" int8_io_$io int8_io_${io}_unfused"
  done
  if "$QCAL" inspect "$f" | grep -q HARD_SWISH; then
    "$QCAL" quantize "$f" --calib "$W/$m.json" --calibrator minmax --io int8 --keep-float HARD_SWISH --quiet \
      -o "$W/$m.int8_io_int8_hard_swish_float.tflite" >/dev/null
    v+=" int8_io_int8_hard_swish_float"
  fi
  VARIANTS[$m]=$v
done

for ((r = 0; r < ROUNDS; ++r)); do
  for m in "${MODELS[@]}"; do
    for v in ${VARIANTS[$m]}; do
      run=(node tests/interop/litert_run.js "$W/$m.$v.tflite" --seed 1 --range 0,1)
      /usr/bin/time -f "%U %S" -o "$W/cpu1" "${run[@]}" --bench 1 --warmup 0 >/dev/null
      /usr/bin/time -f "%U %S" -o "$W/cpuN" "${run[@]}" --bench "$RUNS" --warmup 10 >"$W/out.json"
      node -e "
        const fs = require('fs'), j = JSON.parse(fs.readFileSync('$W/out.json'));
        const cpu = (f) => fs.readFileSync(f, 'utf8').trim().split(/\s+/).map(Number).reduce((a, b) => a + b);
        console.log(j.median_ms, j.min_ms, 1000 * (cpu('$W/cpuN') - cpu('$W/cpu1')) / ($RUNS + 9));" >>"$W/$m.$v.ms"
    done
  done
done

echo "| model | variant | int8 RELU/RELU6/RELU_N1_TO_1 ops | int8 HARD_SWISH ops | CPU ms per inference (each round's) | / float | wall median ms | / float | fastest run ms | / float |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  for v in ${VARIANTS[$m]}; do
    "$QCAL" inspect "$W/$m.$v.tflite" --json >"$W/$m.$v.inspect.json"
    node -e "
      const fs = require('fs');
      const sg = JSON.parse(fs.readFileSync('$W/$m.$v.inspect.json')).subgraphs[0];
      const n = (k) => sg.operators.filter((o) => o.opcode === k && sg.tensors[o.outputs[0]].dtype === 'int8').length;
      const rounds = (f) => fs.readFileSync(f, 'utf8').trim().split('\\n').map((l) => l.split(' ').map(Number));
      const median = (x) => x.slice().sort((a, b) => a - b)[x.length >> 1];
      const stats = (f) => {
        const r = rounds(f);
        return { wall: median(r.map((x) => x[0])), min: Math.min(...r.map((x) => x[1])), cpus: r.map((x) => x[2]), cpu: median(r.map((x) => x[2])) };
      };
      const a = stats('$W/$m.$v.ms'), f = stats('$W/$m.float.ms');
      const d = (x) => x.toFixed(2);
      console.log('| $m | $v | ' + (n('RELU') + n('RELU6') + n('RELU_N1_TO_1')) + ' | ' + n('HARD_SWISH') + ' | ' + d(a.cpu) +
        ' (' + a.cpus.map(d).join(', ') + ') | ' + d(a.cpu / f.cpu) + ' | ' + d(a.wall) + ' | ' + d(a.wall / f.wall) + ' | ' +
        d(a.min) + ' | ' + d(a.min / f.min) + ' |');"
  done
done
