#!/usr/bin/env bash
# Every bad model file gives exit code 1 (not a crash/signal), exactly one line on stderr
# naming the file, and `quantize` leaves no output file behind.   usage: bad_input.sh QCAL
set -uo pipefail
QCAL=$1
MODEL="${QCAL_CACHE:-$HOME/.cache/qcal}/models/face_detection_short_range.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0

: > "$W/empty.tflite"
head -c 100000 "$MODEL" > "$W/truncated.tflite"
{ head -c 4 "$MODEL"; printf 'XXXX'; tail -c +9 "$MODEL"; } > "$W/wrong_magic.tflite"
printf 'hello, I am a text file and not a model\n' > "$W/text.tflite"
head -c 65536 /dev/urandom > "$W/random.tflite"
# flip bytes in the flatbuffer's tables (the start of the file holds the root offsets)
cp "$MODEL" "$W/bitflip.tflite"
printf '\xff\xff\xff\x7f' | dd of="$W/bitflip.tflite" bs=1 seek=8 conv=notrunc 2>/dev/null
mkdir "$W/a_directory.tflite"

check() {  # file, expected substring
  local f=$1 want=$2 err rc
  err=$("$QCAL" inspect "$f" 2>&1 >/dev/null); rc=$?
  if [[ $rc -ne 1 ]]; then echo "FAIL $f: exit code $rc (want 1): $err"; fail=1; return; fi
  if [[ $(printf '%s\n' "$err" | wc -l) -ne 1 ]]; then echo "FAIL $f: not one line: $err"; fail=1; return; fi
  if [[ "$err" != *"$f"* || "$err" != *"$want"* ]]; then echo "FAIL $f: '$err' lacks the file name or '$want'"; fail=1; return; fi
  "$QCAL" quantize "$f" --scheme float32 -o "$W/out.tflite" >/dev/null 2>&1
  if [[ -e "$W/out.tflite" ]] || ls "$W"/.out.tflite.tmp-* >/dev/null 2>&1; then
    echo "FAIL $f: quantize left an output file"; fail=1; rm -f "$W/out.tflite"; return
  fi
  echo "ok   $err"
}

check "$W/empty.tflite" "the file is empty"
check "$W/truncated.tflite" "corrupt or truncated"
check "$W/wrong_magic.tflite" "file identifier is 'XXXX'"
check "$W/text.tflite" "not a TFLite model"
check "$W/random.tflite" "not a TFLite model"
check "$W/bitflip.tflite" "corrupt or truncated"
check "$W/missing.tflite" "cannot open"
check "$W/a_directory.tflite" "is a directory"

# never over the input
cp "$MODEL" "$W/in.tflite"
err=$("$QCAL" quantize "$W/in.tflite" --scheme float32 -o "$W/in.tflite" 2>&1); rc=$?
if [[ $rc -ne 1 || "$err" != *"refusing to overwrite the input"* ]]; then echo "FAIL: overwrote the input ($rc: $err)"; fail=1; else echo "ok   $err"; fi
cmp -s "$MODEL" "$W/in.tflite" || { echo "FAIL: the input model changed"; fail=1; }

