// Dropout masks: the fast whole-block path and the general one both follow the definition (lane
// lane0 + c of row i is kept where uniform01 of (key, id, tag | lane / 4) is at least p), keep
// about 1 - p of the features, and differ between an edge and its periodic image.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/kernels/philox.hpp"

namespace symgnn {
namespace {

// The definition, one lane at a time.
std::vector<std::uint8_t> reference_mask(std::int64_t rows, std::int64_t d,
                                         const std::vector<std::uint64_t>& ids,
                                         const std::vector<std::uint16_t>* images,
                                         std::uint32_t lane0, const kernels::PhiloxKey& key,
                                         float p) {
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * d));
  for (std::int64_t i = 0; i < rows; ++i) {
    const std::uint32_t tag =
        images ? std::uint32_t{(*images)[static_cast<std::size_t>(i)]} << 16 : 0u;
    for (std::int64_t c = 0; c < d; ++c) {
      const std::uint32_t lane = lane0 + static_cast<std::uint32_t>(c);
      const kernels::Philox4x32 r =
          kernels::philox_block(key, ids[static_cast<std::size_t>(i)], tag | (lane >> 2));
      mask[static_cast<std::size_t>(i * d + c)] = kernels::u01_float(r.v[lane & 3u]) >= p;
    }
  }
  return mask;
}

TEST(Dropout, MaskFollowsItsDefinitionOnEveryPath) {
  const kernels::PhiloxKey key = kernels::philox_key(7, rng_stream::kDropout, 123);
  const std::int64_t rows = 257;
  std::vector<std::uint64_t> ids(rows);
  std::vector<std::uint16_t> images(rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    ids[static_cast<std::size_t>(i)] = 1000003ull * static_cast<std::uint64_t>(i) + (1ull << 40);
    images[static_cast<std::size_t>(i)] = static_cast<std::uint16_t>(i % 27);
  }
  // (d, lane0): whole blocks, then lane offsets and widths that cut blocks.
  const std::pair<std::int64_t, std::uint32_t> shapes[] = {{32, 0}, {32, 64}, {8, 4}, {5, 0},
                                                           {6, 3},  {3, 2},   {32, 1}};
  for (const auto& [d, lane0] : shapes)
    for (const bool edges : {false, true}) {
      std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * d), 7);
      cpu_dropout_mask(rows, d, ids.data(), edges ? images.data() : nullptr, lane0, key, 0.25f,
                       mask.data());
      EXPECT_EQ(mask, reference_mask(rows, d, ids, edges ? &images : nullptr, lane0, key, 0.25f))
          << "d " << d << " lane0 " << lane0 << (edges ? " with image codes" : "");
    }
}

TEST(Dropout, KeepsOneMinusPAndTellsPeriodicImagesApart) {
  const kernels::PhiloxKey key = kernels::philox_key(1, rng_stream::kDropout, 5);
  const std::int64_t rows = 4000, d = 32;
  // Rows in pairs: one edge id, seen directly (image 0) and through a periodic image (code 13).
  std::vector<std::uint64_t> ids(rows);
  std::vector<std::uint16_t> images(rows);
  for (std::int64_t i = 0; i < rows; ++i) {
    ids[static_cast<std::size_t>(i)] = static_cast<std::uint64_t>(i / 2);
    images[static_cast<std::size_t>(i)] = i % 2 ? 13 : 0;
  }
  std::vector<std::uint8_t> mask(static_cast<std::size_t>(rows * d));
  cpu_dropout_mask(rows, d, ids.data(), images.data(), 0, key, 0.25f, mask.data());
  double kept = 0;
  std::int64_t differing_rows = 0;
  for (std::int64_t i = 0; i < rows; ++i) {
    bool differs = false;
    for (std::int64_t c = 0; c < d; ++c) {
      kept += mask[static_cast<std::size_t>(i * d + c)];
      if (i % 2 && mask[static_cast<std::size_t>(i * d + c)] !=
                       mask[static_cast<std::size_t>((i - 1) * d + c)])
        differs = true;
    }
    differing_rows += differs;
  }
  const double n = static_cast<double>(rows * d);
  EXPECT_NEAR(kept / n, 0.75, 4 * std::sqrt(0.75 * 0.25 / n));  // 4 standard errors
  // The two rows of a pair draw independent masks, equal in all 32 lanes with chance
  // (0.75^2 + 0.25^2)^32 ~ 1e-7: every pair differs.
  EXPECT_EQ(differing_rows, rows / 2);
}

}  // namespace
}  // namespace symgnn
