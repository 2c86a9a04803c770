// TFLite metadata (TFLITE_METADATA, "M001") normalization options as the default
// pre-processing. The metadata buffer is built here field by field from metadata_schema.fbs,
// independently of qcal's reader, and travels through qcal's writer and reader.
#include <flatbuffers/flatbuffers.h>

#include "op_test_util.h"
#include "qcal/dataset.h"
#include "qcal/model_io.h"

namespace qcal {
namespace {

using flatbuffers::FlatBufferBuilder;
using flatbuffers::Offset;
using flatbuffers::Table;

constexpr flatbuffers::voffset_t field(int id) { return static_cast<flatbuffers::voffset_t>(4 + 2 * id); }

// ModelMetadata{subgraph_metadata(3): [SubGraphMetadata{input_tensor_metadata(2):
// [TensorMetadata{process_units(4): units}]}]}, where the units are ProcessUnit{options_type(0),
// options(1)}: first a non-normalization unit (type 2, ScoreCalibrationOptions) when
// `decoy`, then NormalizationOptions{mean(0), std(1)}.
std::vector<uint8_t> metadata_bytes(const std::vector<float>& mean, const std::vector<float>& std, bool decoy) {
  FlatBufferBuilder b;
  std::vector<Offset<Table>> units;
  if (decoy) {
    const auto empty = b.StartTable();
    const Offset<Table> opts(b.EndTable(empty));
    const auto u = b.StartTable();
    b.AddElement<uint8_t>(field(0), 2, 0);
    b.AddOffset(field(1), opts);
    units.emplace_back(b.EndTable(u));
  }
  const auto vm = b.CreateVector(mean), vs = b.CreateVector(std);
  const auto n = b.StartTable();
  b.AddOffset(field(0), vm);
  b.AddOffset(field(1), vs);
  const Offset<Table> norm(b.EndTable(n));
  const auto u = b.StartTable();
  b.AddElement<uint8_t>(field(0), 1, 0);
  b.AddOffset(field(1), norm);
  units.emplace_back(b.EndTable(u));
  const auto vu = b.CreateVector(units);
  const auto t = b.StartTable();
  b.AddOffset(field(4), vu);
  const Offset<Table> tensor(b.EndTable(t));
  const auto vt = b.CreateVector(std::vector<Offset<Table>>{tensor});
  const auto s = b.StartTable();
  b.AddOffset(field(2), vt);
  const Offset<Table> subgraph(b.EndTable(s));
  const auto vsg = b.CreateVector(std::vector<Offset<Table>>{subgraph});
  const auto r = b.StartTable();
  b.AddOffset(field(3), vsg);
  b.Finish(Offset<Table>(b.EndTable(r)), "M001");
  return {b.GetBufferPointer(), b.GetBufferPointer() + b.GetSize()};
}

Model image_model_with_metadata(std::vector<uint8_t> bytes, const std::string& name = "TFLITE_METADATA") {
  test::ModelBuilder builder;
  const int x = builder.input(DType::kFloat32, {1, 4, 4, 3});
  builder.output(x);
  Model m = builder.model();
  m.buffers.push_back(Buffer{std::move(bytes)});
  m.metadata.push_back(Metadata{name, static_cast<uint32_t>(m.buffers.size() - 1)});
  return m;
}

TEST(Metadata, NormalizationOptionsSurviveWriterAndReader) {
  const Model m = image_model_with_metadata(metadata_bytes({127.5f, 127.5f, 127.5f}, {127.5f, 127.5f, 127.5f}, true));
  const Model back = read_model_from_bytes(serialize_model(m), "metadata-test");
  const auto norm = metadata_normalization(back);
  ASSERT_TRUE(norm.has_value());
  EXPECT_EQ(norm->first, (std::vector<float>{127.5f, 127.5f, 127.5f}));
  EXPECT_EQ(norm->second, (std::vector<float>{127.5f, 127.5f, 127.5f}));
}

TEST(Metadata, SingleValueOptionsAreReadAsGiven) {
  const auto norm = metadata_normalization(image_model_with_metadata(metadata_bytes({0.f}, {255.f}, false)));
  ASSERT_TRUE(norm.has_value());
  EXPECT_EQ(norm->first, std::vector<float>{0.f});
  EXPECT_EQ(norm->second, std::vector<float>{255.f});
}

TEST(Metadata, AbsentOrBrokenMetadataMeansNoDefault) {
  EXPECT_FALSE(metadata_normalization(image_model_with_metadata(metadata_bytes({1.f}, {2.f}, false), "OTHER")));
  std::vector<uint8_t> bytes = metadata_bytes({1.f}, {2.f}, false);
  EXPECT_FALSE(metadata_normalization(image_model_with_metadata({bytes.begin(), bytes.begin() + 12})));
  bytes[4] = 'X';  // wrong file identifier
  EXPECT_FALSE(metadata_normalization(image_model_with_metadata(bytes)));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {  // never reads past a truncated buffer
    std::vector<uint8_t> good = metadata_bytes({1.f}, {2.f}, false);
    good.resize(cut);
    (void)metadata_normalization(image_model_with_metadata(good));
  }
}

}  // namespace
}  // namespace qcal
