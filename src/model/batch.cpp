#include "model/batch.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace symgnn {

void build_transpose(GraphBatch& b) {
  const auto n = static_cast<std::size_t>(b.num_nodes);
  b.out_offsets.assign(n + 1, 0);
  for (std::int64_t e = 0; e < b.num_edges; ++e)
    ++b.out_offsets[static_cast<std::size_t>(b.src[e]) + 1];
  for (std::size_t i = 0; i < n; ++i) b.out_offsets[i + 1] += b.out_offsets[i];
  b.out_edges.resize(static_cast<std::size_t>(b.num_edges));
  Buffer<std::int64_t> fill(b.out_offsets.begin(), b.out_offsets.end() - 1);
  for (std::int64_t e = 0; e < b.num_edges; ++e)
    b.out_edges[static_cast<std::size_t>(fill[static_cast<std::size_t>(b.src[e])]++)] = e;
}

GraphBatch make_batch(const std::vector<const Structure*>& structures,
                      const std::vector<const Graph*>& graphs,
                      const std::vector<std::string>& species_names, const std::string& label) {
  if (structures.size() != graphs.size()) throw Error("make_batch: one graph per structure");
  GraphBatch b;
  for (std::size_t s = 0; s < structures.size(); ++s) {
    b.num_nodes += graphs[s]->num_atoms;
    b.num_edges += graphs[s]->num_edges();
  }
  const auto n = static_cast<std::size_t>(b.num_nodes);
  const auto m = static_cast<std::size_t>(b.num_edges);
  b.offsets.resize(n + 1);
  b.src.resize(m);
  b.dst.resize(m);
  b.vec.resize(3 * m);
  b.species.resize(n);
  b.node_id.resize(n);
  b.edge_id.resize(m);
  if (!label.empty()) b.label.resize(n);
  std::int64_t node0 = 0, edge0 = 0;
  b.offsets[0] = 0;
  for (std::size_t s = 0; s < structures.size(); ++s) {
    const Structure& st = *structures[s];
    const Graph& g = *graphs[s];
    b.node_begin.push_back(node0);
    b.sources.push_back(st.source);
    std::vector<std::int32_t> code(st.species_names.size(), -1);
    for (std::size_t k = 0; k < st.species_names.size(); ++k) {
      auto it = std::find(species_names.begin(), species_names.end(), st.species_names[k]);
      if (it == species_names.end()) {
        std::string known;
        for (const auto& x : species_names) known += (known.empty() ? "" : " ") + x;
        throw Error(st.source + ": species '" + st.species_names[k] +
                    "' is not one the model knows (" + known + ")");
      }
      code[k] = static_cast<std::int32_t>(it - species_names.begin());
    }
    const AtomProperty* y = label.empty() ? nullptr : &st.require_property(label);
    for (std::int64_t i = 0; i < g.num_atoms; ++i) {
      const auto gi = static_cast<std::size_t>(node0 + i);
      b.species[gi] = code[static_cast<std::size_t>(st.species[static_cast<std::size_t>(i)])];
      b.node_id[gi] = node0 + i;
      if (y)
        b.label[gi] = static_cast<float>(y->values[static_cast<std::size_t>(i * y->components)]);
      b.offsets[gi + 1] = edge0 + g.offsets[static_cast<std::size_t>(i) + 1];
    }
    for (std::int64_t e = 0; e < g.num_edges(); ++e) {
      const auto ge = static_cast<std::size_t>(edge0 + e);
      b.src[ge] = static_cast<std::int32_t>(node0 + g.src[static_cast<std::size_t>(e)]);
      b.dst[ge] = static_cast<std::int32_t>(node0 + g.dst[static_cast<std::size_t>(e)]);
      b.edge_id[ge] = edge0 + e;
      for (int c = 0; c < 3; ++c) b.vec[3 * ge + c] = g.vec[3 * static_cast<std::size_t>(e) + c];
    }
    node0 += g.num_atoms;
    edge0 += g.num_edges();
  }
  b.node_begin.push_back(node0);
  build_transpose(b);
  return b;
}

}  // namespace symgnn
