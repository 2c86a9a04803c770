// libFuzzer target: whatever the bytes, reading a model either succeeds or throws
// qcal::Error; a model that reads must also inspect, serialize and read back.
#include <cstddef>
#include <cstdint>

#include "qcal/error.h"
#include "qcal/inspect.h"
#include "qcal/model_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const qcal::Model m = qcal::read_model_from_bytes({data, size}, "fuzz");
    (void)qcal::inspect_json(m);
    const std::vector<uint8_t> bytes = qcal::serialize_model(m);
    (void)qcal::read_model_from_bytes(bytes, "fuzz-rewritten");
  } catch (const qcal::Error&) {
  }
  return 0;
}
