// twin_check QUANT.tflite TWIN.tflite SAMPLE.npy...: checks `qcal dequantize`'s output op by op
// against the quantized model on real inputs (twin_check.h: each twin op, fed the real values
// the quantized op read, must give what it wrote to within the model's own rounding).
// TWIN.tflite must be exactly the twin dequantize_model() makes (so the CLI wrote that).
// Prints one line per op out of bound (all ops with --verbose) and a summary; exit 1 if any.
// twin_check --shaped QUANT.tflite OUT.tflite writes the quantized model with its detection
// outputs given static shapes (set_detection_output_shapes), so LiteRT can run TOCO's SSD.
#include <cstdio>
#include <cstring>
#include <iostream>

#include "qcal/error.h"
#include "qcal/model_io.h"
#include "qcal/npy.h"
#include "twin_check.h"

int main(int argc, char** argv) {
  bool verbose = false;
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--verbose") == 0) verbose = true;
    else args.push_back(argv[i]);
  }
  if (args.size() == 3 && args[0] == "--shaped") {
    try {
      qcal::Model q = qcal::read_model(args[1]);
      std::printf("%d output shapes set\n", qcal::set_detection_output_shapes(q));
      qcal::write_model(q, args[2], args[1]);
      return 0;
    } catch (const std::exception& e) {
      std::cerr << "twin_check: " << e.what() << "\n";
      return 1;
    }
  }
  if (args.size() < 3) {
    std::cerr << "usage: twin_check [--verbose] QUANT.tflite TWIN.tflite SAMPLE.npy... | twin_check --shaped QUANT.tflite OUT.tflite\n";
    return 2;
  }
  try {
    qcal::Model q = qcal::read_model(args[0]);
    qcal::DequantizeReport r;
    const qcal::Model twin = qcal::dequantize_model(q, &r);
    qcal::set_detection_output_shapes(q);  // as the twin's, so qcal can run it (indices unchanged)
    if (qcal::serialize_model(qcal::read_model(args[1])) != qcal::serialize_model(twin)) {
      std::cerr << "twin_check: " << args[1] << " is not the twin dequantize_model makes of " << args[0] << "\n";
      return 1;
    }
    std::vector<std::vector<qcal::HostTensor>> samples;
    for (size_t i = 2; i < args.size(); ++i) {
      qcal::HostTensor h = qcal::read_npy(args[i]);
      h.name = q.subgraphs[0].tensors[q.subgraphs[0].inputs[0]].name;
      samples.push_back({std::move(h)});
    }
    const auto checks = qcal::test::check_twin(q, twin, r, samples);
    int bad = 0;
    double worst = 0, worst_fn = 0, clipped = 0;
    for (const auto& c : checks) {
      if (!c.ok()) ++bad;
      if (!c.float_output) {
        (c.bound > qcal::test::kLinearBound ? worst_fn : worst) =
            std::max(c.bound > qcal::test::kLinearBound ? worst_fn : worst, c.max_steps);
        clipped = std::max(clipped, c.clipped);
      }
      if (verbose || !c.ok())
        std::printf("%s op %d %s '%s': %.3f %s (bound %.1f), clipped %.4f%%\n", c.ok() ? "  " : "FAIL", c.op,
                    c.name.c_str(), c.output.c_str(), c.max_steps, c.float_output ? "x 1e-4 relative" : "steps",
                    c.bound, 100 * c.clipped);
    }
    std::printf("%s: %zu ops on %zu samples: worst %.3f steps (bound %.1f), function ops %.3f (bound %.1f), "
                "most clipped %.4f%%; %d out of bound\n",
                bad ? "FAIL" : "PASS", checks.size(), samples.size(), worst, qcal::test::kLinearBound, worst_fn,
                qcal::test::kFunctionBound, 100 * clipped, bad);
    return bad ? 1 : 0;
  } catch (const std::exception& e) {
    std::cerr << "twin_check: " << e.what() << "\n";
    return 1;
  }
}
