// A batch: one or more structures joined into one disconnected graph (the published model trains
// on the six training glasses joined together), in the layout the kernels use. Each structure's
// atoms are stored in a spatial order (graph/spatial_order.hpp); node_id maps a batch node back
// to its place in the input (the structures' atoms one after the other).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/buffer.hpp"
#include "graph/graph.hpp"
#include "io/structure.hpp"

namespace symgnn {

// The part of a batch that one message-passing layer computes when only some atoms' predictions
// are wanted (the explainer's centre): its destinations are the first nodes, so their incoming
// edges are the first `edges` edges; the offsets and the transpose restricted to those edges.
struct LayerPrefix {
  std::int64_t edges = 0;
  Buffer<std::int64_t> offsets;      // num_nodes + 1, clamped at `edges`
  Buffer<std::int64_t> out_offsets;  // num_nodes + 1
  Buffer<std::int64_t> out_edges;    // the first `edges` edges grouped by source
};

struct GraphBatch {
  std::int64_t num_nodes = 0, num_edges = 0;
  std::int64_t num_owned = 0;        // nodes [0, num_owned) are this rank's; the rest are ghosts
  Buffer<std::int64_t> offsets;      // num_nodes + 1: incoming edges of j, grouped by destination
  Buffer<std::int32_t> src, dst;     // per edge
  Buffer<std::int64_t> out_offsets;  // num_nodes + 1: edges leaving i are out_edges[...]
  Buffer<std::int64_t> out_edges;    // edge ids grouped by source (the transpose of the CSR)
  Buffer<float> vec;                 // 3 per edge, r_dst - r_src (Å)
  Buffer<std::int32_t> species;      // per node, model species index
  Buffer<std::int64_t> node_id;      // input index of each node; keys random numbers (dropout)
  // An edge's identity, whatever the local numbering or the split over ranks: the input ids of
  // its atoms, (dst << 32) | src, and its image code (graph.hpp); keys its random numbers.
  Buffer<std::uint64_t> edge_key;
  Buffer<std::uint16_t> edge_image;
  Buffer<float> label;                   // per node, in batch order (empty when unlabelled)
  std::vector<std::int64_t> node_begin;  // first node of each structure (+ total at the end)
  // Empty, or one per message-passing layer: evaluation passes then compute each layer on its
  // prefix only (nothing outside it reaches the atoms the prefixes were made for).
  std::vector<LayerPrefix> layer_prefix;
  std::vector<std::string> sources;
};

// Fills out_offsets / out_edges from src (counting sort; stable, so deterministic).
void build_transpose(GraphBatch& b);
// The prefix of the first `nodes` destinations' incoming edges.
LayerPrefix layer_prefix(const GraphBatch& b, std::int64_t nodes);

// Model species index of each of a structure's species (Error naming the structure and the
// known species for one the model does not know).
std::vector<std::int32_t> species_codes(const Structure& st,
                                        const std::vector<std::string>& species_names);

// The key of the edge src -> dst (input ids, below 2^32).
inline std::uint64_t edge_key(std::int64_t dst_id, std::int64_t src_id) {
  return (static_cast<std::uint64_t>(dst_id) << 32) | static_cast<std::uint64_t>(src_id);
}

// Joins structures and their graphs. `species_names` maps symbols to model indices (an unknown
// symbol is an Error naming the structure); `label` names the per-atom label column, or "" for
// none (a missing column is an Error). node_id numbers atoms across the batch, in input order.
GraphBatch make_batch(const std::vector<const Structure*>& structures,
                      const std::vector<const Graph*>& graphs,
                      const std::vector<std::string>& species_names, const std::string& label);

}  // namespace symgnn
