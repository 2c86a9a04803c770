#!/usr/bin/env bash
# Interop + fidelity: qcal's quantized models in the real LiteRT runtime, on real photos.
#   * calibration on 20 of the general photo fixtures; evaluation on two sets never seen by
#     the calibration: 'photos', the 8 other general photos (people, animals, objects), and
#     'people', the 11 photos of people from Debian's libdlib19.1 (the scenes the face,
#     selfie and pose models are made for);
#   * int8 (--io float) with every calibrator, int8 --io int8 and --io uint8, fp16 and
#     dynamic: each loads and runs in LiteRT without error;
#   * fp16 is identical to float where the float model stores its weights as fp16 already;
#     --io int8/uint8 outputs, dequantized, stay within 0.5 dB of the --io float model's;
#   * fidelity of each against the float model, both run by LiteRT: per-output SQNR and
#     cosine, and (segmentation) mask agreement at 0.5, all printed. Every output of every
#     int8 calibrator and of dynamic has its own bar on each evaluation set, read from
#     tests/interop/bars.txt (how the bars are derived is written at its top); an output
#     without one fails the test, so a new model or output cannot go unbarred.
# --pre "FLAGS": the model's pre-processing for calibration and evaluation (e.g. "--mean 127.5
# --std 127.5" for an input in [-1, 1]; default x/255).
# usage: quantized_in_litert.sh QCAL_BINARY MODEL_NAME [--mask K] [--pre "FLAGS"]
set -euo pipefail
QCAL=$1
NAME=$2
shift 2
MASK=""
PRE=()
while (($#)); do
  case $1 in
    --mask) MASK=$2; shift 2 ;;
    --pre) read -r -a PRE <<<"$2"; shift 2 ;;
    *) echo "quantized_in_litert: unknown argument '$1'"; exit 2 ;;
  esac
