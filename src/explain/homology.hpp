// Persistent homology of a set of atom positions for the paper's Table 6: the alpha filtration
// (GUDHI's Alpha_complex_3d over CGAL), its H1 persistence pairs, and for each pair an optimal
// 1-cycle as HomCloud defines it: the shortest loop (fewest edges, breadth-first) through the
// pair's birth edge among the edges that enter the filtration before it.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

namespace symgnn {

struct CyclePair {
  double birth = 0, death = 0;            // squared alpha radii (Å^2), GUDHI's filtration values
  std::array<int, 2> birth_edge{};        // point indices, smaller first
  std::vector<std::array<int, 2>> cycle;  // its optimal cycle's edges, each smaller index first
};

// Throws Error for fewer than 4 points or coincident points.
std::vector<CyclePair> h1_optimal_cycles(const std::vector<std::array<double, 3>>& points);

}  // namespace symgnn
