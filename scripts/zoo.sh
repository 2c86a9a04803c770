#!/usr/bin/env bash
# The model zoo through qcal and LiteRT: every float model in $CACHE/zoo (scripts/fetch_fixtures.sh
# --zoo) and in $CACHE/models is calibrated once on 20 general photos, then written as
#   int8 --io float with each calibrator (minmax, percentile, kl, mse), int8 --io int8 (minmax),
#   fp16 and dynamic,
# and each output model is checked: (a) qcal's exit status (and its message when not 0);
# (b) it loads and runs in LiteRT (tests/interop/litert_run.js) on the 8 evaluation photos;
# (c) int8 models: `qcal run` (the integer executor, --numerics xnnpack) gives the same bytes as
# LiteRT on the same inputs (every int8 model, --io float and --io int8); (d) the smallest per-output
# SQNR against the float model, both run in LiteRT; (e) the ops qcal kept float and why.
# The float model itself is run by LiteRT and by qcal's float executor too.
# One row per model x scheme on stdout; $OUT/summary.tsv and $OUT/summary.md; every log and
# output in $OUT/MODEL/.
# usage: scripts/zoo.sh QCAL_BINARY [--out DIR] [--only NAME[,NAME...]] [--strict]
#   --out DIR   where results go (default: ./zoo-results)
#   --only      run only these models (names without .tflite)
#   --strict    exit 1 when any row is class B (crash, internal error, hang), C (LiteRT refuses
#               what qcal wrote) or D (qcal's integer executor differs from LiteRT); ctest
#               interop.zoo_subset runs it on the subset fetch_fixtures.sh always fetches
# Pre-processing: the model's metadata when it has normalization metadata, else the MediaPipe
# graphs' own range where known ([-1, 1] for the face and pose detectors and the SSD), else x/255.
set -uo pipefail
QCAL=$(realpath "${1:?usage: scripts/zoo.sh QCAL_BINARY [--out DIR] [--only NAME,...]}")
shift
OUT=$PWD/zoo-results
ONLY=""
STRICT=0
while (($#)); do
  case $1 in
    --strict) STRICT=1; shift ;;
    --out) OUT=$2; shift 2 ;;
    --only) ONLY=",$2,"; shift 2 ;;
    *) echo "zoo: unknown argument '$1'" >&2; exit 2 ;;
  esac
done
ROOT=$(cd "$(dirname "$0")/.." && pwd)
LITERT="$ROOT/tests/interop/litert_run.js"
COMPARE="$ROOT/scripts/zoo_compare.js"
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
LIMIT=${QCAL_ZOO_TIMEOUT:-900}   # seconds per command; more is reported as a hang
[[ -x "$QCAL" ]] || { echo "zoo: $QCAL is not executable" >&2; exit 2; }
ls "$CACHE"/zoo/*.tflite >/dev/null 2>&1 || { echo "zoo: no models in $CACHE/zoo: run scripts/fetch_fixtures.sh --zoo" >&2; exit 2; }
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# 20 general photos calibrate; the 8 of tests/interop/quantized_in_litert.sh evaluate.
EVAL="darknet_person.jpg skimage_astronaut.png grace_hopper.jpg darknet_dog.jpg skimage_chelsea.png
      skimage_coffee.png darknet_horses.jpg skimage_motorcycle_left.png"
rm -rf "$OUT/calib" "$OUT/eval"; mkdir -p "$OUT/calib" "$OUT/eval"
for f in "$CACHE"/photos/*; do
  b=$(basename "$f")
  if [[ " $(echo $EVAL) " == *" $b "* ]]; then ln -sf "$f" "$OUT/eval/$b"; else ln -sf "$f" "$OUT/calib/$b"; fi
done

pre_flags() {  # NAME: pre-processing flags (empty: metadata or x/255)
  case $1 in
    face_detection_*|pose_detection|object_detection_ssd_mobilenetv2_*) echo "--mean 127.5 --std 127.5" ;;
    *) echo "" ;;
  esac
}

# run LOG CMD...: runs CMD with the time limit, stdout+stderr to LOG; returns its status
# (124 = hang).
run() { local log=$1; shift; timeout "$LIMIT" "$@" >"$log" 2>&1; }
# why LOG: qcal's or LiteRT's one-line message.
why() { grep -E '^(qcal|litert_run)[^ ]*: |error|Error|Abort|terminate|Segmentation' "$1" | grep -v '^note' | head -n1 | cut -c1-400; }
# kept_float LOG: "TYPE xN (reason); ..." from qcal quantize's "kept float" list.
kept_float() {
  sed -n "s/^  op [0-9]* \([^ ]*\) -> '.*': \(.*\)$/\1|\2/p" "$1" |
    awk -F'|' '{ r = $2; sub(/[:(].*/, "", r); sub(/ +$/, "", r); if (length(r) > 60) r = substr(r, 1, 57) "..."
                 k = $1 " (" r ")"; if (!(k in n)) order[++m] = k; n[k]++ }
               END { for (i = 1; i <= m; i++) { split(order[i], p, " \\("); printf "%s%s x%d (%s", (i > 1 ? "; " : ""), p[1], n[order[i]], substr(order[i], length(p[1]) + 3) } }'
}
json_field() { node -e 'const r=JSON.parse(require("fs").readFileSync(0,"utf8")); const v=r[process.argv[1]]; console.log(v===null||v===undefined?"-":(typeof v==="number"?(Number.isInteger(v)?v:v.toFixed(process.argv[2]||2)):v))' "$1" "${2:-2}"; }

