// libFuzzer target: the .npy reader. Whatever the bytes, an array is read or refused with
// qcal::Error; an array that reads encodes and reads back to the same shape and bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "qcal/error.h"
#include "qcal/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const qcal::HostTensor t = qcal::decode_npy({data, size}, "fuzz");
    const qcal::HostTensor back = qcal::decode_npy(qcal::encode_npy(t), "fuzz-rewritten");
    if (back.shape != t.shape || back.dtype != t.dtype || back.data != t.data) std::abort();
  } catch (const qcal::Error&) {
  }
  return 0;
}
