// Dropout masks keyed by global row ids, so that every rank, thread or GPU draws the same mask for
// the same atom or edge however the batch is split.
#pragma once

#include <cstdint>

#include "backend/kernels/philox.hpp"

namespace symgnn {

// mask[i d + c] = 1 where feature c of row i is kept: its lane lane0 + c of Philox block
// (lane >> 2) under counter index ids[i] has a uniform number of at least p. An edge's image
// code (images[i], or none when images is null) goes into the block word's high half, so an edge
// and its periodic image with the same id draw different numbers.
void dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                  const std::uint16_t* images, std::uint32_t lane0, const kernels::PhiloxKey& key,
                  float p, std::uint8_t* mask);

}  // namespace symgnn
