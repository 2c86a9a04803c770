// .tflite -> qcal IR. The flatbuffers verifier runs first; everything it cannot know
// (index ranges, quantization vs. shape, opcode validity, buffer sizes) is checked here so
// that executors and passes can trust the IR without re-checking.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>

#include "qcal/error.h"
#include "qcal/model_io.h"

namespace qcal {
namespace {

constexpr int32_t kMaxBuiltin = static_cast<int32_t>(tflite::BuiltinOperator::MAX);
constexpr int32_t kMaxDType = static_cast<int32_t>(tflite::TensorType::MAX);

// Collects the context for error messages: "FILE: subgraph 0: tensor 12 ('name'): ...".
struct Where {
  const std::string& label;
  [[noreturn]] void fail(const std::string& what) const { throw Error(label + ": " + what); }
};

std::string tensor_ref(size_t sg, size_t i, const std::string& name) {
  std::string s = "subgraph " + std::to_string(sg) + ": tensor " + std::to_string(i);
  if (!name.empty()) s += " ('" + name + "')";
  return s;
}

// Bytes that sit outside the flatbuffer (models over 2 GB keep buffers and large custom
// options after the flatbuffer, addressed by file offset).
std::vector<uint8_t> outside_bytes(std::span<const uint8_t> file, uint64_t offset, uint64_t size,
                                   const Where& where, const std::string& what) {
  if (offset > file.size() || size > file.size() - offset)
    where.fail(what + " points at bytes " + std::to_string(offset) + ".." + std::to_string(offset + size) +
               " beyond the end of the file (" + std::to_string(file.size()) + " bytes)");
  return {file.begin() + offset, file.begin() + offset + size};
}

Quantization convert_quantization(tflite::QuantizationParametersT& q) {
  Quantization out;
  out.min = std::move(q.min);
  out.max = std::move(q.max);
  out.scale = std::move(q.scale);
  out.zero_point = std::move(q.zero_point);
  out.quantized_dimension = q.quantized_dimension;
  if (q.details.type != tflite::QuantizationDetails::NONE && q.details.value)
    out.details = std::make_shared<const tflite::QuantizationDetailsUnion>(std::move(q.details));
  return out;
}

bool quantization_is_empty(const tflite::QuantizationParametersT& q) {
  return q.min.empty() && q.max.empty() && q.scale.empty() && q.zero_point.empty() &&
         q.details.type == tflite::QuantizationDetails::NONE && q.quantized_dimension == 0;
}

void check_tensor(const Model& m, size_t sg, size_t ti, const Tensor& t, const Where& where) {
  const std::string ref = tensor_ref(sg, ti, t.name);
  if (static_cast<int32_t>(t.dtype) < 0 || static_cast<int32_t>(t.dtype) > kMaxDType)
    where.fail(ref + ": unknown tensor type " + std::to_string(static_cast<int>(t.dtype)));
  for (int32_t d : t.shape)
    if (d < 0) where.fail(ref + ": negative dimension in shape " + shape_str(t.shape));
  // 2^40 elements is far beyond any model that fits a flatbuffer, and far below overflow.
  if (num_elements(t.shape) > (int64_t{1} << 40))
    where.fail(ref + ": shape " + shape_str(t.shape) + " is too large");
  if (t.buffer >= m.buffers.size() && !(t.buffer == 0 && m.buffers.empty()))
    where.fail(ref + ": refers to buffer " + std::to_string(t.buffer) + ", but the model has " +
               std::to_string(m.buffers.size()) + " buffers");
  if (t.quantization) {
    const Quantization& q = *t.quantization;
    if (!q.zero_point.empty() && q.zero_point.size() != q.scale.size())
      where.fail(ref + ": quantization has " + std::to_string(q.scale.size()) + " scales but " +
                 std::to_string(q.zero_point.size()) + " zero points");
    const int rank = static_cast<int>(t.shape.size());
    if (q.quantized_dimension < 0 || (q.per_axis() && q.quantized_dimension >= rank) ||
        (rank > 0 && q.quantized_dimension >= rank))
      where.fail(ref + ": quantized_dimension " + std::to_string(q.quantized_dimension) +
                 " is out of range for a rank-" + std::to_string(rank) + " tensor");
    if (q.per_axis() && t.shape[q.quantized_dimension] != static_cast<int32_t>(q.scale.size()))
      where.fail(ref + ": has " + std::to_string(q.scale.size()) + " per-axis scales but dimension " +
                 std::to_string(q.quantized_dimension) + " of shape " + shape_str(t.shape) + " has " +
                 std::to_string(t.shape[q.quantized_dimension]));
    for (float s : q.scale)
      if (!(s >= 0.0f) || !std::isfinite(s)) where.fail(ref + ": quantization scale " + std::to_string(s) + " is not a finite non-negative number");
  }
  // Dense constants must hold exactly shape x element size, or kernels would read past them.
  const Buffer* data = m.data_of(t);
  const size_t elem = dtype_size(t.dtype);
  if (data && !t.sparsity && elem > 0) {
    const uint64_t want = static_cast<uint64_t>(num_elements(t.shape)) * elem;
    if (data->data.size() != want)
      where.fail(ref + ": buffer " + std::to_string(t.buffer) + " holds " + std::to_string(data->data.size()) +
                 " bytes, but " + dtype_name(t.dtype) + " " + shape_str(t.shape) + " needs " + std::to_string(want));
  }
}

void check_index_list(const std::vector<int32_t>& list, size_t num_tensors, bool allow_absent,
                      const std::string& what, const Where& where) {
  for (int32_t i : list) {
    if ((allow_absent && i == kNoTensor)) continue;
    if (i < 0 || static_cast<size_t>(i) >= num_tensors)
      where.fail(what + " refers to tensor " + std::to_string(i) + ", but the subgraph has " +
                 std::to_string(num_tensors) + " tensors");
  }
}

// 'name', or the index of an unnamed tensor.
std::string quoted_tensor(const Subgraph& sg, int32_t i) {
  const std::string& name = sg.tensors[static_cast<size_t>(i)].name;
  return name.empty() ? std::to_string(i) : "'" + name + "'";
}

}  // namespace

void check_execution_order(const Model& model, const Subgraph& sg) {
  // What holds data before the first operator runs: graph inputs, constants (zero-size ones
  // need no buffer; external ones live outside the file) and variables (runtime state).
  std::vector<bool> defined(sg.tensors.size());
  for (size_t i = 0; i < sg.tensors.size(); ++i) {
    const Tensor& t = sg.tensors[i];
    defined[i] = t.is_variable || model.data_of(t) || t.external_buffer != 0 || num_elements(t.shape) == 0;
  }
  for (int32_t i : sg.inputs) defined[static_cast<size_t>(i)] = true;
  for (size_t oi = 0; oi < sg.operators.size(); ++oi) {
    const Operator& op = sg.operators[oi];
    for (int32_t i : op.inputs)
      if (i >= 0 && !defined[static_cast<size_t>(i)])
        throw Error("operator " + std::to_string(oi) + " (" + op.code.name() + ") reads tensor " + quoted_tensor(sg, i) +
                    " before any operator writes it");
    for (int32_t o : op.outputs) defined[static_cast<size_t>(o)] = true;
  }
  for (int32_t o : sg.outputs)
    if (!defined[static_cast<size_t>(o)])
      throw Error("graph output " + quoted_tensor(sg, o) +
                  " is not written by any operator, and is neither a graph input nor a constant");
}

Model read_model_from_bytes(std::span<const uint8_t> bytes, const std::string& label) {
  const Where where{label};
  if (bytes.empty()) where.fail("the file is empty");
  if (bytes.size() < 8) where.fail("the file is too short to be a TFLite model (" + std::to_string(bytes.size()) + " bytes)");
  if (!flatbuffers::BufferHasIdentifier(bytes.data(), tflite::ModelIdentifier())) {
    char id[5] = {0};
    std::memcpy(id, bytes.data() + 4, 4);
    for (char& c : id) if (c && (c < 32 || c > 126)) c = '?';
    where.fail(std::string("not a TFLite model: file identifier is '") + id + "', expected 'TFL3'");
  }
  // The verifier bounds every offset, vector and string in the file; after it passes,
  // the flatbuffer accessors are safe. Depth and table limits are generous but finite.
  flatbuffers::Verifier verifier(bytes.data(), bytes.size(), /*max_depth=*/128, /*max_tables=*/10'000'000);
  if (!tflite::VerifyModelBuffer(verifier))
    where.fail("the flatbuffer is corrupt or truncated (the verifier rejected it)");

  // The verifier (flatbuffers 2.0.8) aligns vectors only to 4 bytes; an int64 zero-point
  // vector at an odd multiple of 4 would be read misaligned. Writers align them; a file
  // that does not is corrupt.
  if (const auto* sgs = tflite::GetModel(bytes.data())->subgraphs())
    for (const auto* sg : *sgs)
      if (sg && sg->tensors())
        for (const auto* t : *sg->tensors())
          if (t && t->quantization() && t->quantization()->zero_point() &&
              reinterpret_cast<uintptr_t>(t->quantization()->zero_point()->Data()) % alignof(int64_t) != 0)
            where.fail("tensor '" + (t->name() ? t->name()->str() : std::string()) +
                       "': misaligned zero_point vector (corrupt file)");
  std::unique_ptr<tflite::ModelT> fb(tflite::GetModel(bytes.data())->UnPack());
  Model m;
  m.version = fb->version;
  m.description = fb->description;
  m.metadata_buffer = fb->metadata_buffer;

  m.buffers.reserve(fb->buffers.size());
  for (size_t i = 0; i < fb->buffers.size(); ++i) {
    auto& b = *fb->buffers[i];
    Buffer out;
    if (b.offset > 1) {
      out.data = outside_bytes(bytes, b.offset, b.size, where, "buffer " + std::to_string(i));
    } else {
      out.data = std::move(b.data);
    }
    m.buffers.push_back(std::move(out));
  }

  std::vector<OpCode> codes;
  for (size_t i = 0; i < fb->operator_codes.size(); ++i) {
    const auto& c = *fb->operator_codes[i];
    // Old files only set the byte-sized deprecated code; new files set both, with the
    // deprecated one capped at 127. The larger of the two is the real code.
    const int32_t code = std::max<int32_t>(static_cast<int32_t>(c.builtin_code), c.deprecated_builtin_code);
    if (code < 0 || code > kMaxBuiltin)
      where.fail("operator code " + std::to_string(i) + " has unknown builtin opcode " + std::to_string(code));
    OpCode oc{code, c.custom_code, c.version};
    if (oc.is_custom() && oc.custom.empty())
      where.fail("operator code " + std::to_string(i) + " is CUSTOM but has no custom_code");
    codes.push_back(std::move(oc));
  }

  if (fb->subgraphs.empty()) where.fail("the model has no subgraphs");
  for (size_t si = 0; si < fb->subgraphs.size(); ++si) {
    auto& s = *fb->subgraphs[si];
    Subgraph sg;
    sg.name = s.name;
    sg.inputs = s.inputs;
    sg.outputs = s.outputs;
    sg.debug_metadata_index = s.debug_metadata_index;
    sg.tensors.reserve(s.tensors.size());
    for (auto& tp : s.tensors) {
      auto& t = *tp;
      Tensor out;
      out.name = t.name;
      out.shape = t.shape;
      out.shape_signature = t.shape_signature;
      out.dtype = static_cast<DType>(t.type);
      out.buffer = t.buffer;
      out.is_variable = t.is_variable;
      out.has_rank = t.has_rank;
      out.external_buffer = t.external_buffer;
      if (t.quantization && !quantization_is_empty(*t.quantization))
        out.quantization = convert_quantization(*t.quantization);
      if (t.sparsity) out.sparsity = std::shared_ptr<const tflite::SparsityParametersT>(std::move(t.sparsity));
      for (auto& v : t.variant_tensors) out.variant_tensors.emplace_back(std::move(v));
      sg.tensors.push_back(std::move(out));
    }
    const std::string sgname = "subgraph " + std::to_string(si);
    check_index_list(sg.inputs, sg.tensors.size(), false, sgname + ": input list", where);
    check_index_list(sg.outputs, sg.tensors.size(), false, sgname + ": output list", where);
    for (size_t ti = 0; ti < sg.tensors.size(); ++ti) check_tensor(m, si, ti, sg.tensors[ti], where);

    sg.operators.reserve(s.operators.size());
    for (size_t oi = 0; oi < s.operators.size(); ++oi) {
      auto& o = *s.operators[oi];
      const std::string opname = sgname + ": operator " + std::to_string(oi);
      if (o.opcode_index >= codes.size())
        where.fail(opname + " uses operator code " + std::to_string(o.opcode_index) + ", but the model has " +
                   std::to_string(codes.size()));
      Operator op;
      op.code = codes[o.opcode_index];
      const std::string opref = opname + " (" + op.code.name() + ")";
      op.inputs = std::move(o.inputs);
      op.outputs = std::move(o.outputs);
      op.intermediates = std::move(o.intermediates);
      check_index_list(op.inputs, sg.tensors.size(), true, opref + ": input", where);
      check_index_list(op.outputs, sg.tensors.size(), false, opref + ": output", where);
      check_index_list(op.intermediates, sg.tensors.size(), false, opref + ": intermediate", where);
      // A union type without its table (corrupt, or a writer's quirk) means default options.
      if (!o.builtin_options.value) o.builtin_options.Reset();
      if (!o.builtin_options_2.value) o.builtin_options_2.Reset();
      op.options = std::move(o.builtin_options);
      op.options2 = std::move(o.builtin_options_2);
      op.custom_options_format = o.custom_options_format;
      if (o.large_custom_options_offset > 1) {
        op.custom_options = outside_bytes(bytes, o.large_custom_options_offset, o.large_custom_options_size, where,
                                          opref + ": custom options");
      } else {
        op.custom_options = std::move(o.custom_options);
      }
      op.mutating_variable_inputs = std::move(o.mutating_variable_inputs);
      op.debug_metadata_index = o.debug_metadata_index;
      sg.operators.push_back(std::move(op));
    }
    try {
      check_execution_order(m, sg);
    } catch (const Error& e) {
      where.fail(sgname + ": " + e.what());
    }
    m.subgraphs.push_back(std::move(sg));
  }

  for (auto& md : fb->metadata) {
    if (md->buffer >= m.buffers.size())
      where.fail("metadata '" + md->name + "' refers to buffer " + std::to_string(md->buffer) + ", but the model has " +
                 std::to_string(m.buffers.size()) + " buffers");
    m.metadata.push_back(Metadata{md->name, md->buffer});
  }
  for (auto& sd : fb->signature_defs) {
    SignatureDef sig;
    sig.key = sd->signature_key;
    sig.subgraph_index = sd->subgraph_index;
    if (sig.subgraph_index >= m.subgraphs.size())
      where.fail("signature '" + sig.key + "' refers to subgraph " + std::to_string(sig.subgraph_index) +
                 ", but the model has " + std::to_string(m.subgraphs.size()));
    const size_t nt = m.subgraphs[sig.subgraph_index].tensors.size();
    auto convert = [&](const auto& list, std::vector<SignatureDef::Entry>& out, const char* kind) {
      for (const auto& e : list) {
        if (e->tensor_index >= nt)
          where.fail("signature '" + sig.key + "' " + kind + " '" + e->name + "' refers to tensor " +
                     std::to_string(e->tensor_index) + ", but its subgraph has " + std::to_string(nt));
        out.push_back({e->name, e->tensor_index});
      }
    };
    convert(sd->inputs, sig.inputs, "input");
    convert(sd->outputs, sig.outputs, "output");
    m.signatures.push_back(std::move(sig));
  }
  for (auto& g : fb->external_buffer_groups) m.external_buffer_groups.emplace_back(std::move(g));
  for (auto& b : fb->external_buffers) m.external_buffers.emplace_back(std::move(b));
  return m;
}

Model read_model(const std::filesystem::path& path) {
  const std::vector<uint8_t> bytes = read_file_bytes(path);
  return read_model_from_bytes(bytes, path.string());
}

}  // namespace qcal
