#!/usr/bin/env bash
# Every flag of every command is used by some test: the flags in `qcal CMD --help` are looked
# for in tests/ (and scripts/zoo.sh, which interop.zoo_subset runs), so a new flag without a
# test fails here. The flags no other test used are exercised below, each with an assertion on
# what it does, not only on the exit status.   usage: flags.sh QCAL
set -euo pipefail
QCAL=$1
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
EVAL_EVERY=7 source "$HERE/common.sh"
fail=0
bad() { echo "FAIL: $*"; fail=1; }
# npy_js EXPR FILE...: a JavaScript expression over a = [typed arrays of the files], printed.
npy_js() {
  local expr=$1
  shift
  node -e "const npy = require('$ROOT/tests/interop/npy.js');
    const a = process.argv.slice(1).map((f) => npy.typed(npy.read(f)));
    console.log(String($expr));" "$@"
}

echo "-- every flag in the help is used by a test"
commands=$("$QCAL" --help | awk '/^Subcommands:/ {on = 1; next} on && NF {print $1}')
[[ -n $commands ]] || { echo "FAIL: no subcommands in qcal --help"; exit 1; }
mapfile -t sources < <(find "$ROOT/tests/cli" "$ROOT/tests/interop" -maxdepth 1 -type f \( -name '*.sh' -o -name '*.js' \); \
                       echo "$ROOT/tests/CMakeLists.txt"; echo "$ROOT/scripts/zoo.sh")
untested=0 flags=0
for c in $commands; do
  while read -r short long; do
    flags=$((flags + 1))
    found=""
    for f in $long $short; do
      grep -qE -- "(^|[^a-zA-Z0-9-])$f([^a-zA-Z0-9-]|$)" "${sources[@]}" && { found=1; break; }
    done
    [[ -n $found ]] || { bad "qcal $c $long: no test uses it"; untested=$((untested + 1)); }
  done < <("$QCAL" "$c" --help | grep -oE '^\s+(-[a-zA-Z],)?--[a-z0-9-]+' |
             sed -E 's/^\s+//; s/^(-[a-zA-Z]),(--.*)$/\1 \2/; s/^(--.*)$/- \1/' | awk '$2 != "--help" {print ($1 == "-" ? "" : $1), $2}')
done
echo "$flags flags in the help of $(wc -w <<<"$commands") commands, $untested without a test"

echo "-- preprocess --color rgb | bgr | gray, --layout"
mkdir -p "$W/one"
ln -s "$(ls "$W"/eval/* | head -1)" "$W/one/"
for c in rgb bgr gray; do "$QCAL" preprocess "$MODEL" --images "$W/one" --color $c --quiet -o "$W/p_$c" > /dev/null; done
swapped=$(npy_js 'a[0].every((v, i) => v === a[1][i - (i % 3) + 2 - (i % 3)])' "$W/p_rgb/sample00000.npy" "$W/p_bgr/sample00000.npy")
[[ $swapped == true ]] || bad "--color bgr is not --color rgb with channels 0 and 2 swapped"
gray=$(npy_js 'a[0].every((v, i) => i % 3 !== 0 || (v === a[0][i + 1] && v === a[0][i + 2])) && !a[0].every((v, i) => v === a[1][i])' \
  "$W/p_gray/sample00000.npy" "$W/p_rgb/sample00000.npy")
[[ $gray == true ]] || bad "--color gray does not put one gray value in every channel of a colour input"
set +e
"$QCAL" preprocess "$MODEL" --images "$W/one" --layout nchw --quiet -o "$W/p_nchw" > /dev/null 2> "$W/nchw.err"
rc=$?
set -e
[[ $rc -eq 1 ]] && grep -q "input 'input_1' has 224 channels in nchw layout.*wrong --layout" "$W/nchw.err" && [[ ! -e "$W/p_nchw" ]] \
  || bad "--layout nchw on an NHWC input: exit $rc, '$(head -1 "$W/nchw.err")' (want exit 1 naming the input, nothing written)"
echo "ok"

echo "-- calibrate --color/--layout travel to quantize (the model's record)"
"$QCAL" calibrate "$MODEL" --images "$W/calib" --color bgr --layout nhwc --quiet -o "$W/bgr.json" > /dev/null
"$QCAL" quantize "$MODEL" --calib "$W/bgr.json" --quiet -o "$W/bgr.tflite" > /dev/null
"$QCAL" inspect "$W/bgr.tflite" --json > "$W/bgr.inspect.json"
[[ $(json "$W/bgr.inspect.json" "[m['record']['preprocessing'] for m in d['metadata'] if m.get('record')][0]['color']") == bgr ]] \
  || bad "calibrate --color bgr is not in the quantized model's record"
echo "ok"

echo "-- quantize --no-equalize"
FACE="$CACHE/models/face_detection_short_range.tflite"
NORM=(--mean 127.5 --std 127.5)
rec() { "$QCAL" inspect "$1" --json > "$1.json" && json "$1.json" "[m['record'] for m in d['metadata'] if m.get('record')][0]['summary']['equalized_pairs']"; }
"$QCAL" quantize "$FACE" --images "$W/calib" "${NORM[@]}" --quiet -o "$W/face_eq.tflite" > /dev/null
"$QCAL" quantize "$FACE" --images "$W/calib" "${NORM[@]}" --no-equalize --quiet -o "$W/face_noeq.tflite" > /dev/null
eq=$(rec "$W/face_eq.tflite") noeq=$(rec "$W/face_noeq.tflite")
(( eq > 0 && noeq == 0 )) || bad "--no-equalize: $noeq equalized pairs (default: $eq)"
echo "ok   equalized pairs: $eq by default, $noeq with --no-equalize"

