// Image decoding for datasets: JPEG (libjpeg-turbo), PNG (libpng), WebP (libwebp) and BMP.
// The size comes from the header before any pixel is decoded, so an image bomb (a small file
// claiming 20000 x 20000) costs nothing; a truncated or corrupt file is an Error, never an
// image whose missing part decodes as gray.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace qcal {

struct DecodedImage {
  int width = 0, height = 0, channels = 0;  // channels: 1 (gray) or 3 (B, G, R order)
  std::vector<uint8_t> pixels;             // rows top to bottom, interleaved, no padding
};

// Decodes to 8-bit BGR (or gray when `gray`), JPEGs turned upright by their EXIF
// orientation; 16-bit samples keep their high byte, alpha is dropped. Refuses (Error) an image
// whose header gives more than max_pixels, before decoding any pixel.
DecodedImage decode_image(std::span<const uint8_t> bytes, bool gray, uint64_t max_pixels);

}  // namespace qcal
