#include "qcal/kernel.h"

namespace qcal {

void register_detection_kernels(KernelRegistry& r) {}

}  // namespace qcal
