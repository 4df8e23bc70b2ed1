// The paper's Table 6 for one centre: how many optimal H1 cycles pass through the edges the
// explainer ranks high, around the median, low, and at random.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "explain/homology.hpp"
#include "explain/subgraph.hpp"

namespace symgnn {

// The subgraph's atoms at positions that do not tear across the periodic boundary: each atom
// placed from a neighbour nearer the centre by its edge vector (r_src = r_dst - vec), the centre
// at `centre_position`.
std::vector<std::array<double, 3>> unwrapped_positions(
    const Subgraph& s, const std::array<double, 3>& centre_position);

struct CycleBins {
  double high = 0, medium = 0, low = 0, random = 0;  // mean cycle count over the bin's edges
};

// Each directed edge counts the optimal cycles through its undirected edge {src, dst}; edges are
// ranked by weight, and each bin takes `per_bin` of them: the top, the ones around the median,
// the bottom, and a random draw (Philox keyed by seed and the centre's input index).
CycleBins cycle_bins(const Subgraph& s, const std::vector<float>& weight,
                     const std::vector<CyclePair>& cycles, int per_bin, std::uint64_t seed);

}  // namespace symgnn
