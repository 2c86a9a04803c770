// .npy files: round trips, strict headers, and arrays matched to model inputs by shape.
#include <fstream>

#include "op_test_util.h"
#include "qcal/error.h"
#include "qcal/npy.h"
#include "qcal/run_tools.h"

namespace qcal {
namespace {

using test::TempDir;

// A version-1 (or 2) .npy file with this header text and data bytes.
std::vector<uint8_t> npy_bytes(const std::string& header, const std::vector<uint8_t>& data = {}, int version = 1) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', static_cast<uint8_t>(version), 0};
  const size_t n = header.size();
  out.push_back(static_cast<uint8_t>(n));
  out.push_back(static_cast<uint8_t>(n >> 8));
  if (version >= 2) {
    out.push_back(static_cast<uint8_t>(n >> 16));
    out.push_back(static_cast<uint8_t>(n >> 24));
  }
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::string read_error(const TempDir& dir, const std::vector<uint8_t>& bytes) {
  const auto path = dir.path / "a.npy";
  write_bytes(path, bytes);
  try {
    read_npy(path);
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    EXPECT_NE(msg.find("a.npy: "), std::string::npos) << msg;
    return msg;
  }
  return "";
}

#define EXPECT_NPY_ERROR(bytes, text)                                \
  do {                                                               \
    const std::string msg_ = read_error(dir, bytes);                 \
    EXPECT_FALSE(msg_.empty()) << "accepted";                        \
    EXPECT_NE(msg_.find(text), std::string::npos) << "got: " << msg_; \
  } while (0)

TEST(Npy, RoundTripsEveryShape) {
  TempDir dir;
  for (const Shape& s : {Shape{}, Shape{3}, Shape{1, 2, 3}, Shape{2, 0, 4}}) {
    const HostTensor t = test::host<float>(s, std::vector<float>(num_elements(s), 1.5f));
    write_npy(dir.path / "t.npy", t);
    const HostTensor r = read_npy(dir.path / "t.npy");
    EXPECT_EQ(r.shape, s);
    EXPECT_EQ(r.dtype, DType::kFloat32);
    EXPECT_EQ(r.data, t.data);
  }
  // numpy's other spellings: double quotes, no trailing comma, Python 2's long suffix.
  const std::vector<uint8_t> data = test::to_bytes(std::vector<float>{1, 2});
  const auto path = dir.path / "b.npy";
  const auto bytes = npy_bytes("{\"descr\": \"<f4\", \"shape\": (2L, 1L), \"fortran_order\": False}\n", data);
  write_bytes(path, bytes);
  EXPECT_EQ(read_npy(path).shape, (Shape{2, 1}));
}

TEST(Npy, HeadersAreParsedStrictly) {
  TempDir dir;
  const std::vector<uint8_t> four = test::to_bytes(std::vector<float>{1, 2, 3, 4});
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, }", four), "shape");
  EXPECT_NPY_ERROR(npy_bytes("{'fortran_order': False, 'shape': (4,), }", four), "descr");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': True, 'shape': (4,), }", four), "Fortran");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", four), "unsupported dtype");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), 'extra': 1}", four), "extra");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (4,)}", four), "descr");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,-1), }", four), "shape");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), } junk", four), "header");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", four), "needs 8");
}

TEST(Npy, HugeHeadersAndShapesAreErrorsNotCrashes) {
  TempDir dir;
  // A 50,000-character field (a regex over it used to overflow the stack).
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '" + std::string(50000, 'f') + "', 'fortran_order': False, 'shape': (1,), }"),
                   "unsupported dtype");
  const auto spaced = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (" + std::string(50000, ' ') + "1,), }",
                                test::to_bytes(std::vector<float>{1}));
  write_bytes(dir.path / "s.npy", spaced);
  EXPECT_EQ(read_npy(dir.path / "s.npy").shape, (Shape{1}));
  // Over 64 KiB of header (format 2.0 allows 4 GiB).
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }" + std::string(70000, ' '), {}, 2),
                   "header");
  // Digits that fit no integer, a dimension beyond int32, and a product beyond int64.
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,), }\n"), "dimension");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483648,), }"), "dimension");
  EXPECT_NPY_ERROR(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2147483647,2147483647,2147483647,3), }"),
                   "");
}

// An executor whose one input is float32 [1,4,2,3] (RELU).
std::shared_ptr<Executor> nhwc_executor() {
  test::ModelBuilder b;
  const int x = b.input(DType::kFloat32, {1, 4, 2, 3});
  const int y = b.tensor(DType::kFloat32, {1, 4, 2, 3});
  b.op(tflite::BuiltinOperator::RELU, {x}, {y});
  b.output(y);
  return std::make_shared<Executor>(std::make_shared<Model>(b.model()), ExecutorOptions{}, "m");
}

TEST(SplitBatch, ShapesMustMatchNotJustElementCounts) {
  const auto ex = nhwc_executor();
  auto arr = [](const Shape& s) { return HostTensor::zeros("a", DType::kFloat32, s); };
  EXPECT_EQ(split_batch(*ex, {arr({1, 4, 2, 3})}).size(), 1u);
  EXPECT_EQ(split_batch(*ex, {arr({3, 4, 2, 3})}).size(), 3u);      // N of them along the batch dimension
  EXPECT_EQ(split_batch(*ex, {arr({2, 1, 4, 2, 3})}).size(), 2u);   // N of them stacked
  for (const Shape& bad : {Shape{1, 3, 4, 2}, Shape{24}, Shape{4, 2, 3}, Shape{2, 2, 2, 3}, Shape{1, 4, 2, 3, 1}}) {
    try {
      split_batch(*ex, {arr(bad)});
      ADD_FAILURE() << shape_str(bad) << " was accepted";
    } catch (const Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(shape_str(bad)), std::string::npos) << msg;
      EXPECT_NE(msg.find("[1,4,2,3]"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace qcal
