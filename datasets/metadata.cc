// Reads the normalization options a model's TFLite metadata ("TFLITE_METADATA", a
// flatbuffer with file identifier "M001") declares for its first input. Only the few
// fields needed are read, by field id, with every access bounds-checked by the flatbuffers
// verifier primitives: metadata is optional and must never make reading a model fail.
#include <flatbuffers/flatbuffers.h>

#include "qcal/dataset.h"

namespace qcal {
namespace {

// Field ids from the metadata schema (metadata_schema.fbs, M001).
constexpr int kModelSubgraphMetadata = 3;  // ModelMetadata.subgraph_metadata
constexpr int kSubgraphInputTensors = 2;   // SubGraphMetadata.input_tensor_metadata
constexpr int kTensorProcessUnits = 4;     // TensorMetadata.process_units
constexpr int kUnitOptionsType = 0;        // ProcessUnit.options_type
constexpr int kUnitOptions = 1;            // ProcessUnit.options
constexpr uint8_t kNormalizationOptions = 1;
constexpr int kNormMean = 0, kNormStd = 1;

constexpr flatbuffers::voffset_t field(int id) { return static_cast<flatbuffers::voffset_t>(4 + 2 * id); }

const flatbuffers::Table* table_at(flatbuffers::Verifier& v, const flatbuffers::Table* t, int id) {
  if (!t || !t->VerifyOffset(v, field(id))) return nullptr;
  const auto* sub = t->GetPointer<const flatbuffers::Table*>(field(id));
  return sub && sub->VerifyTableStart(v) ? sub : nullptr;
}

template <typename T>
const flatbuffers::Vector<T>* vector_at(flatbuffers::Verifier& v, const flatbuffers::Table* t, int id) {
  if (!t || !t->VerifyOffset(v, field(id))) return nullptr;
  const auto* vec = t->GetPointer<const flatbuffers::Vector<T>*>(field(id));
  return vec && v.VerifyVector(vec) ? vec : nullptr;
}

const flatbuffers::Table* first_table(flatbuffers::Verifier& v, const flatbuffers::Table* t, int id) {
  const auto* vec = vector_at<flatbuffers::Offset<flatbuffers::Table>>(v, t, id);
  if (!vec || vec->size() == 0) return nullptr;
  const flatbuffers::Table* first = vec->Get(0);
  return first && first->VerifyTableStart(v) ? first : nullptr;
}

}  // namespace

std::optional<std::pair<std::vector<float>, std::vector<float>>> metadata_normalization(const Model& model) {
  for (const Metadata& md : model.metadata) {
    if (md.name != "TFLITE_METADATA" || md.buffer >= model.buffers.size()) continue;
    const std::vector<uint8_t>& bytes = model.buffers[md.buffer].data;
    if (bytes.size() < 8 || !flatbuffers::BufferHasIdentifier(bytes.data(), "M001")) continue;
    flatbuffers::Verifier v(bytes.data(), bytes.size());
    const auto* root = flatbuffers::GetRoot<flatbuffers::Table>(bytes.data());
    if (!v.VerifyOffset(0) || !root->VerifyTableStart(v)) continue;
    const flatbuffers::Table* input = first_table(v, first_table(v, root, kModelSubgraphMetadata), kSubgraphInputTensors);
    const auto* units = vector_at<flatbuffers::Offset<flatbuffers::Table>>(v, input, kTensorProcessUnits);
    if (!units) continue;
    for (flatbuffers::uoffset_t i = 0; i < units->size(); ++i) {
      const flatbuffers::Table* unit = units->Get(i);
      if (!unit || !unit->VerifyTableStart(v) || !unit->VerifyField<uint8_t>(v, field(kUnitOptionsType), 1)) continue;
      if (unit->GetField<uint8_t>(field(kUnitOptionsType), 0) != kNormalizationOptions) continue;
      const flatbuffers::Table* norm = table_at(v, unit, kUnitOptions);
      const auto* mean = vector_at<float>(v, norm, kNormMean);
      const auto* std = vector_at<float>(v, norm, kNormStd);
      if (!mean || !std || mean->size() == 0 || std->size() == 0) continue;
      return std::make_pair(std::vector<float>(mean->begin(), mean->end()), std::vector<float>(std->begin(), std->end()));
    }
  }
  return std::nullopt;
}

}  // namespace qcal
