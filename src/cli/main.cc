// The qcal command line: argument parsing and printing only; the work is in libqcal.
#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>

#include "qcal/error.h"
#include "qcal/inspect.h"
#include "qcal/model_io.h"
#include "qcal/passes.h"

namespace fs = std::filesystem;

namespace {

struct InspectArgs {
  std::string model;
  bool json = false;
};

int run_inspect(const InspectArgs& a) {
  const qcal::Model m = qcal::read_model(a.model);
  if (a.json)
    std::cout << qcal::inspect_json(m).dump(1) << "\n";
  else
    std::cout << qcal::inspect_text(m, a.model);
  return 0;
}

struct QuantizeArgs {
  std::string model, output, scheme = "int8";
};

int run_quantize(const QuantizeArgs& a) {
  qcal::Model m = qcal::read_model(a.model);
  const auto size_before = fs::file_size(a.model);
  if (a.scheme != "float32")
    throw qcal::Error("--scheme " + a.scheme + ": not available in this version of qcal yet (available: float32)");
  const qcal::FoldReport r = qcal::fold_constant_dequantize(m);
  qcal::write_model(m, a.output, a.model);
  std::cout << "float32: folded " << r.folded << " constant DEQUANTIZE ops (" << r.bytes_before << " -> "
            << r.bytes_after << " bytes of weights)\n"
            << "wrote " << a.output << " (" << size_before << " -> " << fs::file_size(a.output) << " bytes)\n";
  return 0;
}

struct RewriteArgs {
  std::string model, output;
};

int run_rewrite(const RewriteArgs& a) {
  const qcal::Model m = qcal::read_model(a.model);
  qcal::write_model(m, a.output, a.model);
  std::cout << "wrote " << a.output << " (" << fs::file_size(a.output) << " bytes)\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"qcal: post-training quantization and calibration for TensorFlow Lite models"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "qcal 0.1.0");

  InspectArgs ia;
  auto* inspect = app.add_subcommand("inspect", "Show what is inside a .tflite model");
  inspect->add_option("model", ia.model, "the .tflite model")->required();
  inspect->add_flag("--json", ia.json, "machine-readable JSON (stable keys)");

  QuantizeArgs qa;
  auto* quantize = app.add_subcommand("quantize", "Rewrite a model with another numeric scheme");
  quantize->add_option("model", qa.model, "the float .tflite model")->required();
  quantize->add_option("--scheme", qa.scheme, "float32 (fold fp16/quantized constant weights into float32)")
      ->check(CLI::IsMember({"int8", "fp16", "dynamic", "float32"}));
  quantize->add_option("-o,--output", qa.output, "output .tflite (written atomically)")->required();

  RewriteArgs ra;
  auto* rewrite = app.add_subcommand("rewrite", "Read, verify and write a model back unchanged");
  rewrite->add_option("model", ra.model, "the .tflite model")->required();
  rewrite->add_option("-o,--output", ra.output, "output .tflite (written atomically)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    if (*inspect) return run_inspect(ia);
    if (*quantize) return run_quantize(qa);
    if (*rewrite) return run_rewrite(ra);
  } catch (const qcal::Error& e) {
    std::cerr << "qcal: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "qcal: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}
