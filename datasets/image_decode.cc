#include "qcal/image_decode.h"

#include <csetjmp>
#include <memory>
#include <cstdio>
#include <cstring>

// libjpeg's header needs size_t and FILE declared first.
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "qcal/error.h"

namespace qcal {

namespace {

bool starts_with(std::span<const uint8_t> b, const char* magic, size_t n, size_t at = 0) {
  return b.size() >= at + n && std::memcmp(b.data() + at, magic, n) == 0;
}

uint32_t le16(const uint8_t* p) { return p[0] | (p[1] << 8); }
uint32_t le32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<uint32_t>(p[3]) << 24); }
uint32_t be16(const uint8_t* p) { return (p[0] << 8) | p[1]; }
uint32_t be32(const uint8_t* p) { return (static_cast<uint32_t>(p[0]) << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }

// Why a header's size is refused, or "" (a string, not an exception: callers hold longjmp state).
std::string size_problem(int64_t width, int64_t height, uint64_t max_pixels) {
  if (width <= 0 || height <= 0)
    return "the header gives a " + std::to_string(width) + "x" + std::to_string(height) + " image";
  const uint64_t pixels = static_cast<uint64_t>(width) * static_cast<uint64_t>(height);
  if (pixels > max_pixels)
    return "the image is " + std::to_string(width) + "x" + std::to_string(height) + " (" + std::to_string(pixels) +
           " pixels), over --max-pixels " + std::to_string(max_pixels);
  return "";
}

void check_size(int64_t width, int64_t height, uint64_t max_pixels) {
  const std::string problem = size_problem(width, height, max_pixels);
  if (!problem.empty()) throw Error(problem);
}

DecodedImage to_gray(DecodedImage img) {
  if (img.channels == 1) return img;
  cv::Mat bgr(img.height, img.width, CV_8UC3, img.pixels.data());
  cv::Mat g;
  cv::cvtColor(bgr, g, cv::COLOR_BGR2GRAY);
  return {img.width, img.height, 1, std::vector<uint8_t>(g.data, g.data + g.total())};
}

// ---- JPEG -------------------------------------------------------------------------------------

struct JpegErrors {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = {};
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* e = reinterpret_cast<JpegErrors*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, e->message);
  std::longjmp(e->jump, 1);
}

// libjpeg reports a truncated file ("Premature end of JPEG file") or damaged data as a
// warning and pads the rest with gray: for a dataset that is a corrupt image.
void jpeg_message(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);
}

// The EXIF orientation (1..8) in an APP1 marker, or 1.
int exif_orientation(const jpeg_decompress_struct& cinfo) {
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next) {
    if (m->marker != JPEG_APP0 + 1 || m->data_length < 14 || std::memcmp(m->data, "Exif\0\0", 6) != 0) continue;
    const uint8_t* t = m->data + 6;
    const size_t n = m->data_length - 6;
    const bool little = t[0] == 'I' && t[1] == 'I';
    if (!little && !(t[0] == 'M' && t[1] == 'M')) continue;
    auto u16 = [&](size_t at) { return little ? le16(t + at) : be16(t + at); };
    auto u32 = [&](size_t at) { return little ? le32(t + at) : be32(t + at); };
    const size_t ifd = u32(4);
    if (ifd + 2 > n) continue;
    const size_t entries = u16(ifd);
    for (size_t k = 0; k < entries; ++k) {
      const size_t e = ifd + 2 + 12 * k;
      if (e + 12 > n) break;
      if (u16(e) != 0x0112) continue;  // Orientation: a SHORT, though some writers use (S)LONG
      const uint32_t type = u16(e + 2);
      const uint32_t v = type == 3 || type == 8 ? u16(e + 8) : type == 4 || type == 9 ? u32(e + 8) : 1;
      return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
    }
  }
  return 1;
}

// Turns the image upright as its EXIF orientation says (as OpenCV's imread does).
void apply_orientation(DecodedImage& img, int orientation) {
  if (orientation == 1) return;
  cv::Mat src(img.height, img.width, img.channels == 1 ? CV_8UC1 : CV_8UC3, img.pixels.data());
  cv::Mat dst;
  switch (orientation) {
    case 2: cv::flip(src, dst, 1); break;
    case 3: cv::flip(src, dst, -1); break;
    case 4: cv::flip(src, dst, 0); break;
    case 5: cv::transpose(src, dst); break;
    case 6: cv::transpose(src, dst), cv::flip(dst, dst, 1); break;
    case 7: cv::transpose(src, dst), cv::flip(dst, dst, -1); break;
    case 8: cv::transpose(src, dst), cv::flip(dst, dst, 0); break;
    default: return;
  }
  img.width = dst.cols;
  img.height = dst.rows;
  img.pixels.assign(dst.data, dst.data + dst.total() * dst.elemSize());
}

