// A cache-friendly order of atoms: along a Morton (Z-order) curve through their bounding box, so
// that atoms close in space are close in memory. Message passing gathers every neighbour's row
// for every atom; in file order (often random in space) each gather misses the cache, in this
// order a chunk of consecutive atoms shares most of its neighbours.
#pragma once

#include <cstdint>
#include <vector>

namespace symgnn {

// order[k] is the atom placed k-th (positions: 3 per atom). Ties keep the input order.
std::vector<std::int64_t> spatial_order(const std::vector<double>& positions);

}  // namespace symgnn
