# Shared set-up of the CLI tests on hand_landmark_lite and the photo fixtures. Source it after
# `set -euo pipefail` with QCAL set: `EVAL_EVERY=7 source common.sh`. Gives CACHE, MODEL, a
# temporary folder W (removed on exit) holding calib/ and eval/ (every EVAL_EVERY-th photo for
# eval, every third of the rest for calib, as symlinks), and json FILE EXPR (a Python expression
# over d, the parsed file).
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/hand_landmark_lite.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/calib" "$W/eval"
i=0
for f in "$CACHE"/photos/*; do
  if (( i % EVAL_EVERY == 0 )); then ln -s "$f" "$W/eval/"; elif (( i % 3 == 0 )); then ln -s "$f" "$W/calib/"; fi
  i=$((i + 1))
done
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
