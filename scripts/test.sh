#!/usr/bin/env bash
# Installs what is missing, builds, and runs qcal's whole test suite:
#   1. unit tests built with clang under AddressSanitizer + UndefinedBehaviorSanitizer,
#   2. the model-reader fuzzer for a bounded number of runs (about 30 s),
#   3. the release build's full ctest suite (unit + interop against the real LiteRT
#      runtime on real models); its summary line is the last thing printed.
# Environment: QCAL_CACHE (fixture cache, default ~/.cache/qcal), QCAL_FUZZ_RUNS (60000),
# QCAL_SKIP_SANITIZERS=1 to skip steps 1-2 during development.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc)

step() { printf '\n== %s\n' "$*"; }

step "dependencies"
scripts/install_deps.sh
scripts/fetch_fixtures.sh
export QCAL_CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"

status=0
if [[ "${QCAL_SKIP_SANITIZERS:-0}" != 1 ]]; then
  step "unit tests under ASan + UBSan (clang)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DQCAL_SANITIZE=address,undefined >/dev/null
  ninja -C build-asan -j"$JOBS" qcal_unit_tests qcal_cli
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
     ctest -L unit -j"$JOBS" --output-on-failure) || status=1

  step "fuzzing the model reader (${QCAL_FUZZ_RUNS:-60000} runs from a fixed seed: reproducible)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DQCAL_FUZZ=ON -DQCAL_SANITIZE=address,undefined -DQCAL_BUILD_TESTS=OFF \
        -DQCAL_FUZZ_EXTRA_FLAGS=-fno-sanitize=alignment >/dev/null
  ninja -C build-fuzz -j"$JOBS" fuzz_model_reader
  corpus=$(mktemp -d)
  trap 'rm -rf "$corpus"' EXIT
  cp tests/fuzz/seeds/* "$corpus"/
  cp "$QCAL_CACHE/models/face_detection_short_range.tflite" "$corpus"/ 2>/dev/null || true
  if build-fuzz/fuzz_model_reader "$corpus" -seed=1 -runs="${QCAL_FUZZ_RUNS:-60000}" -max_len=262144 \
       -artifact_prefix=build-fuzz/ \
       -rss_limit_mb=4096 -print_final_stats=1 > build-fuzz/fuzz.log 2>&1; then
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" build-fuzz/fuzz.log || true
    echo "fuzzer: no crash"
  else
    tail -40 build-fuzz/fuzz.log
    echo "fuzzer: FOUND A CRASH (see build-fuzz/fuzz.log and the crash-* file)"
    status=1
  fi
fi

step "release build and the full suite"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$JOBS"
(cd build && ctest -j"$JOBS" --output-on-failure --timeout 900) || status=1
exit $status