// Everything the decoder touches after setjmp lives on the heap: automatic variables changed
// between setjmp and longjmp would be indeterminate after the jump.
struct JpegState {
  jpeg_decompress_struct cinfo{};
  JpegErrors errors;
  DecodedImage img;
  std::string refusal;
  ~JpegState() { jpeg_destroy_decompress(&cinfo); }
};

DecodedImage decode_jpeg(std::span<const uint8_t> bytes, bool gray, uint64_t max_pixels) {
  const auto state = std::make_unique<JpegState>();
  jpeg_decompress_struct& cinfo = state->cinfo;
  DecodedImage& img = state->img;
  cinfo.err = jpeg_std_error(&state->errors.mgr);
  state->errors.mgr.error_exit = jpeg_fail;
  state->errors.mgr.emit_message = jpeg_message;
  if (setjmp(state->errors.jump)) throw Error(std::string("corrupt or truncated JPEG (") + state->errors.message + ")");
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&cinfo, TRUE);
  img.width = static_cast<int>(cinfo.image_width);
  img.height = static_cast<int>(cinfo.image_height);
  state->refusal = size_problem(img.width, img.height, max_pixels);
  if (state->refusal.empty() && (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK))
    state->refusal = "CMYK JPEGs are not supported";
  if (!state->refusal.empty()) throw Error(state->refusal);
  const int orientation = exif_orientation(cinfo);
  cinfo.out_color_space = gray ? JCS_GRAYSCALE : JCS_EXT_BGR;
  jpeg_start_decompress(&cinfo);
  img.channels = cinfo.output_components;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * img.channels);
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW row = img.pixels.data() + static_cast<size_t>(cinfo.output_scanline) * img.width * img.channels;
    jpeg_read_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_decompress(&cinfo);
  apply_orientation(img, orientation);
  return std::move(img);
}

// ---- PNG --------------------------------------------------------------------------------------

struct PngSource {
  std::span<const uint8_t> bytes;
  size_t at = 0;
  char message[256] = {};
};

// As for JPEG: what changes after setjmp is on the heap.
struct PngState {
  PngSource src;
  png_structp png = nullptr;
  png_infop info = nullptr;
  DecodedImage img;
  std::vector<png_bytep> rows;
  std::string refusal;
  ~PngState() { png_destroy_read_struct(&png, &info, nullptr); }
};

void png_fail(png_structp png, png_const_charp message) {
  auto* src = static_cast<PngSource*>(png_get_error_ptr(png));
  std::snprintf(src->message, sizeof src->message, "%s", message);
  png_longjmp(png, 1);
}

void png_ignore_warning(png_structp, png_const_charp) {}  // e.g. a known-incorrect sRGB profile

void png_read_memory(png_structp png, png_bytep out, size_t n) {
  auto* src = static_cast<PngSource*>(png_get_io_ptr(png));
  if (n > src->bytes.size() - src->at) png_error(png, "the file ends early");
  std::memcpy(out, src->bytes.data() + src->at, n);
  src->at += n;
}

