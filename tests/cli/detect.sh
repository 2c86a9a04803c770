#!/usr/bin/env bash
# --task detect on raw SSD outputs: face_detection_short_range (regressors [1,896,16],
# classificators [1,896,1]) decoded with the mediapipe-face-short anchors, float vs int8
# (mAP@0.5 in [0,1]) and float vs float (mAP 1.0); quantize --report and compare take the same
# flags; missing or mismatched anchors are one-line errors.   usage: detect.sh QCAL
set -euo pipefail
QCAL=$1
EVAL_EVERY=7 source "$(dirname "$0")/common.sh"
FACE="$CACHE/models/face_detection_short_range.tflite"
[[ -f "$FACE" ]] || { echo "missing fixture $FACE: run scripts/fetch_fixtures.sh"; exit 1; }
PHOTOS="$CACHE/photos"
NORM=(--mean 127.5,127.5,127.5 --std 127.5,127.5,127.5)  # MediaPipe feeds [-1, 1]
DET=(--task detect --ssd-anchors mediapipe-face-short)

echo "-- quantize --report, qcal report float vs int8 and float vs float"
"$QCAL" quantize "$FACE" --images "$PHOTOS" "${NORM[@]}" --quiet -o "$W/f8.tflite" --report "$W/qrep" "${DET[@]}" > /dev/null
"$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${NORM[@]}" "${DET[@]}" --quiet -o "$W/rep" > "$W/rep.log"
grep -q "decoded with preset mediapipe-face-short (896 anchors)" "$W/rep.log" || { echo "FAIL: decoding line"; cat "$W/rep.log"; exit 1; }
for r in qrep rep; do
  [[ $(json "$W/$r/report.json" "d['accuracy']['metric'] == 'map50_vs_float' and 0 <= d['accuracy']['quantized'] <= 1 and d['accuracy']['float_detections'] > 0") == True ]] \
    || { echo "FAIL: $r mAP"; exit 1; }
done
"$QCAL" report "$FACE" "$FACE" --images "$PHOTOS" "${NORM[@]}" "${DET[@]}" --quiet -o "$W/ff" > /dev/null
[[ $(json "$W/ff/report.json" "d['accuracy']['quantized'] == 1.0 and d['accuracy']['float_detections'] == d['accuracy']['quantized_detections'] > 0") == True ]] \
  || { echo "FAIL: float vs float mAP"; exit 1; }
echo "ok"

echo "-- compare with the same flags; key=value anchors equal the preset"
"$QCAL" compare "$FACE" --images "$W/calib" --eval-images "$PHOTOS" "${NORM[@]}" --schemes int8:minmax,fp16 --runs 1 \
  "${DET[@]}" --no-litert --quiet -o "$W/cmp" > /dev/null
[[ $(json "$W/cmp/compare.json" "len(d['schemes'])") == 2 ]] || { echo "FAIL: compare rows"; exit 1; }
# --no-litert: no LiteRT figures, and the table says why
[[ $(json "$W/cmp/compare.json" "d['litert']['float_ms'] is None and all(r['litert_ms'] is None for r in d['schemes'])") == True ]] ||
  { echo "FAIL: --no-litert still has LiteRT figures"; exit 1; }
grep -q "LiteRT latency: not measured (--no-litert)" "$W/cmp/compare.md" || { echo "FAIL: compare.md does not say why"; exit 1; }
"$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${NORM[@]}" --task detect --quiet -o "$W/kv" --box-scale 128 --box-order xywh \
  --ssd-anchors num_layers=4,min_scale=0.1484375,max_scale=0.75,input_size=128,strides=8:16:16:16,aspect_ratios=1.0,fixed_anchor_size=true > /dev/null
[[ $(json "$W/kv/report.json" "d['accuracy']['quantized']") == $(json "$W/rep/report.json" "d['accuracy']['quantized']") ]] \
  || { echo "FAIL: key=value anchors"; exit 1; }
echo "ok"

