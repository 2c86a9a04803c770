#!/usr/bin/env bash
# End to end on a real model and real photos: quantize --report, qcal report, qcal compare,
# --max-drop (automatic float fallback, its rules file reused with --keep-float @FILE) and
# --bias-correction. Checks the files and their keys, not figures (those are in the interop
# tests and docs/quantization.md).   usage: report.sh QCAL
set -euo pipefail
QCAL=$1
EVAL_EVERY=7 source "$(dirname "$0")/common.sh"

echo "-- quantize --report"
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet -o "$W/q.tflite" --report "$W/rep" --eval-images "$W/eval" \
  --task landmarks > "$W/q.log"
for f in report.json report.md report.html; do [[ -s "$W/rep/$f" ]] || { echo "FAIL: no $f"; exit 1; }; done
[[ $(json "$W/rep/report.json" "set(d['layers'][0].keys()).issuperset(['tensor','name','op','sqnr_db','cosine','mse','max_abs','clip_fraction','isolated_sqnr_db'])") == True ]] \
  || { echo "FAIL: layer keys"; exit 1; }
[[ $(json "$W/rep/report.json" "d['accuracy']['task']") == landmarks ]] || { echo "FAIL: task"; exit 1; }
[[ $(json "$W/rep/report.json" "d['calibration']['method']") == minmax ]] || { echo "FAIL: calibration record"; exit 1; }
[[ $(json "$W/rep/report.json" "d['tensor_matching']") == "tensor map" ]] || { echo "FAIL: matching"; exit 1; }
[[ $(json "$W/rep/report.json" "len(d['histograms']) > 0 and all(l['isolated_sqnr_db'] is not None for l in d['layers'] if l['op'] == 'CONV_2D')") == True ]] \
  || { echo "FAIL: histograms / isolated view"; exit 1; }
grep -q "<svg" "$W/rep/report.html" && ! grep -q "<script" "$W/rep/report.html" || { echo "FAIL: html"; exit 1; }
echo "ok"

echo "-- qcal report (reference numerics)"
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$W/eval" --quiet --numerics reference -o "$W/rep2" > /dev/null
[[ $(json "$W/rep2/report.json" "len(d['outputs'])") == 4 ]] || { echo "FAIL: outputs"; exit 1; }
echo "ok"

echo "-- qcal compare"
"$QCAL" compare "$MODEL" --images "$W/calib" --eval-images "$W/eval" --schemes int8:minmax,int8:mse,fp16 --task landmarks \
  --runs 2 --quiet -o "$W/cmp" > /dev/null
[[ $(json "$W/cmp/compare.json" "len(d['schemes'])") == 3 ]] || { echo "FAIL: compare rows"; exit 1; }
[[ $(json "$W/cmp/compare.json" "sum(r['winner'] for r in d['schemes'])") == 1 ]] || { echo "FAIL: one winner"; exit 1; }
for f in int8_minmax.tflite int8_mse.tflite fp16.tflite compare.md compare.html; do
  [[ -s "$W/cmp/$f" ]] || { echo "FAIL: no $f"; exit 1; }
done
# The deployed latency: LiteRT's own timing of the float model and of each scheme (node and the
# LiteRT package are part of the suite's set-up, so the column must be filled here).
[[ $(json "$W/cmp/compare.json" "d['litert']['float_ms'] > 0 and all(r['litert_ms'] > 0 and abs(r['litert_vs_float'] - r['litert_ms'] / d['litert']['float_ms']) < 1e-9 for r in d['schemes'])") == True ]] ||
  { echo "FAIL: compare has no LiteRT latency: $(json "$W/cmp/compare.json" "d['litert']")"; exit 1; }
grep -q "LiteRT latency: the deployed runtime" "$W/cmp/compare.md" || { echo "FAIL: compare.md does not label the LiteRT column"; exit 1; }
echo "ok"

echo "-- quantize --max-drop (rules reusable with --keep-float @FILE)"
# A target of 0 that 2 steps cannot reach: the best model and its rules are written, and the
# failed gate is exit 4 with one line giving the drop reached.
set +e
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet -o "$W/fb.tflite" --max-drop 0 --task landmarks \
  --eval-images "$W/eval" --max-fallback-steps 2 > "$W/fb.log" 2> "$W/fb.err"
rc=$?
set -e
grep -q "^fallback: drop .* does NOT meet the target 0 " "$W/fb.log" || { echo "FAIL: no fallback summary"; cat "$W/fb.log"; exit 1; }
[[ $rc -eq 4 ]] && grep -q "fb.tflite: --max-drop 0 not met: the drop is " "$W/fb.err" && [[ -s "$W/fb.tflite" ]] ||
  { echo "FAIL: --max-drop not met: exit $rc (want 4), '$(cat "$W/fb.err")'"; exit 1; }
