#include "qcal/npy.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <string_view>

#include "qcal/error.h"
#include "qcal/model_io.h"

namespace qcal {
namespace {

struct DescrEntry { const char* descr; DType dtype; };
constexpr DescrEntry kDescr[] = {
    {"<f4", DType::kFloat32}, {"<f2", DType::kFloat16}, {"<f8", DType::kFloat64}, {"<i4", DType::kInt32},
    {"<i8", DType::kInt64},   {"|i1", DType::kInt8},    {"|u1", DType::kUInt8},   {"<i2", DType::kInt16},
    {"<u2", DType::kUInt16},  {"<u4", DType::kUInt32},  {"<u8", DType::kUInt64},  {"|b1", DType::kBool},
};

const char* descr_of(DType t) {
  for (const auto& e : kDescr)
    if (e.dtype == t) return e.descr;
  throw Error(std::string("cannot store ") + dtype_name(t) + " tensors as .npy");
}

// Headers are bounded (numpy's own reader stops at 10,000 bytes by default).
constexpr size_t kMaxHeader = 64 * 1024;
constexpr size_t kMaxRank = 64;

// At most 40 characters of file text in a message, on one line.
std::string clip(std::string_view s) {
  std::string out(s.substr(0, 40));
  for (char& c : out)
    if (!std::isprint(static_cast<unsigned char>(c))) c = '?';
  return s.size() <= 40 ? out : out + "...";
}

struct Header {
  std::string descr;
  bool fortran_order = false;
  Shape shape;
};

// The header is a Python dict literal, e.g. {'descr': '<f4', 'fortran_order': False,
// 'shape': (1, 3), }, parsed by hand in one pass: exactly these three keys, each once.
// (std::regex recursed once per character and overflowed the stack on long fields.)
Header parse_header(std::string_view h, const std::string& where) {
  size_t i = 0;
  auto fail = [&](const std::string& what) { throw Error(where + "bad .npy header: " + what); };
  auto skip_space = [&] {
    while (i < h.size() && (h[i] == ' ' || h[i] == '\t' || h[i] == '\n' || h[i] == '\r')) ++i;
  };
  auto next_is = [&](char c) {
    skip_space();
    return i < h.size() && h[i] == c;
  };
  auto expect = [&](char c) {
    if (!next_is(c)) fail(std::string("expected '") + c + "' at offset " + std::to_string(i));
    ++i;
  };
  auto string = [&] {
    skip_space();
    if (i >= h.size() || (h[i] != '\'' && h[i] != '"')) fail("expected a quoted string at offset " + std::to_string(i));
    const char quote = h[i++];
    const size_t end = h.find(quote, i);
    if (end == std::string_view::npos) fail("unterminated string");
    const std::string_view v = h.substr(i, end - i);
    i = end + 1;
    return v;
  };
  auto word = [&] {
    skip_space();
    const size_t start = i;
    while (i < h.size() && std::isalpha(static_cast<unsigned char>(h[i]))) ++i;
    return h.substr(start, i - start);
  };
  auto dimension = [&] {
    skip_space();
    if (i >= h.size() || !std::isdigit(static_cast<unsigned char>(h[i])))
      fail("'shape' must be a tuple of non-negative integers");
    const size_t start = i;
    int64_t d = 0;
    while (i < h.size() && std::isdigit(static_cast<unsigned char>(h[i]))) {
      d = std::min<int64_t>(d * 10 + (h[i++] - '0'), int64_t{1} << 32);  // saturates: no overflow
    }
    if (d > std::numeric_limits<int32_t>::max())
      fail("shape dimension " + clip(h.substr(start, i - start)) + " is too large (at most 2147483647)");
    if (i < h.size() && h[i] == 'L') ++i;  // Python 2's long suffix
    return static_cast<int32_t>(d);
  };

  Header out;
  bool has_descr = false, has_order = false, has_shape = false;
  auto once = [&](bool& seen, std::string_view key) {
    if (seen) fail("duplicate key '" + std::string(key) + "'");
    seen = true;
  };
  expect('{');
  while (!next_is('}')) {
    const std::string_view key = string();
    expect(':');
    if (key == "descr") {
      once(has_descr, key);
      out.descr = string();
    } else if (key == "fortran_order") {
      once(has_order, key);
      const std::string_view v = word();
      if (v != "True" && v != "False") fail("'fortran_order' must be True or False");
      out.fortran_order = v == "True";
    } else if (key == "shape") {
      once(has_shape, key);
      expect('(');
      while (!next_is(')')) {
        if (out.shape.size() == kMaxRank) fail("more than " + std::to_string(kMaxRank) + " dimensions");
        out.shape.push_back(dimension());
        if (!next_is(',')) break;
        ++i;
      }
      expect(')');
    } else {
      fail("unknown key '" + clip(key) + "'");
    }
    if (!next_is(',')) break;
    ++i;
  }
  expect('}');
  skip_space();
  if (i != h.size()) fail("unexpected text after the dictionary at offset " + std::to_string(i));
  if (!has_descr) fail("no 'descr' (dtype)");
  if (!has_order) fail("no 'fortran_order'");
  if (!has_shape) fail("no 'shape'");
  return out;
}

}  // namespace

HostTensor read_npy(const std::filesystem::path& path) {
  HostTensor t = decode_npy(read_file_bytes(path), path.string());
  t.name = path.stem().string();
  return t;
}

HostTensor decode_npy(std::span<const uint8_t> b, const std::string& label) {
  const std::string where = label + ": ";
  static const uint8_t kMagic[] = {0x93, 'N', 'U', 'M', 'P', 'Y'};
  if (b.size() < 10 || std::memcmp(b.data(), kMagic, 6) != 0) throw Error(where + "not a .npy file (bad magic)");
  const int major = b[6];
  size_t header_len, offset;
  if (major == 1) {
    header_len = b[8] | (b[9] << 8);
    offset = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw Error(where + "truncated .npy header");
    header_len = b[8] | (b[9] << 8) | (b[10] << 16) | (static_cast<size_t>(b[11]) << 24);
    offset = 12;
  } else {
    throw Error(where + "unsupported .npy version " + std::to_string(major));
  }
  if (header_len > kMaxHeader)
    throw Error(where + "the .npy header is " + std::to_string(header_len) + " bytes (at most 64 KiB)");
  if (offset + header_len > b.size()) throw Error(where + "truncated .npy header");
  const Header h = parse_header({reinterpret_cast<const char*>(b.data()) + offset, header_len}, where);
  if (h.fortran_order) throw Error(where + "Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  HostTensor t;
  t.shape = h.shape;
  bool found = false;
  for (const auto& e : kDescr)
    if (h.descr == e.descr || (h.descr.size() == 3 && h.descr[0] == '=' && h.descr.substr(1) == std::string(e.descr).substr(1))) {
      t.dtype = e.dtype;
      found = true;
    }
  if (!found) throw Error(where + "unsupported dtype '" + clip(h.descr) + "' (big-endian or exotic)");
  // Elements, then bytes, without overflow: any zero dimension makes an empty array.
  uint64_t count = 1;
  bool overflow = false;
  for (int32_t d : t.shape) overflow |= __builtin_mul_overflow(count, static_cast<uint64_t>(d), &count);
  if (std::find(t.shape.begin(), t.shape.end(), 0) != t.shape.end()) count = 0, overflow = false;
  uint64_t want = 0;
  if (overflow || __builtin_mul_overflow(count, static_cast<uint64_t>(dtype_size(t.dtype)), &want) ||
      want > (uint64_t{1} << 62))
    throw Error(where + "shape " + shape_str(t.shape) + " has too many elements");
  const size_t data_offset = offset + header_len;
  if (b.size() - data_offset != want)
    throw Error(where + "holds " + std::to_string(b.size() - data_offset) + " data bytes, but " + h.descr + " " +
                shape_str(t.shape) + " needs " + std::to_string(want));
  t.data.assign(b.begin() + static_cast<ptrdiff_t>(data_offset), b.end());
  return t;
}

std::vector<uint8_t> encode_npy(const HostTensor& t) {
  std::string shape = "(";
  for (size_t i = 0; i < t.shape.size(); ++i) shape += std::to_string(t.shape[i]) + (t.shape.size() == 1 || i + 1 < t.shape.size() ? "," : "");
  shape += ")";
  std::string header = std::string("{'descr': '") + descr_of(t.dtype) + "', 'fortran_order': False, 'shape': " + shape + ", }";
  // Pad so the data starts on a 64-byte boundary, newline-terminated, as numpy does.
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                              static_cast<uint8_t>(header.size() & 0xff), static_cast<uint8_t>(header.size() >> 8)};
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), t.data.begin(), t.data.end());
  return out;
}

void write_npy(const std::filesystem::path& path, const HostTensor& t) { write_file_atomic(path, encode_npy(t)); }

}  // namespace qcal
