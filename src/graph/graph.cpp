#include "graph/graph.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace symgnn {

Buffer<std::int64_t> reverse_edges(const Graph& g) {
  Buffer<std::int64_t> rev(static_cast<std::size_t>(g.num_edges()));
  bool missing = false;
#pragma omp parallel for schedule(dynamic, 1024) reduction(|| : missing)
  for (std::int64_t j = 0; j < g.num_atoms; ++j) {
    for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e) {
      // The reverse arrives at src[e]: scan that atom's (short) incoming list.
      const std::int32_t i = g.src[e];
      const Image want = -g.image[e];
      std::int64_t found = -1;
      for (std::int64_t r = g.offsets[i]; r < g.offsets[i + 1]; ++r)
        if (g.src[r] == j && g.image[r] == want) {
          found = r;
          break;
        }
      rev[e] = found;
      missing = missing || found < 0;
    }
  }
  if (missing) throw Error("reverse_edges: the graph is not symmetric (an edge has no reverse)");
  return rev;
}

DegreeStats degree_stats(const Graph& g) {
  DegreeStats s;
  if (g.num_atoms == 0) return s;
  s.min = g.in_degree(0);
  double sum = 0, sum2 = 0;
  for (std::int64_t j = 0; j < g.num_atoms; ++j) {
    const std::int64_t d = g.in_degree(j);
    s.min = std::min(s.min, d);
    s.max = std::max(s.max, d);
    sum += static_cast<double>(d);
    sum2 += static_cast<double>(d) * static_cast<double>(d);
    for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e)
      if (g.src[e] == j && g.image[e] == Image{}) ++s.self_edges;
  }
  const double n = static_cast<double>(g.num_atoms);
  s.mean = sum / n;
  s.stddev = std::sqrt(std::max(0.0, sum2 / n - s.mean * s.mean));
  return s;
}

}  // namespace symgnn
