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
  // Two atoms closer than this (Å) are an error naming them: overlapping atoms are a broken
  // input, not a glass (the closest Cu-Zr pairs are about 2.2 Å apart). 0: no check.
  double min_distance = 0.1;
};

// Fractional coordinates, wrapped into [0, 1) along periodic directions (3 per atom).
std::vector<double> wrapped_fractional(const Cell& cell, const std::array<bool, 3>& pbc,
                                       const std::vector<double>& positions);
// r = origin + f · h.
void to_cartesian(const Cell& cell, const double* f, double* r);
// shift = n · h. An edge's vector is r_dst - (r_src + shift), with r the wrapped Cartesian
// positions, in double and then rounded to float: anything that builds edges the same way
// (parallel/decompose.cpp) gets the same bits.
void image_shift(const Cell& cell, const Image& n, double* shift);

// Every ordered pair (i, j) and image with |r_j - r_i - image·h| < cutoff becomes edge i -> j.
// Within an atom's incoming edges the order is deterministic (independent of thread count).
Graph build_graph(const Cell& cell, const std::array<bool, 3>& pbc,
                  const std::vector<double>& positions, const NeighborOptions& options);

}  // namespace symgnn
