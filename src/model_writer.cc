// qcal IR -> .tflite, written atomically.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>

#include "qcal/error.h"
#include "qcal/model_io.h"

namespace qcal {
namespace {

template <typename T>
std::unique_ptr<T> clone(const std::shared_ptr<const T>& p) {
  return p ? std::make_unique<T>(*p) : nullptr;
}

std::unique_ptr<tflite::TensorT> to_flatbuffer(const Tensor& t) {
  auto out = std::make_unique<tflite::TensorT>();
  out->name = t.name;
  out->shape = t.shape;
  out->shape_signature = t.shape_signature;
  out->type = static_cast<tflite::TensorType>(t.dtype);
  out->buffer = t.buffer;
  out->is_variable = t.is_variable;
  out->has_rank = t.has_rank;
  out->external_buffer = t.external_buffer;
  if (t.quantization) {
    auto q = std::make_unique<tflite::QuantizationParametersT>();
    q->min = t.quantization->min;
    q->max = t.quantization->max;
    q->scale = t.quantization->scale;
    q->zero_point = t.quantization->zero_point;
    q->quantized_dimension = t.quantization->quantized_dimension;
    if (t.quantization->details) q->details = *t.quantization->details;
    out->quantization = std::move(q);
  }
  out->sparsity = clone(t.sparsity);
  for (const auto& v : t.variant_tensors) out->variant_tensors.push_back(clone(v));
  return out;
}

}  // namespace

std::vector<uint8_t> serialize_model(const Model& model) {
  tflite::ModelT fb;
  fb.version = model.version;
  fb.description = model.description;
  fb.metadata_buffer = model.metadata_buffer;

  // The operator-code table is derived from the operators, in order of first use.
  std::map<std::tuple<int32_t, std::string, int32_t>, uint32_t> code_index;
  auto opcode_of = [&](const OpCode& c) {
    auto key = std::make_tuple(c.builtin, c.custom, c.version);
    auto [it, inserted] = code_index.emplace(key, static_cast<uint32_t>(fb.operator_codes.size()));
    if (inserted) {
      auto oc = std::make_unique<tflite::OperatorCodeT>();
      oc->builtin_code = static_cast<tflite::BuiltinOperator>(c.builtin);
      // Readers that predate the 32-bit field (and Arm NN) look only at this byte.
      oc->deprecated_builtin_code = static_cast<int8_t>(std::min(c.builtin, 127));
      oc->custom_code = c.custom;
      oc->version = c.version;
      fb.operator_codes.push_back(std::move(oc));
    }
    return it->second;
  };

  for (const Subgraph& sg : model.subgraphs) {
    auto s = std::make_unique<tflite::SubGraphT>();
    s->name = sg.name;
    s->inputs = sg.inputs;
    s->outputs = sg.outputs;
    s->debug_metadata_index = sg.debug_metadata_index;
    for (const Tensor& t : sg.tensors) s->tensors.push_back(to_flatbuffer(t));
    for (const Operator& op : sg.operators) {
      auto o = std::make_unique<tflite::OperatorT>();
      o->opcode_index = opcode_of(op.code);
      o->inputs = op.inputs;
      o->outputs = op.outputs;
      o->intermediates = op.intermediates;
      o->builtin_options = op.options;
      o->builtin_options_2 = op.options2;
      o->custom_options = op.custom_options;
      o->custom_options_format = op.custom_options_format;
      o->mutating_variable_inputs = op.mutating_variable_inputs;
      o->debug_metadata_index = op.debug_metadata_index;
      s->operators.push_back(std::move(o));
    }
    fb.subgraphs.push_back(std::move(s));
  }

  uint64_t total = 0;
  for (const Buffer& b : model.buffers) {
    auto out = std::make_unique<tflite::BufferT>();
    out->data = b.data;
    total += b.data.size();
    fb.buffers.push_back(std::move(out));
  }
  if (fb.buffers.empty()) fb.buffers.push_back(std::make_unique<tflite::BufferT>());  // sentinel
  // Flatbuffers address at most 2 GiB; larger models need external buffers.
  if (total >= (uint64_t{1} << 31) - (uint64_t{1} << 24))
    throw Error("model too large to serialize: " + std::to_string(total >> 20) + " MiB of constant data (limit 2 GiB)");

  for (const Metadata& m : model.metadata) {
    auto out = std::make_unique<tflite::MetadataT>();
    out->name = m.name;
    out->buffer = m.buffer;
    fb.metadata.push_back(std::move(out));
  }
  for (const SignatureDef& sig : model.signatures) {
    auto out = std::make_unique<tflite::SignatureDefT>();
    out->signature_key = sig.key;
    out->subgraph_index = sig.subgraph_index;
    auto convert = [](const std::vector<SignatureDef::Entry>& in, std::vector<std::unique_ptr<tflite::TensorMapT>>& dst) {
      for (const auto& e : in) {
        auto tm = std::make_unique<tflite::TensorMapT>();
        tm->name = e.name;
        tm->tensor_index = e.tensor_index;
        dst.push_back(std::move(tm));
      }
    };
    convert(sig.inputs, out->inputs);
    convert(sig.outputs, out->outputs);
    fb.signature_defs.push_back(std::move(out));
  }
  for (const auto& g : model.external_buffer_groups) fb.external_buffer_groups.push_back(clone(g));
  for (const auto& b : model.external_buffers) fb.external_buffers.push_back(clone(b));

  flatbuffers::FlatBufferBuilder builder(1 << 20);
  builder.Finish(tflite::Model::Pack(builder, &fb), tflite::ModelIdentifier());
  return {builder.GetBufferPointer(), builder.GetBufferPointer() + builder.GetSize()};
}

void write_model(const Model& model, const std::filesystem::path& path, const std::filesystem::path& protect) {
  std::error_code ec;
  if (!protect.empty() && std::filesystem::exists(path, ec) && std::filesystem::equivalent(path, protect, ec))
    throw Error(path.string() + ": refusing to overwrite the input model; choose another output path");
  const std::vector<uint8_t> bytes = serialize_model(model);
  // Never write what qcal itself would refuse to read.
  try {
    read_model_from_bytes(bytes, path.string());
  } catch (const Error& e) {
    throw Error(std::string("internal error: the model about to be written is invalid: ") + e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace qcal
