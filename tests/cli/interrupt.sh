#!/usr/bin/env bash
# Ctrl-C during calibration stops cleanly: exit 1 with "interrupted", and neither the output
# nor a temporary file is left behind. The dataset is the photos repeated 20 times (560
# images through pose_landmark_heavy on one thread: tens of seconds), so the signal, sent
# once the first progress line (10% done) appears, always arrives mid-run.
set -uo pipefail
QCAL=$1
CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
MODEL="$CACHE/models/pose_landmark_heavy.tflite"
[[ -f "$MODEL" ]] || { echo "missing fixture $MODEL: run scripts/fetch_fixtures.sh"; exit 1; }
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
mkdir -p "$W/photos" "$W/out"
for r in $(seq 1 20); do
  for f in "$CACHE"/photos/*; do ln -s "$f" "$W/photos/r${r}_$(basename "$f")"; done
done
"$QCAL" calibrate "$MODEL" --images "$W/photos" --threads 1 -o "$W/out/calib.json" >"$W/log" 2>&1 &
pid=$!
# Ready line: the first progress line proves the loop runs (a fixed sleep could fire too early).
# The wait is only a hang guard, generous for sanitizer builds (ASan: about 10x slower).
for _ in $(seq 1 3000); do grep -q "^progress:" "$W/log" 2>/dev/null && break; sleep 0.1; done
grep -q "^progress:" "$W/log" || { echo "FAIL: calibration printed no progress line within 300 s"; kill -9 "$pid"; exit 1; }
kill -INT "$pid"
wait "$pid"
rc=$?
fail=0
[[ $rc -eq 1 ]] || { echo "FAIL: exit code $rc after SIGINT (want 1)"; fail=1; }
grep -q "interrupted" "$W/log" || { echo "FAIL: no 'interrupted' message:"; tail -3 "$W/log"; fail=1; }
if [[ -n "$(ls -A "$W/out")" ]]; then echo "FAIL: files left behind: $(ls -A "$W/out")"; fail=1; fi
[[ $fail -eq 0 ]] && echo "ok   SIGINT mid-calibration: exit 1, '$(grep interrupted "$W/log")', nothing written"

# The same while compare times its models in LiteRT (child node processes; the signal goes to
# qcal alone, as from `kill`): it stops at the next model, exits 1 and leaves no folder.
"$QCAL" compare "$CACHE/models/hand_landmark_lite.tflite" --images "$CACHE/photos" --eval-images "$CACHE/photos" \
  --schemes fp16,dynamic --runs 200 -o "$W/out/cmp" >"$W/log2" 2>&1 &
pid=$!
for _ in $(seq 1 3000); do grep -q "^LiteRT latency: timing" "$W/log2" 2>/dev/null && break; sleep 0.1; done
if ! grep -q "^LiteRT latency: timing" "$W/log2"; then
  echo "FAIL: compare printed no LiteRT timing line within 300 s:"; tail -3 "$W/log2"; kill -9 "$pid"; exit 1
fi
kill -INT "$pid"
wait "$pid"
rc=$?
[[ $rc -eq 1 ]] || { echo "FAIL: compare exit code $rc after SIGINT (want 1)"; fail=1; }
grep -q "interrupted" "$W/log2" || { echo "FAIL: compare: no 'interrupted' message:"; tail -3 "$W/log2"; fail=1; }
if [[ -n "$(ls -A "$W/out")" ]]; then echo "FAIL: compare left files behind: $(ls -A "$W/out")"; fail=1; fi
[[ $fail -eq 0 ]] && echo "ok   SIGINT while compare times models in LiteRT: exit 1, nothing written"
exit $fail