TSV="$OUT/summary.tsv"
printf 'model\tscheme\tqcal_status\tlitert\tsqnr_min_db\tsqnr_per_output_db\texecutor_vs_litert\tclass\tnote\n' >"$TSV"
FLOATTSV="$OUT/models.tsv"
printf 'model\tsource\tops\top_types\tinputs\tfloat_litert\tqcal_float_vs_litert\tkept_float\n' >"$FLOATTSV"
row() {  # model scheme status litert sqnr_min sqnr_all exact class note
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$TSV"
  printf '%-46s %-14s %-6s %-7s %-8s %-14s %s %s\n' "$1" "$2" "$3" "$4" "$5" "$7" "$8" "${9:0:160}"
}

models=()
for m in "$CACHE"/zoo/*.tflite "$CACHE"/models/*.tflite; do
  n=$(basename "$m" .tflite)
  [[ -z "$ONLY" || "$ONLY" == *",$n,"* ]] && models+=("$m")
done
if [[ -n "$ONLY" ]]; then  # a named model that is not there is an error, not a pass
  IFS=',' read -r -a wanted <<<"${ONLY:1:-1}"
  for n in "${wanted[@]}"; do
    [[ " ${models[*]} " == *"/$n.tflite "* ]] || { echo "zoo: no model $n in $CACHE/zoo or $CACHE/models: run scripts/fetch_fixtures.sh" >&2; exit 1; }
  done
fi
printf '%-46s %-14s %-6s %-7s %-8s %-14s %s %s\n' model scheme qcal litert sqnr_min exact class note
for M in "${models[@]}"; do
  N=$(basename "$M" .tflite)
  W="$OUT/$N"; rm -rf "$W"; mkdir -p "$W"
  src=zoo; [[ "$M" == "$CACHE/models/"* ]] && src=models
  "$QCAL" inspect "$M" >"$W/inspect.txt" 2>&1
  ops=$(sed -n 's/^  operators: //p' "$W/inspect.txt" | head -n1)
  nops=$(sed -n 's/.*: \([0-9]*\) operators,.*/\1/p' "$W/inspect.txt" | head -n1)
  inputs=$(grep -E "^  input " "$W/inspect.txt" | sed "s/^  input *[0-9]* '\([^']*\)' /\1 /" | paste -sd';')
  if grep -qE 'quantized (constants|activations)' "$W/inspect.txt" || grep -E "^  input " "$W/inspect.txt" | grep -qvE ' float32\['; then
    row "$N" - - - - - - skip "already quantized (not a float model): a float twin needs qcal dequantize"
    continue
  fi
  if (( $(grep -cE "^  input " "$W/inspect.txt") != 1 )) || ! grep -E "^  input " "$W/inspect.txt" | grep -qE 'float32\[1,[0-9]+,[0-9]+,(1|3)\]'; then
    row "$N" - - - - - - skip "not a one-image-input model ($inputs): no image pre-processing"
    continue
  fi
  read -r -a PRE <<<"$(pre_flags "$N")"

  # Float model: inputs, LiteRT, and qcal's float executor on the same inputs.
  flit="ok"; fq="-"
  run "$W/preprocess.log" "$QCAL" preprocess "$M" --images "$OUT/eval" ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/in_float"
  st=$?
  if (( st )); then
    row "$N" preprocess "$st" - - - - B "qcal preprocess: $(why "$W/preprocess.log")"; continue
  fi
  if ! run "$W/float.litert.log" node "$LITERT" "$M" --samples "$W/in_float" --outdir "$W/float"; then
    flit="fail"
    row "$N" float - fail - - - F "LiteRT: $(why "$W/float.litert.log")"
  fi
  node "$ROOT/tests/interop/stack_npy.js" "$W/in_float.npy" $(ls -v "$W"/in_float/sample*.npy)
  if run "$W/float.qcal.log" "$QCAL" run "$M" --input "$W/in_float.npy" --threads 2 --output-dir "$W/float.qcal"; then
    if [[ $flit == ok ]]; then
      fq=$(node "$COMPARE" "$W/float" "$W/float.qcal" | tee "$W/float.qcal.json" | json_field min_sqnr_db)
      [[ $fq == - ]] && fq=identical || fq="$fq dB"
    fi
  else
    st=$?
    fq="fails ($st)"
    row "$N" float-qcal "$st" - - - - F "qcal run (float executor): $(why "$W/float.qcal.log")"
  fi
  # A float model LiteRT cannot run: qcal's exit status for every scheme is still recorded.

  # One calibration for every int8 model.
  calib_ok=1
  run "$W/calibrate.log" "$QCAL" calibrate "$M" --images "$OUT/calib" ${PRE[@]+"${PRE[@]}"} --threads 2 --quiet -o "$W/calib.json"
  st=$?
  if (( st )); then
    calib_ok=0
    cls=A; (( st == 1 )) || cls=B
    row "$N" calibrate "$st" - - - - "$cls" "$(why "$W/calibrate.log")"
  fi

  kept="-"
  # check TAG: LiteRT on the evaluation inputs, then SQNR against the float model. Sets $lit,
  # $smin, $sall, $cls, $note.
  check() {
    local tag=$1 inputs=$2
    lit=ok; smin=-; sall=-; cls=ok; note=""
    [[ $flit == ok ]] || { lit="n/a"; cls="n/a"; note="not run: the float model fails in LiteRT"; return; }
    if ! run "$W/$tag.litert.log" node "$LITERT" "$W/$tag.tflite" --samples "$inputs" --outdir "$W/$tag"; then
      lit=fail; cls=C; note="LiteRT: $(why "$W/$tag.litert.log")"; return
    fi
    if [[ $tag != int8_io_int8 ]]; then
      node "$COMPARE" "$W/float" "$W/$tag" >"$W/$tag.json"
      smin=$(json_field min_sqnr_db <"$W/$tag.json")
      sall=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(0,"utf8")).sqnr_db.map(x=>x===null?"inf":x).join(","))' <"$W/$tag.json")
      if [[ $smin != - ]] && awk -v x="$smin" 'BEGIN { exit !(x < 10) }'; then cls=E; note="SQNR < 10 dB"; fi
    fi
  }
  # exact TAG INPUTS_DIR: qcal run --numerics xnnpack vs LiteRT, byte for byte. Sets $ex.
  exact() {
    local tag=$1 in=$2
    ex=-
    node "$ROOT/tests/interop/stack_npy.js" "$W/$tag.in.npy" $(ls -v "$in"/sample*.npy)
    run "$W/$tag.qcal.log" "$QCAL" run "$W/$tag.tflite" --input "$W/$tag.in.npy" --numerics xnnpack --threads 2 --output-dir "$W/$tag.qcal"
    local st=$?
    if (( st )); then
      ex="qcal-run-failed($st)"; cls=D; note="${note:+$note; }qcal run: $(why "$W/$tag.qcal.log")"; return
    fi
    local j
    j=$(node "$COMPARE" "$W/$tag" "$W/$tag.qcal")
    echo "$j" >"$W/$tag.exact.json"
    # Not byte-identical: a float output whose float ops (kept float after the last DEQUANTIZE)
    # differ by float rounding only (>= 100 dB) is float noise, not an int8 mismatch.
    local verdict
    verdict=$(node -e '
      const r = JSON.parse(process.argv[1]);
      if (r.identical === 1) { console.log("exact"); process.exit(0); }
      const pct = (100 * r.identical).toFixed(3) + "%";
      const md = typeof r.max_diff === "number" ? r.max_diff.toExponential(2) : r.max_diff;
      if (r.dtype === "float32" && r.min_sqnr_db !== null && r.min_sqnr_db >= 100)
        console.log(`float-noise ${pct} identical, max ${md} (${r.min_sqnr_db} dB)`);
      else console.log(`DIFFERS ${pct} identical, max ${md}${r.dtype === "float32" ? "" : " LSB"}`);' "$j")
    ex=${verdict%% *}
    if [[ $ex == DIFFERS ]]; then
      ex="${verdict#DIFFERS }"
      [[ $cls == ok || $cls == E ]] && cls=D
      note="${note:+$note; }executor differs from LiteRT: $ex"
    elif [[ $ex == float-noise ]]; then
      ex=float-noise
      note="${note:+$note; }executor vs LiteRT: ${verdict#float-noise }: the float ops after the last DEQUANTIZE"
    fi
  }

  if (( calib_ok )); then
    for cal in minmax percentile kl mse; do
      tag=int8_$cal
      if run "$W/$tag.log" "$QCAL" quantize "$M" --calib "$W/calib.json" --calibrator $cal -o "$W/$tag.tflite"; then
        [[ $cal == minmax ]] && { kept=$(kept_float "$W/$tag.log"); kept=${kept:-none}; }
        check $tag "$W/in_float"; ex=-
        [[ $lit == ok ]] && exact $tag "$W/in_float"
        row "$N" "$tag" 0 "$lit" "$smin" "$sall" "$ex" "$cls" "$note"
      else
        st=$?; c=A; (( st == 1 )) || c=B
        row "$N" "$tag" "$st" - - - - "$c" "$(why "$W/$tag.log")"
      fi
    done
    tag=int8_io_int8
    if run "$W/$tag.log" "$QCAL" quantize "$M" --calib "$W/calib.json" --calibrator minmax --io int8 -o "$W/$tag.tflite"; then
      if run "$W/$tag.pre.log" "$QCAL" preprocess "$W/$tag.tflite" --images "$OUT/eval" ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/in_int8"; then
        check $tag "$W/in_int8"; ex=-
        [[ $lit == ok ]] && exact $tag "$W/in_int8"
        row "$N" "$tag" 0 "$lit" - - "$ex" "$cls" "$note"
      else
        row "$N" "$tag" 0 - - - - B "qcal preprocess on the int8 model: $(why "$W/$tag.pre.log")"
      fi
    else
      st=$?; c=A; (( st == 1 )) || c=B
      row "$N" "$tag" "$st" - - - - "$c" "$(why "$W/$tag.log")"
    fi
  fi
  for scheme in fp16 dynamic; do
    tag=$scheme
    if run "$W/$tag.log" "$QCAL" quantize "$M" --scheme $scheme -o "$W/$tag.tflite"; then
      check $tag "$W/in_float"
      row "$N" "$tag" 0 "$lit" "$smin" "$sall" - "$cls" "$note"
    else
      st=$?; c=A; (( st == 1 )) || c=B
      row "$N" "$tag" "$st" - - - - "$c" "$(why "$W/$tag.log")"
    fi
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$N" "$src" "$nops" "$ops" "$inputs" "$flit" "$fq" "$kept" >>"$FLOATTSV"
  rm -f "$W"/*.in.npy "$W/in_float.npy"
done

# Markdown: one row per model, min output SQNR per scheme.
node "$ROOT/scripts/zoo_summary.js" "$TSV" "$FLOATTSV" >"$OUT/summary.md"
echo "zoo: $(tail -n +2 "$TSV" | wc -l) rows -> $TSV, $OUT/summary.md, $FLOATTSV"
tail -n +2 "$TSV" | awk -F'\t' '{ n[$8]++ } END { for (c in n) printf "  class %s: %d\n", c, n[c] }' | sort
if (( STRICT )); then
  bad=$(tail -n +2 "$TSV" | awk -F'\t' '$8 == "B" || $8 == "C" || $8 == "D" { print "  " $1 " " $2 ": class " $8 ": " $9 }')
  if [[ -n "$bad" ]]; then
    echo "zoo: FAIL: rows of class B, C or D:"
    echo "$bad"
    exit 1
  fi
  echo "zoo: no row of class B, C or D"
fi