# quantize: misuse gives one clear line and no output file
CAL="$W/cal.json"
mkdir -p "$W/photos"
cp "${QCAL_CACHE:-$HOME/.cache/qcal}/photos/grace_hopper.jpg" "$W/photos/"
"$QCAL" calibrate "$MODEL" --images "$W/photos" --quiet -o "$CAL" >/dev/null 2>&1 || { echo "FAIL: calibrate"; fail=1; }
OTHER="${QCAL_CACHE:-$HOME/.cache/qcal}/models/hand_landmark_lite.tflite"
"$QCAL" quantize "$MODEL" --calib "$CAL" -o "$W/q8.tflite" >/dev/null 2>&1 || { echo "FAIL: quantize int8"; fail=1; }
qcheck() {  # expected substring, quantize arguments...
  local want=$1 err rc; shift
  rm -f "$W/qout.tflite"
  err=$("$QCAL" quantize "$@" -o "$W/qout.tflite" 2>&1 >/dev/null); rc=$?
  if [[ $rc -ne 1 || $(printf '%s\n' "$err" | wc -l) -ne 1 || "$err" != *"$want"* ]]; then
    echo "FAIL quantize $*: exit $rc, '$err' (want one line with '$want')"; fail=1
  elif [[ -e "$W/qout.tflite" ]] || ls "$W"/.qout.tflite.tmp-* >/dev/null 2>&1; then
    echo "FAIL quantize $*: left an output file"; fail=1
  else
    echo "ok   $err"
  fi
}
qcheck "needs calibration" "$MODEL" --scheme int8
qcheck "already quantized" "$W/q8.tflite" --scheme int8 --calib "$CAL"
qcheck "already quantized" "$W/q8.tflite" --scheme fp16
qcheck "$CAL" "$OTHER" --calib "$CAL"
qcheck "matches no op" "$MODEL" --calib "$CAL" --keep-float NO_SUCH_OP
qcheck "not a valid regular expression" "$MODEL" --calib "$CAL" --keep-float 're:('
qcheck "cannot open" "$MODEL" --calib "$CAL" --keep-float @"$W/no_such_rules.txt"

# A --task that cannot read the model's outputs is refused before calibration, with nothing written.

err=$("$QCAL" compare "$MODEL" --images "$W/photos" --eval-images "$W/photos" --task detect -o "$W/cmp" 2>&1 >/dev/null); rc=$?
if [[ $rc -ne 1 || $(printf '%s\n' "$err" | wc -l) -ne 1 || "$err" != *"raw SSD boxes/scores"* || -e "$W/cmp" ]]; then
  echo "FAIL compare --task detect without anchors: exit $rc, '$err' (or $W/cmp left behind)"; fail=1
else
  echo "ok   $err"
fi
qcheck "raw SSD boxes/scores" "$MODEL" --images "$W/photos" --scheme int8 --task detect --report "$W/rep"
[[ -e "$W/rep" ]] && { echo "FAIL quantize --report: left $W/rep"; fail=1; }

# A --labels file that cannot be read is refused before calibration, with nothing written.
err=$("$QCAL" compare "$MODEL" --images "$W/photos" --eval-images "$W/photos" --task classify --labels "$W/no_such_labels.csv" -o "$W/cmp" 2>&1 >/dev/null); rc=$?
if [[ $rc -ne 1 || $(printf '%s\n' "$err" | wc -l) -ne 1 || "$err" != *"no_such_labels.csv"* || -e "$W/cmp" ]]; then
  echo "FAIL compare --labels MISSING: exit $rc, '$err' (or $W/cmp left behind)"; fail=1
else
  echo "ok   $err"
fi
qcheck "no_such_labels.csv" "$MODEL" --images "$W/photos" --scheme int8 --task classify --labels "$W/no_such_labels.csv" --report "$W/rep"

# Graphs whose operators read what nothing has written yet (edited as JSON with flatc).
SCHEMA="$(cd "$(dirname "$0")/../../src/schema" && pwd)/tflite.fbs"
if command -v flatc >/dev/null && [[ -f "$SCHEMA" ]]; then
  (cd "$W" && flatc --json --raw-binary --strict-json -o . "$SCHEMA" -- "$MODEL") >/dev/null
  edit_model() {  # name, Python statement over sg (subgraph 0)
    python3 - "$W/$(basename "${MODEL%.tflite}").json" "$W/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
sg = d["subgraphs"][0]
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
    (cd "$W" && flatc -b -o . "$SCHEMA" "$1.json") >/dev/null
  }
  edit_model reversed 'sg["operators"].reverse()'
  edit_model no_ops 'sg["operators"] = []'
  edit_model dangling 'sg["operators"][0]["inputs"][0] = sg["outputs"][0]'
  check "$W/reversed.tflite" "operator 0 (CONCATENATION) reads tensor 'reshape_1' before any operator writes it"
  check "$W/no_ops.tflite" "graph output 'regressors' is not written by any operator"
  check "$W/dangling.tflite" "operator 0 (DEQUANTIZE) reads tensor 'regressors' before any operator writes it"
