#!/usr/bin/env bash
# One op numbering everywhere (and the report's grid/kernel split of each output's error): the op number qcal report prints for a layer is the op's index
# in the float model (as qcal inspect shows it), and --keep-float takes exactly that number.
# selfie_segmentation: its global average pools become MEAN and conversions are inserted, so
# the quantized model's op indices differ from the float model's.
set -euo pipefail
QCAL=$1
EVAL_EVERY=4 source "$(dirname "$0")/common.sh"
MODEL="$CACHE/models/selfie_segmentation.tflite"
fail() { echo "FAIL: $*"; exit 1; }
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet -o "$W/q.tflite" >/dev/null
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$W/eval" --quiet -o "$W/r" > "$W/r.log"
"$QCAL" inspect "$MODEL" --json > "$W/f.json"
# Every layer with a float op: that op in the float model writes the float tensor the layer is
# compared with (for a QUANTIZE after a float op, the value it quantizes).
checked=$(python3 - "$W/r/report.json" "$W/f.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1])); f = json.load(open(sys.argv[2]))
sg = f['subgraphs'][0]; ops = sg['operators']; names = [t['name'] for t in sg['tensors']]
n = 0
for l in r['layers']:
    if l['op_index'] is None: continue
    outs = ops[l['op_index']]['outputs']
    assert l['float_tensor'] in outs, (l['op_index'], l['name'], [names[t] for t in outs])
    n += 1
differs = sum(1 for l in r['layers'] if l['op_index'] is not None and l['op_index'] != l['quant_op_index'])
assert differs > 0, 'the test needs a model whose numbering changes'
print(n)
PY
) || fail "report's op numbers are not the float model's"
echo "PASS: $checked layers name the float model's op"
# The worst layer's number, given to --keep-float, keeps that very op float.
read -r n name < <(json "$W/r/report.json" "next(str(l['op_index']) + ' ' + l['name'] for l in d['layers'] if l['op_index'] is not None and l['op'] != 'QUANTIZE')")
grep -q "^  op $n " "$W/r.log" || fail "the console does not print op $n"
"$QCAL" quantize "$MODEL" --images "$W/calib" --keep-float "$n" --quiet -o "$W/k.tflite" > "$W/k.log"
grep -q "^  op $n [A-Z_0-9]* -> '$name': --keep-float $n" "$W/k.log" || { cat "$W/k.log"; fail "--keep-float $n did not keep op $n ('$name') float"; }
echo "PASS: --keep-float $n keeps '$name' float"
# The report splits each output's error through the fake-quant simulation: the integer kernels
# must add less than the grid does (their SQNR against the simulation is the higher).
json "$W/r/report.json" "all(o['kernel_sqnr_db'] > o['grid_sqnr_db'] > 0 for o in d['outputs'])" | grep -q True ||
  fail "report.json outputs lack a grid/kernel split, or the kernels add more error than the grid"
grep -q "(grid [0-9.]* dB, kernels [0-9.]* dB)" "$W/r.log" || fail "the console does not show the split"
json "$W/r/report.json" "all('grid_sqnr_db' in l and 'kernel_sqnr_db' in l for l in d['layers'] if l['quantized'])" | grep -q True ||
  fail "a quantized layer has no grid/kernel split in report.json"
grep -q "| grid SQNR | kernels SQNR |" "$W/r/report.md" || fail "report.md's layer table has no grid/kernel columns"
echo "PASS: grid/kernel split of every output and layer in report.json, report.md and on the console"
# Channel-equalized layers (selfie has some) get their figures, compared after the channel
# factors are undone, and --max-drop ranks layers by that same isolated figure.
grep -q "channel equalization: [1-9]" <("$QCAL" quantize "$MODEL" --images "$W/calib" -o "$W/q2.tflite" 2>&1) ||
  fail "the test needs a model with equalized layers"
python3 - "$W/r/report.json" "$W/f.json" <<'PY' || fail "a conv has no isolated figure (equalized layers?)"
import json, sys
r = json.load(open(sys.argv[1])); ops = json.load(open(sys.argv[2]))['subgraphs'][0]['operators']
figured = {l['op_index'] for l in r['layers'] if l['op_index'] is not None and l['isolated_sqnr_db'] is not None}
readers = {}
for i, o in enumerate(ops):
    for t in o['inputs']: readers.setdefault(t, []).append(i)
# A conv's figure is its own, or its activation's when that was folded into it.
bare = [i for i, o in enumerate(ops) if o['opcode'] in ('CONV_2D', 'DEPTHWISE_CONV_2D')
        and i not in figured and not any(j in figured for j in readers.get(o['outputs'][0], []))]
assert not bare, bare
PY
rc=0  # a target of 0 is not met in 1 step: exit 4 (a failed quality gate), the model still written
"$QCAL" quantize "$MODEL" --images "$W/calib" --quiet -o "$W/fb.tflite" --max-drop 0 --task segment \
  --eval-images "$W/eval" --max-fallback-steps 1 > "$W/fb.log" 2> "$W/fb.err" || rc=$?
grep -q "does NOT meet" "$W/fb.log" && [[ $rc -ne 4 ]] && fail "--max-drop not met: exit $rc (want 4)"
grep -q " meets the target" "$W/fb.log" && [[ $rc -ne 0 ]] && fail "--max-drop met: exit $rc (want 0)"
first=$(sed -n "s/^fallback: op [0-9]* .*(isolated SQNR \([-0-9.]*\) dB) float.*/\1/p" "$W/fb.log" | head -n1)
"$QCAL" report "$MODEL" "$W/q.tflite" --images "$W/eval" --task segment --quiet -o "$W/r3" > /dev/null
worst=$(json "$W/r3/report.json" "min(l['isolated_sqnr_db'] for l in d['layers'] if l['quantized'] and l['isolated_sqnr_db'] is not None)")
awk -v a="$first" -v b="$worst" 'BEGIN { exit !(a != "" && (a - b) ^ 2 < 1e-6) }' ||
  fail "--max-drop ranks with isolated SQNR '$first' dB; the report's worst layer has $worst dB"
echo "PASS: equalized layers have figures; --max-drop's first pick is the report's worst ($worst dB)"
