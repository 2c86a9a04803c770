// make_op_models OUT_DIR [SUBSTRING]: writes every registered single-op model (or those
// whose name contains SUBSTRING) as OUT_DIR/NAME.tflite through qcal's own writer, each op
// at the version qcal's int8 rewrite writes (quantized_op_version), so LiteRT's acceptance
// of the model proves exactly the (op, dtype, version) the rewrite emits.
// make_op_models --check-table: fails unless every op the op table marks int8 has a case.
#include <cstdio>
#include <filesystem>
#include <set>
#include <string>

#include "op_models.h"
#include "qcal/error.h"
#include "qcal/model_io.h"
#include "qcal/op_table.h"

namespace qcal::test {
std::vector<OpModelCase>& op_model_cases() {
  static std::vector<OpModelCase> cases;
  return cases;
}
}  // namespace qcal::test

namespace {

bool quantized_output(const qcal::Subgraph& sg, const qcal::Operator& op) {
  if (op.outputs.empty() || op.outputs[0] < 0) return false;
  const qcal::Tensor& t = sg.tensors[op.outputs[0]];
  return t.dtype != qcal::DType::kFloat32 && t.quantization && t.quantization->has_scale();
}

void stamp_versions(qcal::Model& m) {
  for (qcal::Subgraph& sg : m.subgraphs)
    for (qcal::Operator& op : sg.operators)
      if (quantized_output(sg, op) || op.builtin() == tflite::BuiltinOperator::DEQUANTIZE)
        op.code.version = qcal::quantized_op_version(op, sg);
}

// Every op the table quantizes must have a single-op model here: that is the proof.
int check_table() {
  std::set<int32_t> covered;
  for (const auto& c : qcal::test::op_model_cases()) {
    qcal::test::ModelBuilder b;
    c.build(b);
    for (const qcal::Operator& op : b.sg().operators)
      if (quantized_output(b.sg(), op)) covered.insert(op.code.builtin);
  }
  int missing = 0;
  for (const auto& [code, info] : qcal::op_quant_table())
    if (info->int8 && code != static_cast<int32_t>(tflite::BuiltinOperator::DEQUANTIZE) && !covered.count(code)) {
      std::fprintf(stderr, "op table marks %s int8, but no single-op LiteRT model covers it\n", info->name);
      ++missing;
    }
  std::printf("%zu int8 ops covered by single-op models, %d missing\n", covered.size(), missing);
  return missing ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--check-table") return check_table();
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: make_op_models OUT_DIR [SUBSTRING]\n");
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  const std::string filter = argc == 3 ? argv[2] : "";
  try {
    std::filesystem::create_directories(dir);
    int written = 0;
    for (const auto& c : qcal::test::op_model_cases()) {
      if (!filter.empty() && c.name.find(filter) == std::string::npos) continue;
      qcal::test::ModelBuilder b;
      c.build(b);
      stamp_versions(b.model());
      qcal::write_model(b.model(), (dir / (c.name + ".tflite")).string());
      ++written;
    }
    std::printf("wrote %d models to %s\n", written, dir.string().c_str());
    return written > 0 ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_op_models: %s\n", e.what());
    return 1;
  }
}
