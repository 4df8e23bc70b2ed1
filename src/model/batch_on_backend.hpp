// A batch's graph arrays and labels where a backend computes on them: views of the host arrays for
// a backend whose memory is host memory, copies uploaded at bind() otherwise. The model binds one
// per pass for a GraphBatch; a caller that runs many passes over one batch (training) binds one
// itself and keeps it, so the arrays go to the device once.
#pragma once

#include <cstdint>

#include "backend/array.hpp"
#include "model/batch.hpp"

namespace symgnn {

class BatchOnBackend {
 public:
  void bind(Memory& mem, const GraphBatch& g) {
    host_ = &g;
    v_.num_nodes = g.num_nodes;
    v_.num_owned = g.num_owned;
    v_.num_edges = g.num_edges;
    v_.host_offsets = g.offsets.data();
    if (mem.host_memory()) {
      v_.offsets = g.offsets.data();
      v_.src = g.src.data();
      v_.dst = g.dst.data();
      v_.out_offsets = g.out_offsets.data();
      v_.out_edges = g.out_edges.data();
      v_.vec = g.vec.data();
      v_.species = g.species.data();
      v_.node_id = reinterpret_cast<const std::uint64_t*>(g.node_id.data());
      v_.edge_key = g.edge_key.data();
      v_.edge_image = g.edge_image.data();
      v_.label = g.label.empty() ? nullptr : g.label.data();
      return;
    }
    v_.offsets = put(mem, offsets_, g.offsets);
    v_.src = put(mem, src_, g.src);
    v_.dst = put(mem, dst_, g.dst);
    v_.out_offsets = put(mem, out_offsets_, g.out_offsets);
    v_.out_edges = put(mem, out_edges_, g.out_edges);
    v_.vec = put(mem, vec_, g.vec);
    v_.species = put(mem, species_, g.species);
    v_.node_id = reinterpret_cast<const std::uint64_t*>(put(mem, node_id_, g.node_id));
    v_.edge_key = put(mem, edge_key_, g.edge_key);
    v_.edge_image = put(mem, edge_image_, g.edge_image);
    v_.label = g.label.empty() ? nullptr : put(mem, label_, g.label);
  }
  const GraphView& view() const { return v_; }
  const GraphBatch* host() const { return host_; }  // the batch bound last

 private:
  template <typename U, typename V>
  static const U* put(Memory& mem, Array<U>& a, const V& host) {
    a.bind(mem);
    a.upload(host.data(), static_cast<std::int64_t>(host.size()), 1);
    return a.ptr();
  }
  const GraphBatch* host_ = nullptr;
  GraphView v_;
  Array<std::int64_t> offsets_, out_offsets_, out_edges_, node_id_;
  Array<std::int32_t> src_, dst_, species_;
  Array<float> vec_, label_;
  Array<std::uint64_t> edge_key_;
  Array<std::uint16_t> edge_image_;
};

}  // namespace symgnn