echo "-- run --dump-all: every tensor an op writes, and the outputs as --output-dir writes them"
"$QCAL" run "$MODEL" --seed 1 --output-dir "$W/run" --dump-all "$W/dump" > /dev/null
# Every op's output but the DEQUANTIZEs that unpack fp16 weights (folded into constants at load).
ops=$("$QCAL" inspect "$MODEL" --json |
      python3 -c "import json,sys; d=json.load(sys.stdin); print(len(d['subgraphs'][0]['operators']) - d['weights']['fp16_dequantized'])")
entries=$(json "$W/dump/index.json" "len([e for e in d if e['op'] >= 0])")
(( entries == ops )) || bad "--dump-all: $entries tensors written by ops, the model runs $ops ops"
for k in 0 1 2 3; do
  name=$(json "$W/run/manifest.json" "d['outputs'][$k]['name']")
  file=$(json "$W/dump/index.json" "[e['file'] for e in d if e['name'] == '$name'][0]")
  cmp -s "$W/run/out$k.npy" "$W/dump/$file" || bad "--dump-all: output '$name' differs from run's out$k.npy"
done
echo "ok   $entries op outputs dumped"

echo "-- bench --batch, --stats, --peak-gflops"
"$QCAL" bench "$MODEL" --runs 3 --batch 2 --stats --peak-gflops 100 --json > "$W/bench.json"
[[ $(json "$W/bench.json" "d['batch'] == 2 and d['collecting_statistics'] and abs(d['peak_fraction'] - d['gflops'] / 100) < 1e-9") == True ]] \
  || bad "bench flags not reflected: $(cat "$W/bench.json")"
echo "ok"

echo "-- raw SSD decoding flags (report --task detect on the face detector, float vs float)"
DET=(--task detect --box-scale 128 --box-order xywh)
dets() { json "$1/report.json" "d['accuracy']['float_detections']"; }
PEOPLE="$CACHE/people"  # faces: the general photos have few
report() { local out=$1; shift; "$QCAL" report "$FACE" "$FACE" --images "$PEOPLE" "${NORM[@]}" "${DET[@]}" --quiet -o "$out" "$@" > /dev/null; }
# The mediapipe-face-short anchors written out: 16x16 cells x 2 anchors (stride 8), then 8x8 x 6
# (three stride-16 layers merged), centres at the cell centres, size 1 (fixed_anchor_size).
python3 - "$W/anchors.csv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for cells, per_cell in ((16, 2), (8, 6)):
        for y in range(cells):
            for x in range(cells):
                for _ in range(per_cell):
                    f.write(f"{(y + 0.5) / cells},{(x + 0.5) / cells},1,1\n")
EOF
report "$W/d_preset" --ssd-anchors mediapipe-face-short
report "$W/d_file" --anchors "$W/anchors.csv" --score-threshold 0.5
n=$(dets "$W/d_preset")
(( n > 0 )) || bad "no float detections with the preset anchors"
[[ $(dets "$W/d_file") == "$n" ]] || bad "--anchors FILE: $(dets "$W/d_file") detections, the preset's anchors $n"
report "$W/d_max1" --ssd-anchors mediapipe-face-short --max-detections 1
(( $(dets "$W/d_max1") <= $(ls "$PEOPLE" | wc -l) && $(dets "$W/d_max1") < n )) ||
  bad "--max-detections 1: $(dets "$W/d_max1") detections on $(ls "$PEOPLE" | wc -l) images (all: $n)"
report "$W/d_thr" --ssd-anchors mediapipe-face-short --score-threshold 0.99
(( $(dets "$W/d_thr") < n )) || bad "--score-threshold 0.99: $(dets "$W/d_thr") detections, 0.5 gives $n"
report "$W/d_iou_lo" --ssd-anchors mediapipe-face-short --nms-iou 0.05
report "$W/d_iou_hi" --ssd-anchors mediapipe-face-short --nms-iou 0.95
(( $(dets "$W/d_iou_hi") > $(dets "$W/d_iou_lo") )) || bad "--nms-iou 0.95 keeps $(dets "$W/d_iou_hi") detections, 0.05 keeps $(dets "$W/d_iou_lo")"
report "$W/d_exp" --ssd-anchors mediapipe-face-short --box-size exp
report "$W/d_lin" --ssd-anchors mediapipe-face-short --box-size linear
[[ $(dets "$W/d_lin") == "$n" ]] || bad "--box-size linear is not the default"
[[ $(dets "$W/d_exp") != "$n" ]] || bad "--box-size exp decodes the same detections as linear"
echo "ok   $n detections; --max-detections 1: $(dets "$W/d_max1"); --score-threshold 0.99: $(dets "$W/d_thr"); --nms-iou 0.05/0.95: $(dets "$W/d_iou_lo")/$(dets "$W/d_iou_hi"); --box-size exp: $(dets "$W/d_exp")"
exit $fail
