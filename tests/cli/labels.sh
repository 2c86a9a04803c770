#!/usr/bin/env bash
# --labels end to end with a known answer: the "classes" are the argmax of a real model's
# first output (hand_landmark_lite, --task classify), found independently with `qcal run` on
# the inputs `qcal preprocess` makes; labels are written from them (some deliberately wrong,
# one image unlabelled, one entry naming no image), and report / compare / quantize --report
# must give exactly the accuracies these imply. Then the sub-folder mode and the one-line
# errors.   usage: labels.sh QCAL
set -euo pipefail
QCAL=$1
EVAL_EVERY=4 source "$(dirname "$0")/common.sh"

"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet --calibrator percentile --percentile 60 -o "$W/q.tflite" > /dev/null
"$QCAL" preprocess "$MODEL" --images "$W/eval" --quiet -o "$W/pre" > /dev/null
n=$(json "$W/pre/index.json" "len(d['samples'])")
for ((k = 0; k < n; ++k)); do
  s=$(json "$W/pre/index.json" "d['samples'][$k]")
  "$QCAL" run "$MODEL" --input "$W/pre/$s" --output-dir "$W/f$k" > /dev/null
  "$QCAL" run "$W/q.tflite" --input "$W/pre/$s" --output-dir "$W/q$k" > /dev/null
done

# Top-1 (first maximum) of both models per image; labels: right for most, wrong for two,
# none for one, plus an entry naming no image. Expected accuracies to stdout.
python3 - "$W" "$n" > "$W/expected.json" <<'EOF'
import json, os, struct, sys, array
w, n = sys.argv[1], int(sys.argv[2])
def top1(path):
    b = open(path, 'rb').read()
    assert b[:6] == b'\x93NUMPY'
    hl, off = (struct.unpack('<H', b[8:10])[0], 10) if b[6] == 1 else (struct.unpack('<I', b[8:12])[0], 12)
    header = b[off:off + hl].decode()
    assert "'<f4'" in header, header
    v = array.array('f', b[off + hl:])
    return max(range(len(v)), key=lambda i: (v[i], -i)), len(v)
idx = json.load(open(os.path.join(w, 'pre', 'index.json')))
rows, fr, qr, lab, agree = ['file,label'], 0, 0, 0, 0
for k in range(n):
    name = os.path.basename(idx['sources'][k])
    f, classes = top1(os.path.join(w, 'f%d' % k, 'out0.npy'))
    q, _ = top1(os.path.join(w, 'q%d' % k, 'out0.npy'))
    agree += f == q
    os.makedirs(os.path.join(w, 'byclass', str(f)), exist_ok=True)
    os.symlink(os.path.realpath(idx['sources'][k]), os.path.join(w, 'byclass', str(f), name))
    if k == n - 1:
        continue  # unlabelled
    label = (f + 1) % classes if k in (1, 3) else f
    rows.append(('./' if k == 0 else '') + name + ',' + str(label))
    lab += 1; fr += f == label; qr += q == label
rows.append('no_such_image.jpg,0')
open(os.path.join(w, 'labels.csv'), 'w').write('\n'.join(rows) + '\n')
print(json.dumps({'labelled': lab, 'float': fr / lab, 'quantized': qr / lab, 'agreement': agree / n, 'classes': classes}))
EOF
exp() { json "$W/expected.json" "d['$1']"; }
near() { python3 -c "import sys; sys.exit(0 if abs(float(sys.argv[1]) - float(sys.argv[2])) < 1e-12 else 1)" "$1" "$2"; }
check_accuracy() {  # report.json, what
  local r=$1
  [[ $(json "$r" "d['accuracy']['metric']") == top1_accuracy ]] || { echo "FAIL $2: metric"; exit 1; }
  near "$(json "$r" "d['accuracy']['float']")" "$(exp float)" || { echo "FAIL $2: float accuracy"; exit 1; }
  near "$(json "$r" "d['accuracy']['quantized']")" "$(exp quantized)" || { echo "FAIL $2: quantized accuracy"; exit 1; }
  near "$(json "$r" "d['accuracy']['drop']")" "$(python3 -c "print($(exp float) - $(exp quantized))")" \
    || { echo "FAIL $2: drop"; exit 1; }
  [[ $(json "$r" "d['accuracy']['labels']['labelled_samples']") == "$(exp labelled)" ]] || { echo "FAIL $2: labelled"; exit 1; }
  [[ $(json "$r" "d['accuracy']['labels']['unlabelled_samples']") == 1 ]] || { echo "FAIL $2: unlabelled"; exit 1; }
  [[ $(json "$r" "d['accuracy']['labels']['entries_without_sample']") == 1 ]] || { echo "FAIL $2: stray entry"; exit 1; }
}
echo "expected: $(cat "$W/expected.json")"