# A target the unchanged int8 model meets: exit 0, and the drop it reports is within it.
reached=$(sed -n "s/^fallback: drop \([-0-9.e]*\) with every quantizable op in int8.*/\1/p" "$W/fb.log")
reached=$(awk -v d="$reached" 'BEGIN { printf "%.7f", d + 1e-6 }')  # above the printed value's rounding
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet -o "$W/fbok.tflite" --max-drop "$reached" --task landmarks \
  --eval-images "$W/eval" --max-fallback-steps 2 > "$W/fbok.log"
awk -v d="$(sed -n 's/^fallback: drop \([-0-9.e]*\) meets the target.*/\1/p' "$W/fbok.log")" -v x="$reached" \
  'BEGIN { exit !(d != "" && d <= x) }' || { echo "FAIL: --max-drop $reached: $(grep '^fallback: drop' "$W/fbok.log" | tail -1)"; exit 1; }
# The first layer --max-drop returns to float is the report's worst by the report's own isolated
# figure: the candidate it measures is the model --report measured (same calibration, images).
first=$(sed -n "s/^fallback: op [0-9]* .*(isolated SQNR \([-0-9.]*\) dB) float.*/\1/p" "$W/fb.log" | head -n1)
worst=$(json "$W/rep/report.json" "min(l['isolated_sqnr_db'] for l in d['layers'] if l['quantized'] and l['isolated_sqnr_db'] is not None)")
awk -v a="$first" -v b="$worst" 'BEGIN { exit !(a != "" && (a - b) ^ 2 < 1e-6) }' ||
  { echo "FAIL: --max-drop ranks with isolated SQNR '$first' dB, the report's worst layer has $worst dB"; cat "$W/fb.log"; exit 1; }
[[ -s "$W/fb.tflite.keep-float.txt" ]] || { echo "FAIL: no rules file"; exit 1; }
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet --keep-float @"$W/fb.tflite.keep-float.txt" -o "$W/fb2.tflite" > /dev/null
# The rules rebuild the same model: the same graph, quantization and outputs (the files differ
# only in the record, which says how --max-drop got there).
for m in fb fb2; do "$QCAL" inspect "$W/$m.tflite" --json > "$W/$m.json"; "$QCAL" run "$W/$m.tflite" --seed 3 --output-dir "$W/$m.out" > /dev/null; done
python3 - "$W/fb.json" "$W/fb2.json" <<'PY' || { echo "FAIL: the rules rebuild another graph"; exit 1; }
import json, sys
a, b = (json.load(open(f))["subgraphs"] for f in sys.argv[1:])
diff = [k for k in a[0] if a[0][k] != b[0].get(k)]
if diff: print("differs in", diff, json.dumps(a[0][diff[0]])[:400], json.dumps(b[0][diff[0]])[:400]); sys.exit(1)
PY
for f in "$W"/fb.out/out*.npy; do cmp -s "$f" "$W/fb2.out/$(basename "$f")" || { echo "FAIL: the rebuilt model computes another $(basename "$f")"; exit 1; }; done
echo "ok"

echo "-- quantize --bias-correction"
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet -o "$W/bc.tflite" --bias-correction > "$W/bc.log"
grep -q "^bias correction: [1-9][0-9]* biases shifted" "$W/bc.log" || { echo "FAIL: bias correction"; cat "$W/bc.log"; exit 1; }
# The written model carries the corrections only when no output got worse on the calibration
# data; the record says which, and the log names the output when they were left out.
"$QCAL" inspect --json "$W/bc.tflite" > "$W/bc.json"
node -e '
  const m = JSON.parse(require("fs").readFileSync(process.argv[1]));
  const meta = m.metadata.find(x => x.name === "qcal_quantization");
  const r = meta.record, bc = r.bias_correction;
  const worse = bc.effect_on_calibration_data.some(e => e.sqnr_db_after < e.sqnr_db_before);
  if (typeof bc.applied !== "boolean" || bc.applied === worse) throw new Error("applied " + bc.applied + " with an output worse: " + worse);
  if ((r.summary.bias_corrected > 0) !== bc.applied) throw new Error("the model does not match applied=" + bc.applied);
  console.log("bias correction applied: " + bc.applied);
' "$W/bc.json" || { echo "FAIL: bias correction record"; exit 1; }
if grep -q "not applied" "$W/bc.log"; then
  grep -q "^bias correction: not applied: it makes an output worse on the calibration data ('" "$W/bc.log" ||
    { echo "FAIL: refusal line"; cat "$W/bc.log"; exit 1; }
fi
echo "ok"
