// Parallel loops with fixed tiles, shared by the element-wise kernels (float and int8).
#pragma once

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cstdint>

#include "qcal/kernel.h"

namespace qcal {

// Calls fn(begin, end) over [0, n): in one go on one thread, in `tile`-sized pieces
// otherwise. Tiles are fixed, so work is split the same way for any thread count.
template <class F>
void for_tiles(const OpContext& ctx, int64_t n, int64_t tile, const F& fn) {
  if (n <= 0) return;
  tile = std::max<int64_t>(tile, 1);
  if (ctx.threads <= 1 || n < 2 * tile) {
    fn(int64_t{0}, n);
    return;
  }
  const int64_t tiles = (n + tile - 1) / tile;
  tbb::parallel_for(tbb::blocked_range<int64_t>(0, tiles, 1), [&](const tbb::blocked_range<int64_t>& r) {
    for (int64_t t = r.begin(); t < r.end(); ++t) fn(t * tile, std::min(n, (t + 1) * tile));
  });
}

}  // namespace qcal