echo "-- qcal report --labels FILE.csv"
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$W/eval" --quiet --task classify --labels "$W/labels.csv" -o "$W/rep" > "$W/rep.log"
check_accuracy "$W/rep/report.json" report
grep -q "^warning: 1 label entry names no evaluated sample (e.g. no_such_image.jpg" "$W/rep.log" || { echo "FAIL: warning"; cat "$W/rep.log"; exit 1; }
grep -q "Against the labels" "$W/rep/report.md" && grep -q "Against the labels" "$W/rep/report.html" || { echo "FAIL: md/html"; exit 1; }
echo "ok"

echo "-- qcal quantize --report --labels"
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet --calibrator percentile --percentile 60 -o "$W/q2.tflite" \
  --report "$W/rep2" --eval-images "$W/eval" --task classify --labels "$W/labels.csv" > /dev/null
check_accuracy "$W/rep2/report.json" "quantize --report"
echo "ok"

echo "-- qcal compare --labels"
"$QCAL" compare "$MODEL" --images "$W/calib" --eval-images "$W/eval" --schemes int8:minmax,fp16 --task classify \
  --labels "$W/labels.csv" --runs 1 --no-litert --quiet -o "$W/cmp" > /dev/null
[[ $(json "$W/cmp/compare.json" "d['schemes'][0]['metric']") == top1_accuracy ]] || { echo "FAIL compare: metric"; exit 1; }
near "$(json "$W/cmp/compare.json" "d['schemes'][0]['float']")" "$(exp float)" || { echo "FAIL compare: float"; exit 1; }
# The int8:minmax model's own top-1 per image, against the same labels.
for ((k = 0; k < n; ++k)); do
  "$QCAL" run "$W/cmp/int8_minmax.tflite" --input "$W/pre/$(json "$W/pre/index.json" "d['samples'][$k]")" --output-dir "$W/c$k" > /dev/null
done
minmax=$(python3 - "$W" "$n" <<'EOF'
import json, os, struct, sys, array
w, n = sys.argv[1], int(sys.argv[2])
def top1(path):
    b = open(path, 'rb').read()
    hl, off = (struct.unpack('<H', b[8:10])[0], 10) if b[6] == 1 else (struct.unpack('<I', b[8:12])[0], 12)
    v = array.array('f', b[off + hl:])
    return max(range(len(v)), key=lambda i: (v[i], -i))
idx = json.load(open(os.path.join(w, 'pre', 'index.json')))
labels = {}
for line in open(os.path.join(w, 'labels.csv')).read().split()[1:]:
    f, l = line.rsplit(',', 1)
    labels[f[2:] if f.startswith('./') else f] = int(l)
right = total = 0
for k in range(n):
    name = os.path.basename(idx['sources'][k])
    if name in labels:
        total += 1; right += top1(os.path.join(w, 'c%d' % k, 'out0.npy')) == labels[name]
print(right / total)
EOF
)
echo "int8:minmax expected: $minmax"
near "$(json "$W/cmp/compare.json" "d['schemes'][0]['quantized']")" "$minmax" || { echo "FAIL compare: int8"; exit 1; }
echo "ok"

echo "-- --labels subfolders (integer folder names = the float model's classes)"
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$W/byclass" --quiet --task classify --labels subfolders -o "$W/rep3" > /dev/null
near "$(json "$W/rep3/report.json" "d['accuracy']['float']")" 1 || { echo "FAIL subfolders: float"; exit 1; }
near "$(json "$W/rep3/report.json" "d['accuracy']['quantized']")" "$(exp agreement)" || { echo "FAIL subfolders: quantized"; exit 1; }
echo "ok"

echo "-- errors: one line, exit 1"
err_check() {  # expected substring, command...
  local want=$1 err rc
  shift
  set +e
  err=$("$@" 2>&1 >/dev/null); rc=$?
  set -e
  [[ $rc -eq 1 && $(printf '%s\n' "$err" | wc -l) -eq 1 && "$err" == *"$want"* ]] \
    || { echo "FAIL: want exit 1 and one line with '$want', got $rc: $err"; exit 1; }
  echo "ok   $err"
}
report() { "$QCAL" report "$MODEL" "$W/q.tflite" --images "$W/eval" --quiet -o "$W/bad" "$@"; }
err_check "$W/nope.csv" report --task classify --labels "$W/nope.csv"
printf 'file,label\n%s,%s\n' "$(basename "$(ls "$W/eval" | head -1)")" "$(exp classes)" > "$W/range.csv"
err_check "range.csv line 2: class $(exp classes) is out of range" report --task classify --labels "$W/range.csv"
printf 'a.jpg,1\nb.jpg\n' > "$W/broken.csv"
err_check "broken.csv line 2" report --task classify --labels "$W/broken.csv"
err_check "--task classify" report --task landmarks --labels "$W/labels.csv"
err_check "no sub-folders" report --task classify --labels subfolders
[[ ! -e "$W/bad" ]] || { echo "FAIL: a failed report left output"; exit 1; }
echo "ok"