DecodedImage decode_png(std::span<const uint8_t> bytes, bool gray, uint64_t max_pixels) {
  const auto state = std::make_unique<PngState>();
  state->src.bytes = bytes;
  state->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state->src, png_fail, png_ignore_warning);
  if (!state->png) throw Error("libpng could not start");
  state->info = png_create_info_struct(state->png);
  png_structp png = state->png;
  png_infop info = state->info;
  DecodedImage& img = state->img;
  if (!info) throw Error("libpng could not start");
  if (setjmp(png_jmpbuf(png)))
    throw Error(state->refusal.empty() ? std::string("corrupt or truncated PNG (") + state->src.message + ")" : state->refusal);
  png_set_read_fn(png, &state->src, png_read_memory);
  png_read_info(png, info);
  img.width = static_cast<int>(png_get_image_width(png, info));
  img.height = static_cast<int>(png_get_image_height(png, info));
  state->refusal = size_problem(img.width, img.height, max_pixels);
  if (!state->refusal.empty()) png_longjmp(png, 1);
  const int color_type = png_get_color_type(png, info);
  const int depth = png_get_bit_depth(png, info);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if (color_type == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if (depth == 16) png_set_strip_16(png);
  png_set_strip_alpha(png);
  const bool source_gray = (color_type & PNG_COLOR_MASK_COLOR) == 0;
  if (gray && !source_gray) png_set_rgb_to_gray(png, PNG_ERROR_ACTION_NONE, -1, -1);
  if (!gray && source_gray) png_set_gray_to_rgb(png);
  if (!gray) png_set_bgr(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  img.channels = gray ? 1 : 3;
  const size_t stride = static_cast<size_t>(img.width) * img.channels;
  if (png_get_rowbytes(png, info) != stride) png_error(png, "unexpected row size after conversion");
  img.pixels.resize(stride * img.height);
  state->rows.resize(static_cast<size_t>(img.height));
  for (int y = 0; y < img.height; ++y) state->rows[static_cast<size_t>(y)] = img.pixels.data() + stride * y;
  png_read_image(png, state->rows.data());
  png_read_end(png, nullptr);
  return std::move(img);
}

// ---- WebP -------------------------------------------------------------------------------------

DecodedImage decode_webp(std::span<const uint8_t> bytes, bool gray, uint64_t max_pixels) {
  DecodedImage img;
  if (!WebPGetInfo(bytes.data(), bytes.size(), &img.width, &img.height)) throw Error("corrupt WebP header");
  check_size(img.width, img.height, max_pixels);
  img.channels = 3;
  const size_t stride = static_cast<size_t>(img.width) * 3;
  img.pixels.resize(stride * img.height);
  if (!WebPDecodeBGRInto(bytes.data(), bytes.size(), img.pixels.data(), img.pixels.size(), static_cast<int>(stride)))
    throw Error("corrupt or truncated WebP (or an animated one)");
  return gray ? to_gray(std::move(img)) : img;
}

// ---- BMP --------------------------------------------------------------------------------------

// Uncompressed BMPs (BI_RGB at 1, 4, 8, 24 or 32 bits, BI_BITFIELDS at 32 bits in BGRA
// order): what image tools write; other variants are refused.
DecodedImage decode_bmp(std::span<const uint8_t> b, bool gray, uint64_t max_pixels) {
  if (b.size() < 26) throw Error("corrupt BMP header");
  const uint32_t data_offset = le32(&b[10]);
  const uint32_t header_size = le32(&b[14]);
  if (header_size < 40 || 14 + static_cast<size_t>(header_size) > b.size()) throw Error("unsupported BMP header (size " + std::to_string(header_size) + ")");
  const int32_t width = static_cast<int32_t>(le32(&b[18]));
  const int32_t raw_height = static_cast<int32_t>(le32(&b[22]));
  const uint32_t bits = le16(&b[28]);
  const uint32_t compression = le32(&b[30]);
  uint32_t palette_size = le32(&b[46]);
  check_size(width, raw_height < 0 ? -static_cast<int64_t>(raw_height) : raw_height, max_pixels);
  DecodedImage img;
  img.width = width;
  img.height = raw_height < 0 ? -raw_height : raw_height;
  const bool bitfields_bgra = compression == 3 && bits == 32 && 14 + 40 + 12 <= b.size() && le32(&b[54]) == 0x00ff0000 &&
                              le32(&b[58]) == 0x0000ff00 && le32(&b[62]) == 0x000000ff;
  if (!(compression == 0 || bitfields_bgra) || !(bits == 1 || bits == 4 || bits == 8 || bits == 24 || bits == 32))
    throw Error("unsupported BMP variant (" + std::to_string(bits) + " bits, compression " + std::to_string(compression) + ")");
  if (bits <= 8 && palette_size == 0) palette_size = 1u << bits;
  const size_t palette_at = 14 + static_cast<size_t>(header_size) + (compression == 3 && header_size == 40 ? 12 : 0);
  if (bits <= 8 && (palette_size > 256 || palette_at + 4 * static_cast<size_t>(palette_size) > b.size()))
    throw Error("corrupt BMP palette");
  const size_t stride = (static_cast<size_t>(img.width) * bits + 31) / 32 * 4;
  if (data_offset > b.size() || stride * img.height > b.size() - data_offset) throw Error("truncated BMP (pixel data ends early)");
  img.channels = 3;
  img.pixels.resize(static_cast<size_t>(img.width) * img.height * 3);
  for (int y = 0; y < img.height; ++y) {
    const uint8_t* row = &b[data_offset + stride * static_cast<size_t>(raw_height < 0 ? y : img.height - 1 - y)];
    uint8_t* out = img.pixels.data() + static_cast<size_t>(y) * img.width * 3;
    for (int x = 0; x < img.width; ++x, out += 3) {
      if (bits >= 24) {
        std::memcpy(out, row + static_cast<size_t>(x) * (bits / 8), 3);
        continue;
      }
      const size_t bit = static_cast<size_t>(x) * bits;
      const uint32_t index = (row[bit / 8] >> (8 - bits - bit % 8)) & ((1u << bits) - 1);
      if (index >= palette_size) throw Error("corrupt BMP (a pixel outside the palette)");
      std::memcpy(out, &b[palette_at + 4 * index], 3);
    }
  }
  return gray ? to_gray(std::move(img)) : img;
}

}  // namespace

DecodedImage decode_image(std::span<const uint8_t> b, bool gray, uint64_t max_pixels) {
  if (starts_with(b, "\xff\xd8\xff", 3)) return decode_jpeg(b, gray, max_pixels);
  if (starts_with(b, "\x89PNG\r\n\x1a\n", 8)) return decode_png(b, gray, max_pixels);
  if (starts_with(b, "RIFF", 4) && starts_with(b, "WEBP", 4, 8)) return decode_webp(b, gray, max_pixels);
  if (starts_with(b, "BM", 2)) return decode_bmp(b, gray, max_pixels);
  throw Error("not an image qcal reads (JPEG, PNG, WebP or BMP)");
}

}  // namespace qcal
