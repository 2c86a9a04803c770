#include "qcal/kernel.h"

namespace qcal {

void register_conversion_kernels(KernelRegistry& r) {}

}  // namespace qcal
