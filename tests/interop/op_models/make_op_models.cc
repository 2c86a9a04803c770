// make_op_models OUT_DIR [SUBSTRING]: writes every registered single-op model (or those
// whose name contains SUBSTRING) as OUT_DIR/NAME.tflite through qcal's own writer.
#include <cstdio>
#include <filesystem>

#include "op_models.h"
#include "qcal/error.h"
#include "qcal/model_io.h"

namespace qcal::test {
std::vector<OpModelCase>& op_model_cases() {
  static std::vector<OpModelCase> cases;
  return cases;
}
}  // namespace qcal::test

int main(int argc, char** argv) {
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
