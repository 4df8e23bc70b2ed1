#include "model/batch.hpp"

#include <algorithm>
#include <limits>

#include "core/error.hpp"
#include "graph/spatial_order.hpp"

namespace symgnn {

namespace {

// The transpose of edges [0, edges) by source (counting sort; stable, so deterministic).
void transpose(const GraphBatch& b, std::int64_t edges, Buffer<std::int64_t>& out_offsets,
               Buffer<std::int64_t>& out_edges) {
  const auto n = static_cast<std::size_t>(b.num_nodes);
  out_offsets.assign(n + 1, 0);
  for (std::int64_t e = 0; e < edges; ++e) ++out_offsets[static_cast<std::size_t>(b.src[e]) + 1];
  for (std::size_t i = 0; i < n; ++i) out_offsets[i + 1] += out_offsets[i];
  out_edges.resize(static_cast<std::size_t>(edges));
  Buffer<std::int64_t> fill(out_offsets.begin(), out_offsets.end() - 1);
  for (std::int64_t e = 0; e < edges; ++e)
    out_edges[static_cast<std::size_t>(fill[static_cast<std::size_t>(b.src[e])]++)] = e;
}

}  // namespace

void build_transpose(GraphBatch& b) {
  transpose(b, b.num_edges, b.out_offsets, b.out_edges);
}

LayerPrefix layer_prefix(const GraphBatch& b, std::int64_t nodes) {
  LayerPrefix p;
  p.edges = b.offsets[static_cast<std::size_t>(nodes)];
  p.offsets.resize(b.offsets.size());
  for (std::size_t j = 0; j < b.offsets.size(); ++j) p.offsets[j] = std::min(b.offsets[j], p.edges);
  transpose(b, p.edges, p.out_offsets, p.out_edges);
  return p;
}

std::vector<std::int32_t> species_codes(const Structure& st,
                                        const std::vector<std::string>& species_names) {
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
  return code;
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
  // Node indices (src, dst) are int32; refused before anything that size is allocated.
  if (b.num_nodes > std::numeric_limits<std::int32_t>::max())
    throw Error("make_batch: more than 2^31 - 1 atoms in one batch");
  const auto n = static_cast<std::size_t>(b.num_nodes);
  const auto m = static_cast<std::size_t>(b.num_edges);
  b.offsets.resize(n + 1);
  b.src.resize(m);
  b.dst.resize(m);
  b.vec.resize(3 * m);
  b.species.resize(n);
  b.node_id.resize(n);
  b.edge_key.resize(m);
  b.edge_image.resize(m);
  if (!label.empty()) b.label.resize(n);
  std::int64_t node0 = 0, edge0 = 0;
  b.offsets[0] = 0;
  for (std::size_t s = 0; s < structures.size(); ++s) {
    const Structure& st = *structures[s];
    const Graph& g = *graphs[s];
    b.node_begin.push_back(node0);
    b.sources.push_back(st.source);
    const std::vector<std::int32_t> code = species_codes(st, species_names);
    const AtomProperty* y = label.empty() ? nullptr : &st.require_property(label);
    // Atoms in a spatial order, each edge kept with its destination; node_id and edge_key keep
    // the input numbering (labels, outputs and random numbers follow it).
    const std::vector<std::int64_t> order = spatial_order(st.positions);
    std::vector<std::int32_t> place(order.size());
    for (std::size_t k = 0; k < order.size(); ++k)
      place[static_cast<std::size_t>(order[k])] = static_cast<std::int32_t>(k);
    std::int64_t ge = edge0;
    for (std::int64_t k = 0; k < g.num_atoms; ++k) {
      const auto i = static_cast<std::size_t>(order[static_cast<std::size_t>(k)]);
      const auto gi = static_cast<std::size_t>(node0 + k);
      b.species[gi] = code[static_cast<std::size_t>(st.species[i])];
      b.node_id[gi] = node0 + static_cast<std::int64_t>(i);
      if (y)
        b.label[gi] = static_cast<float>(y->values[i * static_cast<std::size_t>(y->components)]);
      for (std::int64_t e = g.offsets[i]; e < g.offsets[i + 1]; ++e, ++ge) {
        const auto ue = static_cast<std::size_t>(ge);
        b.src[ue] = static_cast<std::int32_t>(node0) +
                    place[static_cast<std::size_t>(g.src[static_cast<std::size_t>(e)])];
        b.dst[ue] = static_cast<std::int32_t>(node0 + k);
        b.edge_key[ue] = edge_key(node0 + static_cast<std::int64_t>(i),
                                  node0 + g.src[static_cast<std::size_t>(e)]);
        b.edge_image[ue] = image_code(g.image[static_cast<std::size_t>(e)]);
        for (int c = 0; c < 3; ++c) b.vec[3 * ue + c] = g.vec[3 * static_cast<std::size_t>(e) + c];
      }
      b.offsets[gi + 1] = ge;
    }
    node0 += g.num_atoms;
    edge0 += g.num_edges();
  }
  b.node_begin.push_back(node0);
  b.num_owned = b.num_nodes;
  build_transpose(b);
  return b;
}

}  // namespace symgnn
