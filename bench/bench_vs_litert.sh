#!/usr/bin/env bash
# Side-by-side speed of qcal's float executor and LiteRT.js (XNNPACK in wasm, 1 thread) on the
# models of docs/performance.md, measured in one run. Prints a Markdown table.
#   usage: bench/bench_vs_litert.sh [QCAL_BINARY] [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
QCAL=${1:-build/qcal}
RUNS=${2:-50}
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODELS=(face_detection_short_range hand_landmark_lite selfie_segmentation pose_landmark_full)
num() { node -e "const j=JSON.parse(require('fs').readFileSync(0));console.log(j$1)"; }

echo "| model | MMACs | LiteRT.js 1T median ms | qcal 1T median ms | qcal/LiteRT | qcal 1T GFLOP/s (% of 256) | qcal 1T img/s | qcal 2T img/s | 2T/1T | + stats 1T ms | stats overhead | arena MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in "${MODELS[@]}"; do
  f="$CACHE/models/$m.tflite"
  lrt=$(node tests/interop/litert_run.js "$f" --seed 1 --range 0,1 --bench "$RUNS" --warmup 10 | num .median_ms)
  q1=$("$QCAL" bench "$f" --threads 1 --runs "$RUNS" --warmup 10 --batch 16 --json)
  q2=$("$QCAL" bench "$f" --threads 2 --runs "$RUNS" --warmup 10 --batch 32 --json)
  qs=$("$QCAL" bench "$f" --threads 1 --runs "$RUNS" --warmup 10 --batch 16 --stats --json)
  node -e "
    const [lrt, a, b, s] = [${lrt}, ${q1}, ${q2}, ${qs}];
    const f = (x, d = 2) => x.toFixed(d);
    console.log('| $m | ' + f(a.mmacs, 1) + ' | ' + f(lrt) + ' | ' + f(a.median_ms) + ' | ' + f(a.median_ms / lrt) + ' | ' +
      f(a.gflops, 1) + ' (' + f(100 * a.peak_fraction, 1) + '%) | ' + f(a.batch_images_per_s, 1) + ' | ' + f(b.batch_images_per_s, 1) + ' | ' +
      f(b.batch_images_per_s / a.batch_images_per_s) + ' | ' + f(s.median_ms) + ' | ' + f(100 * (s.median_ms / a.median_ms - 1), 1) + '% | ' +
      f(a.arena_bytes / 1048576) + ' |');"
done