done
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/$NAME.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
ls "$CACHE"/people/*.jpg >/dev/null 2>&1 || { echo "missing fixture photos $CACHE/people: run scripts/fetch_fixtures.sh"; exit 1; }
W=${QCAL_KEEP_DIR:-$(mktemp -d)}
[[ -n "${QCAL_KEEP_DIR:-}" ]] || trap 'rm -rf "$W"' EXIT
mkdir -p "$W/calib" "$W/photos" "$W/people"

# Evaluation photos (people, animals, objects); the other general fixtures calibrate.
EVAL="darknet_person.jpg skimage_astronaut.png grace_hopper.jpg darknet_dog.jpg skimage_chelsea.png
      skimage_coffee.png darknet_horses.jpg skimage_motorcycle_left.png"
for f in "$CACHE"/photos/*; do
  b=$(basename "$f")
  if [[ " $(echo $EVAL) " == *" $b "* ]]; then ln -sf "$f" "$W/photos/$b"; else ln -sf "$f" "$W/calib/$b"; fi
done
for f in "$CACHE"/people/*.jpg; do ln -sf "$f" "$W/people/"; done
# The sets must be what the bars were derived on: a fixture folder that shrank fails here.
n_eval=$(ls "$W/photos" | wc -l) n_calib=$(ls "$W/calib" | wc -l) n_people=$(ls "$W/people" | wc -l)
if (( n_eval != 8 || n_calib < 20 || n_people < 11 )); then
  echo "FAIL: fixture sets changed: $n_eval evaluation photos (want the 8 named), $n_calib calibration (want >= 20), $n_people people (want >= 11)"
  exit 1
fi
SETS=(photos people)

"$QCAL" calibrate "$MODEL" --images "$W/calib" ${PRE[@]+"${PRE[@]}"} --threads 2 --quiet -o "$W/calib.json" >/dev/null
for set in "${SETS[@]}"; do
  "$QCAL" preprocess "$MODEL" --images "$W/$set" ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/$set.npy" >/dev/null
done

run_litert() {  # model, tag [inputs suffix]: every sample of every evaluation set through LiteRT, one process per set
  for set in "${SETS[@]}"; do
    node "$HERE/litert_run.js" "$1" --samples "$W/$set.npy${3:-}" --outdir "$W/$set.$2" >/dev/null
  done
}

# This model's bars: "SET SCHEME OUTPUT CRITERION MIN" (bars.txt without the model column).
BARS_FILE="$HERE/bars.txt"
mapfile -t BARS < <(awk -v m="$NAME" '$1 == m { print $2, $3, $4, $5, $6 }' "$BARS_FILE")
((${#BARS[@]})) || { echo "FAIL: $BARS_FILE has no bars for $NAME"; exit 1; }

# fidelity TAG TITLE [FIDELITY.JS FLAGS...]: figures per evaluation set, kept in $W/SET.TAG.json.
# The extra criteria given must hold; so must the bars of TAG's scheme (int8_minmax -> minmax),
# and where that scheme has bars, every output must have one (CRITERION "none": the output is
# listed in docs/quantization.md as having no meaningful bar to meet, and is not checked).
status=0
fidelity() {
  local tag=$1 title=$2 set scheme=${1#int8_}
  shift 2
  for set in "${SETS[@]}"; do
    echo "-- $title on '$set' (LiteRT, $(ls "$W/$set" | wc -l) photos)"
    local args=(${MASK:+--mask $MASK} --json "$W/$set.$tag.json") barred="" covered=" "
    if (($#)); then barred=1; args+=("${@//@SET@/$set}"); fi
    local bset bscheme bout crit min
    for bar in "${BARS[@]}"; do
      read -r bset bscheme bout crit min <<<"$bar"
      [[ $bset == "$set" && $bscheme == "$scheme" ]] || continue
      barred=1 covered+="$bout "
      case $crit in
        sqnr|guard-sqnr) args+=(--out-min-sqnr "$bout:$min") ;;
        agree@*|guard-agree@*) args+=(--agree "$bout:${crit#*@}:$min") ;;
        none) ;;
        *) echo "FAIL: bars.txt: unknown criterion '$crit' for $NAME $set $scheme"; status=1 ;;
      esac
    done
    if [[ -n $barred ]]; then
      node "$HERE/fidelity.js" "$W/$set.float" "$W/$set.$tag" "${args[@]}" || status=1
      if [[ $covered != " " ]]; then
        local n k
        n=$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).outputs.length)' "$W/$set.$tag.json")
        for ((k = 0; k < n; k++)); do
          [[ $covered == *" $k "* ]] || { echo "FAIL: output $k of $scheme on '$set' has no bar in bars.txt"; status=1; }
        done
      fi
    else
      node "$HERE/fidelity.js" "$W/$set.float" "$W/$set.$tag" "${args[@]}" | grep -v PASS
    fi
  done
}

run_litert "$MODEL" float
for cal in minmax percentile kl mse; do
  "$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator $cal -o "$W/int8_$cal.tflite" > "$W/int8_$cal.log"
  run_litert "$W/int8_$cal.tflite" int8_$cal
  fidelity int8_$cal "int8 --calibrator $cal"
done
# Integer inputs and outputs change only where the conversions happen: fed the same photos
# (quantized by qcal preprocess at the model's input scale) and dequantized at its output
# scales, every output stays within 0.5 dB of the --io float model's. An output the --io float
# model computes in float (its record's kept_float, e.g. a LOGISTIC with a fixed int8 range)
# also pays the int8 output grid's rounding, and its floor says so.
"$QCAL" inspect "$W/int8_minmax.tflite" --json > "$W/int8_minmax.json"
float_outputs=$(node -e '
  const j = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const rec = (j.metadata || []).map((m) => m.record).find((r) => r && r.summary) || { summary: { kept_float: [] } };
  const kept = new Set(rec.summary.kept_float.map((k) => k.tensor));
  console.log(j.subgraphs[0].outputs.map((t, k) => kept.has(t.name) ? k : -1).filter((k) => k >= 0).join(","));' "$W/int8_minmax.json")
for io in int8 uint8; do
  Q="$W/int8_io$io.tflite"
  "$QCAL" quantize "$MODEL" --calib "$W/calib.json" --calibrator minmax --io $io -o "$Q" >/dev/null
  "$QCAL" inspect "$Q" --json > "$W/int8_io$io.json"
  for set in "${SETS[@]}"; do
    "$QCAL" preprocess "$Q" --images "$W/$set" ${PRE[@]+"${PRE[@]}"} --quiet -o "$W/$set.npy.$io" >/dev/null
  done
  run_litert "$Q" int8_io$io ".$io"
  fidelity int8_io$io "int8 --io $io (outputs dequantized)" --dequantize-test "$W/int8_io$io.json" \
    --baseline "$W/@SET@.int8_minmax.json" --max-loss 0.5 --float-in-baseline "$float_outputs"
done
# fp16: where the float model already stores its weights as fp16 (behind DEQUANTIZE), the fp16
# model computes exactly what it does; otherwise its weights are rounded to fp16.
fp16_stored=$("$QCAL" inspect "$MODEL" --json | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).weights.fp16_constants))')
for scheme in fp16 dynamic; do
  "$QCAL" quantize "$MODEL" --scheme $scheme -o "$W/$scheme.tflite" >/dev/null
  run_litert "$W/$scheme.tflite" $scheme
  if [[ $scheme == fp16 && $fp16_stored -gt 0 ]]; then fidelity $scheme "$scheme (must be identical)" --identical
  else fidelity $scheme "$scheme"; fi
done
for scheme in minmax percentile kl mse dynamic; do  # every barred scheme has its bars
  for set in "${SETS[@]}"; do
    printf '%s\n' "${BARS[@]}" | grep -q "^$set $scheme " || { echo "FAIL: bars.txt: no bars for $NAME $scheme on '$set'"; status=1; }
  done
done
exit $status
