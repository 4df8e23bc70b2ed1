// Dropout decisions from counter-based random numbers, shared by the CPU loop and CUDA kernels.
#pragma once

#include <cstdint>

#include "backend/kernels/hd.hpp"
#include "backend/kernels/philox.hpp"

namespace symgnn::kernels {

// Keeps (1) or drops (0) the four feature lanes of one Philox block of row `index`: a lane is kept
// where its uniform number (u01_float of its word) is at least p. `block` carries the caller's
// tag bits (an edge's image code) above the block number.
SYMGNN_HD inline void dropout_keep4(const PhiloxKey& key, std::uint64_t index, std::uint32_t block,
                                    float p, std::uint8_t keep[4]) {
  const Philox4x32 r = philox_block(key, index, block);
  for (int w = 0; w < 4; ++w) keep[w] = u01_float(r.v[w]) >= p ? 1 : 0;
}

}  // namespace symgnn::kernels
