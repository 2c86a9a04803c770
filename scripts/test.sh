#!/usr/bin/env bash
# Installs what is missing, builds, and runs qcal's whole test suite:
#   1. unit and CLI tests built with clang under AddressSanitizer + UndefinedBehaviorSanitizer
#      (a sanitizer report fails the step even where the test expected a failing exit),
#   2. the fuzzers of every reader of outside input (models, the run path, .npy, calibration
#      caches, images), each for a bounded number of runs from a fixed seed,
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
  step "unit and CLI tests under ASan + UBSan (clang)"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DQCAL_SANITIZE=address,undefined >/dev/null
  ninja -C build-asan -j"$JOBS" qcal_unit_tests qcal_cli
  # Reports go to files, not only to stderr: a CLI test that expects exit 1 from bad input
  # would otherwise pass on a sanitizer's abort. Exit 86 is no status qcal uses.
  reports="$ROOT/build-asan/sanitizer-reports"
  rm -rf "$reports" && mkdir -p "$reports"
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1:exitcode=86:log_path="$reports/report" \
     UBSAN_OPTIONS=print_stacktrace=1:exitcode=86:log_path="$reports/report" \
     ctest -L 'unit|cli' -j"$JOBS" --output-on-failure) || status=1
  if compgen -G "$reports/report*" >/dev/null; then
    head -60 "$reports"/report*
    echo "sanitizer reports in $reports"
    status=1
  fi

  step "fuzzing every reader of outside input (fixed seeds and run counts: reproducible)"
  cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
        -DQCAL_FUZZ=ON -DQCAL_SANITIZE=address,undefined -DQCAL_BUILD_TESTS=OFF \
        -DQCAL_FUZZ_EXTRA_FLAGS=-fno-sanitize=alignment >/dev/null
  ninja -C build-fuzz -j"$JOBS" fuzz_model_reader fuzz_run fuzz_npy fuzz_calibration fuzz_image
  corpora=$(mktemp -d)
  trap 'rm -rf "$corpora"' EXIT
  # Seeds: the committed small files, plus real fixtures for the fuzzer to mutate.
  mkdir -p "$corpora"/{models,npy,calibration,images}
  cp tests/fuzz/seeds/*.tflite "$QCAL_CACHE/models/face_detection_short_range.tflite" "$corpora/models/"
  cp tests/fuzz/seeds/*.npy "$corpora/npy/"
  cp tests/fuzz/seeds/*.json "$corpora/calibration/"
  cp tests/fuzz/seeds/image_* "$corpora/images/"
  fuzz() {  # target, corpus, runs, max_len
    local log="build-fuzz/$1.log"
    if build-fuzz/"$1" "$corpora/$2" -seed=1 -runs="$3" -max_len="$4" -artifact_prefix=build-fuzz/"$1"- \
         -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1; then
      echo "$1: $(grep -oE "stat::number_of_executed_units: *[0-9]+" "$log" | grep -oE "[0-9]+$") runs, no crash"
    else
      tail -40 "$log"
      echo "$1: FOUND A CRASH (see $log and build-fuzz/$1-crash-*)"
      status=1
    fi
  }
  runs=${QCAL_FUZZ_RUNS:-60000}
  fuzz fuzz_model_reader models "$runs" 262144
  fuzz fuzz_run models $((runs / 6)) 262144
  fuzz fuzz_npy npy "$runs" 4096
  fuzz fuzz_calibration calibration $((runs / 2)) 65536
  fuzz fuzz_image images $((runs / 2)) 65536
fi

step "release build and the full suite"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
ninja -C build -j"$JOBS"
(cd build && ctest -j"$JOBS" --output-on-failure --timeout 900) || status=1
exit $status
