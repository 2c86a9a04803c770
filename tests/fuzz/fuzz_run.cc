// libFuzzer target: the whole run path. Whatever the bytes, a model either is refused with
// qcal::Error (by the reader, by the executor's preparation, or by the memory limit) or
// runs one inference on deterministic inputs.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "qcal/error.h"
#include "qcal/executor.h"
#include "qcal/model_io.h"
#include "qcal/run_tools.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto model = std::make_shared<qcal::Model>(qcal::read_model_from_bytes({data, size}, "fuzz"));
    qcal::ExecutorOptions options;
    options.max_memory = uint64_t{256} << 20;  // far below the fuzzer's RSS limit
    const qcal::Executor ex(model, options, "fuzz");
    (void)ex.run(qcal::random_inputs(ex, 1));
  } catch (const qcal::Error&) {
  }
  return 0;
}
