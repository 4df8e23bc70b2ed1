#include "graph/spatial_order.hpp"

#include <algorithm>
#include <numeric>

namespace symgnn {

namespace {

// Spreads the low 10 bits of x to every third bit.
std::uint32_t spread_bits(std::uint32_t x) {
  x &= 0x3ffu;
  x = (x | (x << 16)) & 0x030000ffu;
  x = (x | (x << 8)) & 0x0300f00fu;
  x = (x | (x << 4)) & 0x030c30c3u;
  x = (x | (x << 2)) & 0x09249249u;
  return x;
}

}  // namespace

std::vector<std::int64_t> spatial_order(const std::vector<double>& positions) {
  const std::size_t n = positions.size() / 3;
  std::vector<std::int64_t> order(n);
  std::iota(order.begin(), order.end(), std::int64_t{0});
  if (n == 0) return order;
  double lo[3], hi[3];
  for (int c = 0; c < 3; ++c) lo[c] = hi[c] = positions[static_cast<std::size_t>(c)];
  for (std::size_t i = 0; i < n; ++i)
    for (int c = 0; c < 3; ++c) {
      lo[c] = std::min(lo[c], positions[3 * i + static_cast<std::size_t>(c)]);
      hi[c] = std::max(hi[c], positions[3 * i + static_cast<std::size_t>(c)]);
    }
  // One grid step for all axes, so that the curve's cells are cubes.
  const double extent = std::max({hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2], 1e-300});
  std::vector<std::uint32_t> key(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::uint32_t k = 0;
    for (int c = 0; c < 3; ++c) {
      const double s = (positions[3 * i + static_cast<std::size_t>(c)] - lo[c]) / extent;
      const auto q = static_cast<std::uint32_t>(std::clamp(s * 1024.0, 0.0, 1023.0));
      k |= spread_bits(q) << c;
    }
    key[i] = k;
  }
  std::stable_sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) {
    return key[static_cast<std::size_t>(a)] < key[static_cast<std::size_t>(b)];
  });
  return order;
}

}  // namespace symgnn
