// Neighbor: builds the periodic neighbour graph with cell lists in O(N), for orthogonal and
// triclinic cells, periodic or not in each direction, and boxes of any size (a box thinner than
// the cutoff contributes several images of the same atom, exactly as a brute-force sum would).
#pragma once

#include <array>
#include <vector>

#include "core/cell.hpp"
#include "graph/graph.hpp"

namespace symgnn {

struct NeighborOptions {
  double cutoff = 5.0;     // Å; an edge joins atoms strictly closer than this
  bool self_edges = true;  // include i -> i (vector 0), as the published model does
  int threads = 0;         // OpenMP threads; 0 keeps the current setting
};

// Every ordered pair (i, j) and image with |r_j - r_i - image·h| < cutoff becomes edge i -> j.
// Within an atom's incoming edges the order is deterministic (independent of thread count).
Graph build_graph(const Cell& cell, const std::array<bool, 3>& pbc,
                  const std::vector<double>& positions, const NeighborOptions& options);

}  // namespace symgnn
