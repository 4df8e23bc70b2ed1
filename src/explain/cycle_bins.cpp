#include "explain/cycle_bins.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

#include "backend/kernels/philox.hpp"
#include "core/error.hpp"

namespace symgnn {

std::vector<std::array<double, 3>> unwrapped_positions(const Subgraph& s,
                                                       const std::array<double, 3>& centre) {
  const GraphBatch& g = s.batch;
  const auto n = static_cast<std::size_t>(g.num_nodes);
  std::vector<std::array<double, 3>> r(n);
  std::vector<char> placed(n, 0);
  r[static_cast<std::size_t>(s.centre)] = centre;
  placed[static_cast<std::size_t>(s.centre)] = 1;
  // Nodes are ordered by hop (in_subgraph), so each destination is placed before the sources it
  // reaches one hop further out: one pass places every atom from a neighbour nearer the centre.
  for (std::int64_t j = 0; j < g.num_nodes; ++j) {
    if (!placed[static_cast<std::size_t>(j)]) continue;
    for (std::int64_t e = g.offsets[static_cast<std::size_t>(j)];
         e < g.offsets[static_cast<std::size_t>(j) + 1]; ++e) {
      const auto k = static_cast<std::size_t>(e);
      const auto i = static_cast<std::size_t>(g.src[k]);
      if (placed[i]) continue;
      placed[i] = 1;
      for (std::size_t c = 0; c < 3; ++c)
        r[i][c] = r[static_cast<std::size_t>(j)][c] - g.vec[3 * k + c];
    }
  }
  if (std::find(placed.begin(), placed.end(), 0) != placed.end())
    throw Error("explain: the subgraph is not connected to its centre");
  // Consistent only while the subgraph does not reach around the box (radius below half the
  // box less a cutoff): otherwise an edge joins two copies that the tree placed apart.
  for (std::size_t e = 0; e < static_cast<std::size_t>(g.num_edges); ++e)
    for (std::size_t c = 0; c < 3; ++c)
      if (std::abs(r[static_cast<std::size_t>(g.dst[e])][c] -
                   r[static_cast<std::size_t>(g.src[e])][c] - g.vec[3 * e + c]) > 1e-3)
        throw Error(
            "explain: the centre's subgraph reaches around the periodic box, so its atoms cannot "
            "be unwrapped for persistent homology (use a larger box, --hops, or --no-homology)");
  return r;
}

CycleBins cycle_bins(const Subgraph& s, const std::vector<float>& weight,
                     const std::vector<CyclePair>& cycles, int per_bin, std::uint64_t seed) {
  const GraphBatch& g = s.batch;
  const auto m = static_cast<std::size_t>(g.num_edges);
  if (weight.size() != m) throw Error("explain: one weight per subgraph edge is needed");
  std::map<std::array<int, 2>, int> through;  // undirected edge -> cycles through it
  for (const CyclePair& c : cycles)
    for (const auto& e : c.cycle) ++through[e];
  std::vector<int> count(m, 0);
  for (std::size_t e = 0; e < m; ++e) {
    const int a = g.src[e], b = g.dst[e];
    const auto it = through.find({std::min(a, b), std::max(a, b)});
    if (it != through.end()) count[e] = it->second;
  }
  std::vector<std::size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return weight[a] > weight[b]; });
  const std::size_t k = std::min<std::size_t>(static_cast<std::size_t>(per_bin), m);
  auto mean = [&](std::size_t first, const std::vector<std::size_t>& edges) {
    double sum = 0;
    for (std::size_t i = first; i < first + k; ++i) sum += count[edges[i]];
    return k ? sum / static_cast<double>(k) : 0.0;
  };
  CycleBins out;
  out.high = mean(0, order);
  out.medium = mean(m / 2 - std::min(m / 2, k / 2), order);
  out.low = mean(m - k, order);
  const kernels::PhiloxKey key = kernels::philox_key(
      seed, rng_stream::kExplainBins, static_cast<std::uint64_t>(g.node_id[s.centre]));
  std::vector<double> draw(m);
  for (std::size_t e = 0; e < m; ++e) draw[e] = kernels::uniform01<double>(key, e, 0);
  std::vector<std::size_t> shuffled(m);
  std::iota(shuffled.begin(), shuffled.end(), 0);
  std::stable_sort(shuffled.begin(), shuffled.end(),
                   [&](std::size_t a, std::size_t b) { return draw[a] < draw[b]; });
  out.random = mean(0, shuffled);
  return out;
}

}  // namespace symgnn
