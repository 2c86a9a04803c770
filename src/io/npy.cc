#include "qcal/npy.h"

#include <cstring>
#include <regex>

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

}  // namespace

HostTensor read_npy(const std::filesystem::path& path) {
  const std::vector<uint8_t> b = read_file_bytes(path);
  const std::string where = path.string() + ": ";
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
  if (offset + header_len > b.size()) throw Error(where + "truncated .npy header");
  const std::string header(b.begin() + offset, b.begin() + offset + header_len);
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']+)'")))
    throw Error(where + "no dtype in the .npy header");
  const std::string descr = m[1];
  if (std::regex_search(header, std::regex("'fortran_order'\\s*:\\s*True")))
    throw Error(where + "Fortran-ordered arrays are not supported; save with np.ascontiguousarray");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw Error(where + "no shape in the .npy header");
  HostTensor t;
  t.name = path.stem().string();
  bool found = false;
  for (const auto& e : kDescr)
    if (descr == e.descr || (descr[0] == '=' && descr.substr(1) == std::string(e.descr).substr(1))) {
      t.dtype = e.dtype;
      found = true;
    }
  if (!found) throw Error(where + "unsupported dtype '" + descr + "' (big-endian or exotic)");
  const std::string dims = m[1];
  static const std::regex kNumber("\\d+");
  std::sregex_iterator it(dims.begin(), dims.end(), kNumber), end;
  for (; it != end; ++it) {
    const long long d = std::stoll(it->str());
    if (d > (1LL << 31)) throw Error(where + "dimension too large");
    t.shape.push_back(static_cast<int32_t>(d));
  }
  const size_t data_offset = offset + header_len;
  const uint64_t want = static_cast<uint64_t>(num_elements(t.shape)) * dtype_size(t.dtype);
  if (b.size() - data_offset != want)
    throw Error(where + "holds " + std::to_string(b.size() - data_offset) + " data bytes, but " + descr +
                " " + shape_str(t.shape) + " needs " + std::to_string(want));
  t.data.assign(b.begin() + data_offset, b.end());
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
