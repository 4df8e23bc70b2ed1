// The part of a structure's graph that an atom's prediction depends on: with L message-passing
// layers, the atoms within L hops upstream (along incoming edges) of the centre and every edge
// between them (DGL's khop_in_subgraph). The centre's prediction on it equals its prediction on
// the whole graph.
#pragma once

#include <cstdint>
#include <vector>

#include "model/batch.hpp"

namespace symgnn {

struct Subgraph {
  GraphBatch batch;                       // every node owned; nodes by hop, edges by destination
  std::int64_t centre = 0;                // the centre's node in `batch`
  std::vector<std::int64_t> parent_node;  // per node: its node in the parent batch
  std::vector<std::int64_t> parent_edge;  // per edge: its edge in the parent batch
  std::vector<int> hops;                  // per node: its distance (in edges) to the centre
};

// `g` must be a whole batch (no ghosts). Throws Error for a centre outside it. Nodes are ordered
// by hop, the centre first. With layer_prefixes (for a model of `hops` layers), evaluation passes
// compute each layer only where it still reaches the centre (GraphBatch::layer_prefix): layer l
// at the destinations within hops - 1 - l hops.
Subgraph in_subgraph(const GraphBatch& g, std::int64_t centre, int hops,
                     bool layer_prefixes = false);

}  // namespace symgnn
