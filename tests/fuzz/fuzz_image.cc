// libFuzzer target: the image sample decoder (JPEG, PNG, WebP, BMP) and the pre-processing
// after it. Whatever the bytes, an image is refused with qcal::Error or decoded into exactly
// width x height x channels bytes and pre-processed into a model input.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "qcal/dataset.h"
#include "qcal/error.h"
#include "qcal/image_decode.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const bool gray = data[0] & 1;  // the first byte picks the mode; the rest is the file
  try {
    const qcal::DecodedImage img = qcal::decode_image({data + 1, size - 1}, gray, uint64_t{1} << 22);
    if (img.channels != (gray ? 1 : 3) ||
        img.pixels.size() != static_cast<size_t>(img.width) * img.height * img.channels)
      std::abort();
    qcal::Tensor input;
    input.name = "input";
    input.dtype = qcal::DType::kFloat32;
    input.shape = {1, 16, 16, gray ? 1 : 3};
    qcal::Preprocessing p;
    p.resize = data[0] & 2 ? qcal::Preprocessing::Resize::kLetterbox : qcal::Preprocessing::Resize::kCrop;
    (void)qcal::preprocess_image(img.pixels.data(), img.height, img.width, img.channels, input, p);
  } catch (const qcal::Error&) {
  }
  return 0;
}