echo "-- errors: raw outputs without anchors, wrong anchor count, anchors without --task detect"
expect_error() {  # PATTERN CMD...
  local pat=$1; shift
  if "$@" > "$W/err.out" 2> "$W/err.log"; then echo "FAIL: succeeded: $*"; exit 1; fi
  local msg; msg=$(grep '^qcal:' "$W/err.log" || true)
  [[ $(printf '%s\n' "$msg" | grep -c .) == 1 && "$msg" == *"$pat"* ]] || { echo "FAIL: want '$pat', got:"; cat "$W/err.log"; exit 1; }
}
expect_error "pass --ssd-anchors" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$W/eval" --task detect --quiet -o "$W/e1"
expect_error "2304 anchors, the model's 'regressors' [1,896,16] has 896 boxes" \
  "$QCAL" report "$FACE" "$W/f8.tflite" --images "$W/eval" --task detect --ssd-anchors mediapipe-face-full --quiet -o "$W/e2"
expect_error "are for --task detect" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$W/eval" --ssd-anchors mediapipe-face-short --quiet -o "$W/e3"
[[ ! -e "$W/e1" && ! -e "$W/e2" && ! -e "$W/e3" ]] || { echo "FAIL: output written on error"; exit 1; }
echo "ok"

echo "-- --labels BOXES.csv: boxes written from the float model's own detections (qcal run + the"
echo "   preset's decoding re-done in Python) give float mAP 1.0; one extra wrong box gives n/(n+1)"
"$QCAL" preprocess "$FACE" --images "$PHOTOS" "${NORM[@]}" --quiet -o "$W/pp" > /dev/null 2>&1
cat > "$W/decode.py" <<'PY'
# out0.npy/out1.npy of `qcal run` -> 'file,0,ymin,xmin,ymax,xmax' lines, decoded as mediapipe-face-short
# does: anchors 16x16x2 + 8x8x6 (fixed size 1), x/y/w/h / 128, sigmoid of logits clipped at 100 >= 0.5,
# weighted NMS merging IoU > 0.3.   usage: decode.py OUTDIR FILE
import math, struct, sys
def npy(p):
    b = open(p, 'rb').read()
    d = b[10 + struct.unpack('<H', b[8:10])[0]:]
    return struct.unpack('<%df' % (len(d) // 4), d)
reg, cls = npy(sys.argv[1] + '/out0.npy'), npy(sys.argv[1] + '/out1.npy')
anchors = [((x + 0.5) / g, (y + 0.5) / g) for g, k in ((16, 2), (8, 6)) for y in range(g) for x in range(g) for _ in range(k)]
cand = []
for i, (ax, ay) in enumerate(anchors):
    s = 1 / (1 + math.exp(-max(-100.0, min(100.0, cls[i]))))
    if s >= 0.5:
        xc, yc, w, h = reg[16 * i] / 128 + ax, reg[16 * i + 1] / 128 + ay, reg[16 * i + 2] / 128, reg[16 * i + 3] / 128
        cand.append((s, [yc - h / 2, xc - w / 2, yc + h / 2, xc + w / 2]))
cand.sort(key=lambda c: -c[0])
def iou(a, b):
    iw, ih = min(a[3], b[3]) - max(a[1], b[1]), min(a[2], b[2]) - max(a[0], b[0])
    return 0 if iw <= 0 or ih <= 0 else iw * ih / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - iw * ih)
alive = [True] * len(cand)
for i, (s, b) in enumerate(cand):
    if not alive[i]: continue
    ws, acc = 0, [0] * 4
    for j in range(i, len(cand)):
        if alive[j] and (j == i or iou(b, cand[j][1]) > 0.3):
            alive[j] = False
            ws += cand[j][0]
            acc = [a + cand[j][0] * v for a, v in zip(acc, cand[j][1])]
    print('%s,0,%.6f,%.6f,%.6f,%.6f' % (sys.argv[2], *[min(1.0, max(0.0, a / ws)) for a in acc]))
PY
echo "file,class,ymin,xmin,ymax,xmax" > "$W/boxes.csv"
i=0
while read -r src; do
  npy=$(printf '%s/pp/sample%05d.npy' "$W" "$i")
  "$QCAL" run "$FACE" --input "$npy" --output-dir "$W/run$i" > /dev/null
  python3 "$W/decode.py" "$W/run$i" "$(basename "$src")" >> "$W/boxes.csv"
  i=$((i + 1))
done < <(json "$W/pp/index.json" "'\n'.join(d['sources'])")
n=$(($(wc -l < "$W/boxes.csv") - 1))
(( n > 0 )) || { echo "FAIL: no float detections to label"; exit 1; }
"$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${NORM[@]}" "${DET[@]}" --labels "$W/boxes.csv" --quiet -o "$W/lab" > "$W/lab.log"
[[ $(json "$W/lab/report.json" "d['accuracy']['metric'] == 'map50_vs_labels' and d['accuracy']['float'] == 1.0 and d['accuracy']['labels']['float_map50'] == 1.0 and d['accuracy']['labels']['labelled_boxes'] == $n and d['accuracy']['labels']['class_agnostic'] and 0 <= d['accuracy']['labels']['quantized_map50'] <= 1 and abs(d['accuracy']['drop'] - (1.0 - d['accuracy']['labels']['quantized_map50'])) < 1e-12") == True ]] \
  || { echo "FAIL: float mAP vs its own boxes"; cat "$W/lab/report.json" | head -40; exit 1; }
grep -q "^labels (.*boxes.csv): .* $n boxes; mAP@0.5 (class-agnostic) float 1.0 quantized" "$W/lab.log" || { echo "FAIL: console labels line"; cat "$W/lab.log"; exit 1; }
grep -q "| mAP@0.5 (class-agnostic) | 1.0000 |" "$W/lab/report.md" || { echo "FAIL: report.md labels row"; exit 1; }
grep -q "Against the labels" "$W/lab/report.html" || { echo "FAIL: report.html labels table"; exit 1; }
# One wrong box on an image that has no face (darknet_dog): recall (n)/(n+1) at precision 1.
cp "$W/boxes.csv" "$W/wrong.csv"
echo "darknet_dog.jpg,0,0.0,0.0,0.05,0.05" >> "$W/wrong.csv"
echo "nowhere.jpg,0,0.1,0.1,0.2,0.2" >> "$W/wrong.csv"
"$QCAL" report "$FACE" "$FACE" --images "$PHOTOS" "${NORM[@]}" "${DET[@]}" --labels "$W/wrong.csv" --quiet -o "$W/lab2" > /dev/null
[[ $(json "$W/lab2/report.json" "(lambda l: abs(l['float_map50'] - $n / ($n + 1)) < 1e-12 and l['quantized_map50'] == l['float_map50'] and l['map50_drop'] == 0 and l['entries_without_sample'] == 1)(d['accuracy']['labels'])") == True ]] \
  || { echo "FAIL: one wrong box"; exit 1; }
echo "ok"

echo "-- box label errors: one line naming file and line"
printf 'a.jpg,0,0.1,0.1,0.2,0.2\ngrace_hopper.jpg,0,0.2,0.1,1.2,0.5\n' > "$W/range.csv"
expect_error "range.csv line 2: ymax 1.2 is outside [0,1]" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${DET[@]}" --labels "$W/range.csv" --quiet -o "$W/e4"
printf 'grace_hopper.jpg,0,0.5,0.1,0.2,0.5\n' > "$W/order.csv"
expect_error "order.csv line 1: ymin 0.5 > ymax 0.2" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${DET[@]}" --labels "$W/order.csv" --quiet -o "$W/e5"
printf 'grace_hopper.jpg,0\n' > "$W/cls.csv"
expect_error "cls.csv line 1: expected 'file,class,ymin,xmin,ymax,xmax', got 2 fields" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${DET[@]}" --labels "$W/cls.csv" --quiet -o "$W/e6"
expect_error "box labels need --resize stretch" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${DET[@]}" --resize letterbox --labels "$W/boxes.csv" --quiet -o "$W/e7"
expect_error "--labels subfolders is for --task classify" "$QCAL" report "$FACE" "$W/f8.tflite" --images "$PHOTOS" "${DET[@]}" --labels subfolders --quiet -o "$W/e8"
[[ ! -e "$W/e4" && ! -e "$W/e7" ]] || { echo "FAIL: output written on error"; exit 1; }
echo "ok"
