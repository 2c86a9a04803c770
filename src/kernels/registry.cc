// Registers qcal's built-in kernels. Each file under src/kernels/ owns one family of ops
// and exposes one register_* function.
#include "qcal/kernel.h"

namespace qcal {

void register_conv_kernels(KernelRegistry& r);        // conv.cc
void register_pool_kernels(KernelRegistry& r);        // pool.cc
void register_elementwise_kernels(KernelRegistry& r); // elementwise.cc
void register_reduce_kernels(KernelRegistry& r);      // reduce.cc
void register_conversion_kernels(KernelRegistry& r);  // conversion.cc
void register_shape_kernels(KernelRegistry& r);       // shape.cc
void register_resize_kernels(KernelRegistry& r);      // resize.cc
void register_sparse_kernels(KernelRegistry& r);      // sparse.cc
void register_detection_kernels(KernelRegistry& r);   // detection.cc
void register_int8_conv_kernels(KernelRegistry& r);       // int8_conv.cc
void register_int8_arith_kernels(KernelRegistry& r);      // int8_arith.cc
void register_int8_activation_kernels(KernelRegistry& r); // int8_activation.cc

void register_builtin_kernels(KernelRegistry& r) {
  register_conv_kernels(r);
  register_pool_kernels(r);
  register_elementwise_kernels(r);
  register_reduce_kernels(r);
  register_conversion_kernels(r);
  register_shape_kernels(r);
  register_resize_kernels(r);
  register_sparse_kernels(r);
  register_detection_kernels(r);
  register_int8_conv_kernels(r);
  register_int8_arith_kernels(r);
  register_int8_activation_kernels(r);
}

}  // namespace qcal