else
  echo "FAIL: flatc or $SCHEMA missing"; fail=1
fi

# Any command: exit 1 and one line holding WANT.   usage: echeck WANT qcal-arguments...
echeck() {
  local want=$1 err rc; shift
  err=$("$QCAL" "$@" 2>&1 >/dev/null); rc=$?
  if [[ $rc -ne 1 || $(printf '%s\n' "$err" | wc -l) -ne 1 || "$err" != *"$want"* ]]; then
    echo "FAIL qcal $*: exit $rc, '$err' (want one line with '$want')"; fail=1
  else
    echo "ok   $err"
  fi
}

# .npy inputs: the model's shape (not just its element count), strict headers.
npy() {  # file, shape tuple text, [header padding]
  python3 - "$@" <<'PY'
import re, struct, sys
path, shape = sys.argv[1], sys.argv[2]
header = "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape + (sys.argv[3] if len(sys.argv) > 3 else "")
dims = [int(d) for d in re.findall(r"\d+", shape)]
count = 1
for d in dims: count *= d
with open(path, "wb") as f:
    f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header) + 1) + header.encode() + b"\n")
    f.write(bytes(4 * count) if count < 1 << 24 else b"")
PY
}
npy "$W/nhwc.npy" "(1, 128, 128, 3)"
npy "$W/nchw.npy" "(1, 3, 128, 128)"
npy "$W/huge_dim.npy" "(99999999999999999999999,)"
npy "$W/long_header.npy" "(1, 128, 128, 3)" "$(printf '%*s' 50000 '')"
"$QCAL" run "$MODEL" --input "$W/nhwc.npy" >/dev/null 2>&1 || { echo "FAIL: run on a good .npy"; fail=1; }
echeck "has shape [1,3,128,128]" run "$MODEL" --input "$W/nchw.npy"
echeck "[1,128,128,3]" run "$MODEL" --input "$W/nchw.npy"
echeck "dimension" run "$MODEL" --input "$W/huge_dim.npy"
"$QCAL" run "$MODEL" --input "$W/long_header.npy" >/dev/null 2>&1 || { echo "FAIL: run on a .npy with a 50 KB header"; fail=1; }
mkdir -p "$W/npys" && cp "$W/nchw.npy" "$W/npys/"
echeck "[1,3,128,128]" calibrate "$MODEL" --inputs "$W/npys" --quiet -o "$W/npy_cal.json"
[[ -e "$W/npy_cal.json" ]] && { echo "FAIL: calibrate wrote $W/npy_cal.json"; fail=1; }

# --mean/--std: one value or one per channel, finite, std nonzero.
echeck "--mean has 2 values" calibrate "$MODEL" --images "$W/photos" --quiet --mean 0 0 --std 255 255 -o "$W/c.json"
echeck "--std has 4 values" calibrate "$MODEL" --images "$W/photos" --quiet --mean 0 --std 1,2,3,4 -o "$W/c.json"
echeck "finite" calibrate "$MODEL" --images "$W/photos" --quiet --mean nan --std 255 -o "$W/c.json"
echeck "finite" calibrate "$MODEL" --images "$W/photos" --quiet --mean 0 --std inf -o "$W/c.json"
echeck "--std" calibrate "$MODEL" --images "$W/photos" --quiet --mean 0 --std 0 -o "$W/c.json"
echeck "--mean has 2 values" preprocess "$MODEL" --images "$W/photos" --quiet --mean 0,0 --std 255 -o "$W/pre"
[[ -e "$W/c.json" || -e "$W/pre" ]] && { echo "FAIL: calibrate or preprocess wrote output"; fail=1; }

exit $fail
