#!/usr/bin/env bash
# qcal calibrate on real photos: a cache with statistics for every float activation,
# reproducible and thread-count independent; ranges reads it back; a cache from another
# model is refused with one line; a folder with nothing usable is an error and writes nothing.
#   usage: calibrate.sh QCAL
set -euo pipefail
QCAL=$1
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/hand_landmark_lite.tflite"
OTHER="$CACHE/models/face_detection_short_range.tflite"
PHOTOS="$CACHE/photos"
[[ -f "$MODEL" && -d "$PHOTOS" ]] || { echo "missing fixtures: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT

"$QCAL" calibrate "$MODEL" --images "$PHOTOS" --num 12 --seed 3 --threads 1 --quiet -o "$W/t1.json" | tee "$W/log1"
"$QCAL" calibrate "$MODEL" --images "$PHOTOS" --num 12 --seed 3 --threads 2 --quiet -o "$W/t2.json" > /dev/null
grep -q "pre-processing: resize=stretch" "$W/log1"
grep -q "dataset: 12 samples used of 28 found" "$W/log1"

node -e '
  const fs = require("fs");
  const [a, b] = process.argv.slice(1).map((f) => JSON.parse(fs.readFileSync(f)));
  const fail = (m) => { console.error("FAIL " + m); process.exit(1); };
  if (a.samples !== 12) fail("samples " + a.samples);
  if (!a.preprocessing || a.preprocessing.resize !== "stretch") fail("pre-processing not recorded");
  if (a.tensors.length < 60) fail("only " + a.tensors.length + " tensors");
  for (const t of a.tensors) if (!(t.min <= t.max) || t.histogram.counts.length > 2048) fail("bad stats for tensor " + t.tensor);
  // Statistics do not depend on the number of threads (histograms merge exactly).
  const strip = (x) => JSON.stringify(x.tensors.map((t) => [t.tensor, t.min, t.max, t.count, t.histogram]));
  if (strip(a) !== strip(b)) fail("1 and 2 threads gave different statistics");
  console.log("calibration cache ok: " + a.tensors.length + " tensors, thread-independent");
' "$W/t1.json" "$W/t2.json"

"$QCAL" ranges "$MODEL" --calib "$W/t1.json" --json > "$W/ranges.json"
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1]));
  for (const t of r.tensors) for (const m of ["minmax", "percentile", "kl", "mse"]) {
    const [lo, hi] = t[m];
    if (!(lo < hi) || !isFinite(lo) || !isFinite(hi)) { console.error("FAIL " + m + " range for " + t.name); process.exit(1); }
    if (lo < t.minmax[0] - 1e-6 || hi > t.minmax[1] + 1e-6) { console.error("FAIL " + m + " wider than min-max for " + t.name); process.exit(1); }
  }
  console.log("ranges ok for " + r.tensors.length + " tensors");
' "$W/ranges.json"

set +e
err=$("$QCAL" ranges "$OTHER" --calib "$W/t1.json" 2>&1 >/dev/null); rc=$?
set -e
[[ $rc -eq 1 && "$err" == *"calibration was collected on another model"* && $(printf '%s\n' "$err" | wc -l) -eq 1 ]] ||
  { echo "FAIL: foreign cache not refused properly ($rc): $err"; exit 1; }
echo "ok   $err"

mkdir "$W/junk" && printf 'not an image' > "$W/junk/a.jpg"
set +e
err=$("$QCAL" calibrate "$MODEL" --images "$W/junk" --quiet -o "$W/junk.json" 2>&1 >/dev/null); rc=$?
set -e
[[ $rc -eq 1 && "$err" == *"no usable samples"* && ! -e "$W/junk.json" ]] || { echo "FAIL: unusable folder ($rc): $err"; exit 1; }
echo "ok   unusable folder refused, nothing written"
