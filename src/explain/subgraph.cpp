#include "explain/subgraph.hpp"

#include <algorithm>
#include <string>

#include "core/error.hpp"

namespace symgnn {

Subgraph in_subgraph(const GraphBatch& g, std::int64_t centre, int hops, bool layer_prefixes) {
  if (g.num_owned != g.num_nodes)
    throw Error("explain: the subgraph is taken from a whole structure, not a rank's part");
  if (centre < 0 || centre >= g.num_nodes)
    throw Error("explain: centre node " + std::to_string(centre) + " is not in the batch of " +
                std::to_string(g.num_nodes) + " atoms");
  // Breadth-first along incoming edges.
  std::vector<int> dist(static_cast<std::size_t>(g.num_nodes), -1);
  std::vector<std::int64_t> frontier = {centre}, next;
  dist[static_cast<std::size_t>(centre)] = 0;
  for (int h = 1; h <= hops && !frontier.empty(); ++h) {
    next.clear();
    for (const std::int64_t j : frontier)
      for (std::int64_t e = g.offsets[static_cast<std::size_t>(j)];
           e < g.offsets[static_cast<std::size_t>(j) + 1]; ++e) {
        const auto i = static_cast<std::size_t>(g.src[static_cast<std::size_t>(e)]);
        if (dist[i] < 0) {
          dist[i] = h;
          next.push_back(static_cast<std::int64_t>(i));
        }
      }
    frontier.swap(next);
  }
  // Nodes by hop (the centre first), then in parent order: the destinations a layer needs are
  // a prefix of the nodes, and so their incoming edges a prefix of the edges.
  Subgraph s;
  for (int h = 0; h <= hops; ++h)
    for (std::int64_t j = 0; j < g.num_nodes; ++j)
      if (dist[static_cast<std::size_t>(j)] == h) {
        s.parent_node.push_back(j);
        s.hops.push_back(h);
      }
  std::vector<std::int64_t> local(static_cast<std::size_t>(g.num_nodes), -1);
  for (std::size_t k = 0; k < s.parent_node.size(); ++k)
    local[static_cast<std::size_t>(s.parent_node[k])] = static_cast<std::int64_t>(k);
  GraphBatch& b = s.batch;
  const auto n = static_cast<std::int64_t>(s.parent_node.size());
  b.num_nodes = b.num_owned = n;
  b.offsets.assign(static_cast<std::size_t>(n) + 1, 0);
  const bool labelled = !g.label.empty();
  for (std::int64_t k = 0; k < n; ++k) {
    const auto j = static_cast<std::size_t>(s.parent_node[static_cast<std::size_t>(k)]);
    for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e) {
      const auto pe = static_cast<std::size_t>(e);
      const std::int64_t i = local[static_cast<std::size_t>(g.src[pe])];
      if (i < 0) continue;
      s.parent_edge.push_back(e);
      b.src.push_back(static_cast<std::int32_t>(i));
      b.dst.push_back(static_cast<std::int32_t>(k));
      for (int c = 0; c < 3; ++c) b.vec.push_back(g.vec[3 * pe + static_cast<std::size_t>(c)]);
      b.edge_key.push_back(g.edge_key[pe]);
      b.edge_image.push_back(g.edge_image[pe]);
    }
    b.offsets[static_cast<std::size_t>(k) + 1] = static_cast<std::int64_t>(s.parent_edge.size());
    b.species.push_back(g.species[j]);
    b.node_id.push_back(g.node_id[j]);
    if (labelled) b.label.push_back(g.label[j]);
  }
  b.num_edges = static_cast<std::int64_t>(s.parent_edge.size());
  b.node_begin = {0, n};
  b.sources = g.sources;
  build_transpose(b);
  s.centre = local[static_cast<std::size_t>(centre)];
  if (layer_prefixes)  // layer l is needed at the destinations within hops - 1 - l hops
    for (int l = 0; l < hops; ++l) {
      const auto nodes =
          std::count_if(s.hops.begin(), s.hops.end(), [&](int h) { return h <= hops - 1 - l; });
      b.layer_prefix.push_back(layer_prefix(b, static_cast<std::int64_t>(nodes)));
    }
  return s;
}

}  // namespace symgnn
