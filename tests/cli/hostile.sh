#!/usr/bin/env bash
# What a hostile or careless user can hand qcal besides a bad model file (bad_input.sh covers
# those): outputs aimed at inputs, FIFOs and devices; edited calibration caches; image bombs,
# truncated and unreadable images; models over the memory limit; signals; reruns into used
# folders. Each case checks the exit status, the one-line message, that nothing is left
# behind, and for the memory cases the peak RSS.   usage: hostile.sh QCAL
set -uo pipefail
QCAL=$1
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/face_detection_short_range.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
command -v /usr/bin/time >/dev/null || { echo "FAIL: /usr/bin/time is missing (Debian package time)"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
fail=0
bad() { echo "FAIL $*"; fail=1; }

# echeck WANT ARGS...: exit 1 and exactly one line on stderr holding WANT.
echeck() {
  local want=$1 err rc; shift
  err=$(timeout 60 "$QCAL" "$@" 2>&1 >/dev/null); rc=$?
  if [[ $rc -ne 1 || $(printf '%s\n' "$err" | wc -l) -ne 1 || "$err" != *"$want"* ]]; then
    bad "qcal $*: exit $rc, '$err' (want one line with '$want')"
  else
    echo "ok   $err"
  fi
}
leftovers() {  # folder: hidden temporary files or folders qcal may have left
  find "$1" -maxdepth 1 -name '.*.tmp-*' -o -maxdepth 1 -name '.*.old-*' | head -3
}

mkdir -p "$W/photos"
for f in darknet_dog.jpg grace_hopper.jpg skimage_astronaut.png skimage_chelsea.png; do cp "$CACHE/photos/$f" "$W/photos/"; done
"$QCAL" calibrate "$MODEL" --images "$W/photos" --quiet -o "$W/cal.json" >/dev/null || bad "calibrate on good photos"
cp "$MODEL" "$W/model.tflite"
ln -s "$W/model.tflite" "$W/link.tflite"

# ---- usage errors exit 2, help 0 ----
for args in "quantize $MODEL" "no-such-command" "run $MODEL --seed 1 --no-such-flag" "calibrate $MODEL --threads 0 -o x.json"; do
  "$QCAL" $args >/dev/null 2>&1; rc=$?
  [[ $rc -eq 2 ]] && echo "ok   usage error exits 2: qcal $args" || bad "qcal $args: exit $rc (want 2, a usage error)"
done
"$QCAL" quantize --help >/dev/null 2>&1 || bad "qcal quantize --help: exit $?"

# ---- outputs never land on inputs, FIFOs or devices ----
echeck "refusing to overwrite the input" calibrate "$W/model.tflite" --images "$W/photos" --quiet -o "$W/link.tflite"
echeck "refusing to overwrite the input" quantize "$W/model.tflite" --calib "$W/cal.json" -o "$W/cal.json"
cmp -s "$MODEL" "$W/model.tflite" || bad "the input model changed"
mkfifo "$W/fifo"
echeck "not a regular file" quantize "$W/model.tflite" --scheme fp16 -o "$W/fifo"
[[ -p "$W/fifo" ]] || bad "the FIFO was replaced"
echeck "not a regular file" quantize "$W/model.tflite" --scheme fp16 -o /dev/null
[[ -c /dev/null ]] || bad "/dev/null is no longer a device"
echeck "not a regular file" inspect "$W/fifo"   # a FIFO as input: refused, not a hang
: > "$W/a_file"
echeck "is not a folder" run "$MODEL" --seed 1 --output-dir "$W/a_file"
echeck "is not a folder" compare "$MODEL" --images "$W/photos" --eval-images "$W/photos" --schemes fp16 -o "$W/a_file"
mkdir -p "$W/someone_elses" && echo precious > "$W/someone_elses/notes.txt"
echeck "refusing to replace this folder" report "$MODEL" "$MODEL" --images "$W/photos" -o "$W/someone_elses"
[[ -f "$W/someone_elses/notes.txt" ]] || bad "report deleted someone else's file"
[[ -z "$(leftovers "$W")" ]] || bad "temporary files left: $(leftovers "$W")"

# ---- a folder of outputs is replaced as a whole ----
"$QCAL" compare "$MODEL" --images "$W/photos" --eval-images "$W/photos" --schemes fp16,dynamic --runs 1 --no-litert --quiet -o "$W/cmp" \
  >/dev/null 2>&1 || bad "compare fp16,dynamic"
"$QCAL" compare "$MODEL" --images "$W/photos" --eval-images "$W/photos" --schemes fp16 --runs 1 --no-litert --quiet -o "$W/cmp" >/dev/null 2>&1 ||
  bad "compare fp16 (rerun)"
[[ -f "$W/cmp/compare.json" && -f "$W/cmp/fp16.tflite" ]] || bad "compare wrote no compare.json/fp16.tflite"
if [[ -e "$W/cmp/dynamic.tflite" ]]; then bad "a rerun of compare left the stale dynamic.tflite"; else echo "ok   compare rerun replaced the old set"; fi
"$QCAL" run "$MODEL" --seed 3 --output-dir "$W/run" >/dev/null || bad "run --output-dir"
[[ -f "$W/run/manifest.json" && -f "$W/run/out0.npy" ]] || bad "run --output-dir wrote no manifest/outputs"
[[ -z "$(leftovers "$W")" ]] || bad "temporary folders left: $(leftovers "$W")"

# ---- edited calibration caches ----
edit_cache() {  # name, Python statement over d (the parsed cache)
  python3 - "$W/cal.json" "$W/$1.json" "$2" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
exec(sys.argv[3])
json.dump(d, open(sys.argv[2], "w"))
PY
}
edit_cache zero 'for t in d["tensors"]: t["min"] = t["max"] = 0; t.pop("channel_min", None); t.pop("channel_max", None); t.pop("channel_sum", None)'
edit_cache empty 'd["tensors"] = []'
edit_cache swapped 't = d["tensors"][3]; t["min"], t["max"] = t["max"], t["min"]'
edit_cache nan 'd["tensors"][5]["max"] = float("nan")'
edit_cache bins 'h = d["tensors"][0]["histogram"]; h["max_bins"] = 5000000; h["counts"] = [0] * 3000000'
edit_cache alien 'd["tensors"][0]["tensor"] = 100000'
for c in zero empty swapped nan bins alien; do rm -f "$W/q.tflite"; done
echeck "degenerate calibration" quantize "$MODEL" --calib "$W/zero.json" -o "$W/q.tflite"
echeck "no statistics for tensor" quantize "$MODEL" --calib "$W/empty.json" -o "$W/q.tflite"
echeck "not a finite range with min <= max" quantize "$MODEL" --calib "$W/swapped.json" -o "$W/q.tflite"
echeck "calibration" quantize "$MODEL" --calib "$W/nan.json" -o "$W/q.tflite"
out=$( { /usr/bin/time -f "%M" "$QCAL" quantize "$MODEL" --calib "$W/bins.json" -o "$W/q.tflite" >/dev/null 2>"$W/bins.err"; } 2>&1 ); rc=$?
rss=$(tail -1 "$W/bins.err")
if [[ $rc -ne 1 ]] || ! grep -q "bad grid" "$W/bins.err" || (( rss > 400000 )); then
  bad "a cache with 3M histogram bins: exit $rc, peak RSS ${rss} KB: $(head -1 "$W/bins.err")"
else echo "ok   3M-bin cache refused at ${rss} KB peak RSS: $(head -1 "$W/bins.err")"; fi
echeck "which the model does not have" quantize "$MODEL" --calib "$W/alien.json" -o "$W/q.tflite"
[[ -e "$W/q.tflite" ]] && bad "a refused cache still wrote a model"

# ---- images: bombs, truncation, unreadable entries ----
mkdir -p "$W/imgs"
cp "$CACHE/photos/darknet_dog.jpg" "$W/imgs/good.jpg"
head -c $(( $(stat -c %s "$W/imgs/good.jpg") / 2 )) "$W/imgs/good.jpg" > "$W/imgs/truncated.jpg"
python3 - "$W/imgs" <<'PY'
import struct, sys, zlib
d = sys.argv[1]
def chunk(t, b): return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
# A PNG whose header claims 20000 x 20000 (its pixel data is a few bytes).
ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)
open(d + "/bomb.png", "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b""))
# A JPEG whose SOF0 claims 12000 x 12000.
j = bytearray(open(d + "/good.jpg", "rb").read())
i = 2
while j[i + 1] not in (0xC0, 0xC2): i += 2 + struct.unpack(">H", j[i + 2:i + 4])[0]
j[i + 5:i + 9] = struct.pack(">HH", 12000, 12000)
open(d + "/bomb.jpg", "wb").write(bytes(j))
PY
truncate -s 1500M "$W/imgs/huge_file.jpg"
mkfifo "$W/imgs/fifo.jpg"
ln -s "$W/nowhere.jpg" "$W/imgs/dangling.jpg"
mkdir "$W/imgs/folder.jpg"
/usr/bin/time -f "%M" "$QCAL" calibrate "$MODEL" --images "$W/imgs" --quiet --threads 2 -o "$W/imgs.json" >"$W/imgs.out" 2>"$W/imgs.err"
rc=$?
rss=$(tail -1 "$W/imgs.err")
grep -q "dataset: 1 samples used of 8 found, 7 skipped" "$W/imgs.out" || bad "images: want 1 used of 8 found, 7 skipped: $(grep dataset "$W/imgs.out")"
for want in "truncated.jpg: corrupt or truncated JPEG" "bomb.png: the image is 20000x20000" "bomb.jpg: the image is 12000x12000" \
            "huge_file.jpg: is 1572864000 bytes, over the limit" "fifo.jpg: is not a regular file" "dangling.jpg: cannot open" \
            "folder.jpg: is a directory"; do
  grep -q "warning: skipping .*$want" "$W/imgs.err" || bad "images: no warning '$want'"
done
if [[ $rc -ne 0 ]] || (( rss > 300000 )); then bad "images: exit $rc, peak RSS $rss KB"; else echo "ok   image bombs, truncation and unreadable entries skipped (peak RSS $rss KB)"; fi
"$QCAL" preprocess "$MODEL" --images "$W/photos" --max-pixels 1000 --quiet -o "$W/pre" >/dev/null 2>"$W/pix.err"; rc=$?
if [[ $rc -ne 1 || $(grep -c "over --max-pixels 1000" "$W/pix.err") -ne 4 || -e "$W/pre" ]] || ! tail -1 "$W/pix.err" | grep -q "no usable samples"; then
  bad "--max-pixels 1000: exit $rc: $(cat "$W/pix.err")"
else echo "ok   --max-pixels: every photo skipped from its header, then: $(tail -1 "$W/pix.err")"; fi

# ---- a tensor name that is not UTF-8: JSON outputs replace the byte, nothing breaks ----
python3 - "$MODEL" "$W/latin1.tflite" <<'PY'
import sys
b = open(sys.argv[1], "rb").read()
i = b.index(b"classificators")
open(sys.argv[2], "wb").write(b[:i] + b"\xe9" + b[i + 1:])
PY
"$QCAL" inspect "$W/latin1.tflite" --json > "$W/latin1.json" 2>"$W/latin1.err" && python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$W/latin1.json" ||
  bad "inspect --json on a non-UTF-8 name: $(head -1 "$W/latin1.err")"
"$QCAL" quantize "$W/latin1.tflite" --images "$W/photos" --quiet -o "$W/latin1_q.tflite" --report "$W/latin1_rep" >/dev/null 2>"$W/latin1.err" ||
  bad "quantize --report on a non-UTF-8 name: $(head -1 "$W/latin1.err")"
[[ -f "$W/latin1_rep/report.json" ]] && echo "ok   a non-UTF-8 tensor name: inspect --json, calibrate, quantize --report"

# ---- memory limit ----
echeck "over the memory limit of 1048576 (--max-memory)" run "$MODEL" --seed 1 --max-memory 1mb
# face_detection_short_range needs a 1.5 MB arena and 0.4 MB of constants.
"$QCAL" calibrate "$MODEL" --images "$W/photos" --max-memory 2mb --quiet -o "$W/mem.json" >/dev/null 2>&1 || bad "calibrate in 2mb"
rm -f "$W/mem.json"
echeck "over the memory limit" calibrate "$MODEL" --images "$W/photos" --max-memory 1mb --quiet -o "$W/mem.json"
[[ -e "$W/mem.json" ]] && bad "calibrate over --max-memory wrote its output"

# ---- SIGTERM and SIGHUP stop like Ctrl-C: exit 1, nothing written ----
mkdir -p "$W/many"
for r in $(seq 1 40); do for f in "$CACHE"/photos/*; do ln -s "$f" "$W/many/r${r}_$(basename "$f")"; done; done
for sig in TERM HUP; do
  mkdir -p "$W/sig_$sig"
  "$QCAL" calibrate "$CACHE/models/pose_landmark_heavy.tflite" --images "$W/many" --threads 1 -o "$W/sig_$sig/c.json" >"$W/sig.log" 2>&1 &
  pid=$!
  for _ in $(seq 1 600); do grep -q "^progress:" "$W/sig.log" 2>/dev/null && break; sleep 0.1; done  # ready line
  kill -$sig $pid
  wait $pid
  rc=$?
  if [[ $rc -ne 1 ]] || ! grep -q interrupted "$W/sig.log" || [[ -n "$(ls -A "$W/sig_$sig")" ]]; then
    bad "SIG$sig mid-calibration: exit $rc, $(tail -1 "$W/sig.log"), left: $(ls -A "$W/sig_$sig")"
  else echo "ok   SIG$sig mid-calibration: exit 1, nothing written"; fi
done

exit $fail
