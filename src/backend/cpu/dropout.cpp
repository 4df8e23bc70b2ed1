// The CPU backend's dropout masks (the definition: backend/kernels/dropout.hpp).
#include "backend/kernels/dropout.hpp"

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/threads.hpp"

namespace symgnn {

void cpu_dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                      const std::uint16_t* images, std::uint32_t lane0,
                      const kernels::PhiloxKey& key, float p, std::uint8_t* mask) {
  const auto first = static_cast<std::int64_t>(lane0 >> 2);
  const auto blocks = static_cast<std::int64_t>((lane0 + static_cast<std::uint32_t>(d) + 3) >> 2) -
                      first;  // Philox blocks a row's lanes touch
  if (lane0 % 4 == 0 && d % 4 == 0) {
    // Whole blocks: row i's block b fills mask[i d + 4 b ...] with no branch, so the Philox rounds
    // vectorise over the blocks.
#pragma omp parallel for schedule(static) if (parallel_worth(rows * d))
    for (std::int64_t i = 0; i < rows; ++i) {
      const std::uint32_t tag = images ? std::uint32_t{images[i]} << 16 : 0u;
      std::uint8_t* row = mask + i * d;
#pragma omp simd
      for (std::int64_t b = 0; b < blocks; ++b)
        kernels::dropout_keep4(key, ids[i], tag | static_cast<std::uint32_t>(first + b), p,
                               row + 4 * b);
    }
    return;
  }
#pragma omp parallel for schedule(static) if (parallel_worth(rows * d))
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::uint32_t tag = images ? std::uint32_t{images[i]} << 16 : 0u;
    for (std::int64_t b = 0; b < blocks; ++b) {
      std::uint8_t keep[4];
      kernels::dropout_keep4(key, ids[i], tag | static_cast<std::uint32_t>(first + b), p, keep);
      for (std::int64_t w = 0; w < 4; ++w) {
        const std::int64_t c = 4 * (first + b) + w - static_cast<std::int64_t>(lane0);
        if (c >= 0 && c < d) mask[i * d + c] = keep[w];
      }
    }
  }
}

}  // namespace symgnn
