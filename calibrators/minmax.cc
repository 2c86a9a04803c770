#include "common.h"

namespace qcal {

Range calibrate_minmax(const TensorStats& stats) {
  const calib::Bounds b = calib::data_bounds(stats);
  return b.valid ? calib::finish(b.min, b.max) : calib::finish(0, 0);
}

}  // namespace qcal
