// A batch's graph arrays and labels where a backend computes on them: views of the host arrays for
// a backend whose memory is host memory, copies uploaded at bind() otherwise. The model binds one
// per pass for a GraphBatch; a caller that runs many passes over one batch (training) binds one
// itself and keeps it, so the arrays go to the device once.
#pragma once

#include <cstdint>
#include <vector>

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
      layers_.clear();
      for (const LayerPrefix& p : g.layer_prefix) {
        GraphView v = v_;
        v.num_edges = p.edges;
        v.offsets = v.host_offsets = p.offsets.data();
        v.out_offsets = p.out_offsets.data();
        v.out_edges = p.out_edges.data();
        layers_.push_back(v);
      }
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
    layers_.clear();
    layer_arrays_.clear();
    for (const LayerPrefix& p : g.layer_prefix) {
      GraphView v = v_;
      v.num_edges = p.edges;
      v.host_offsets = p.offsets.data();
      for (int k = 0; k < 3; ++k) layer_arrays_.emplace_back(mem);
      const std::size_t k = layer_arrays_.size() - 3;
      v.offsets = put(mem, layer_arrays_[k], p.offsets);
      v.out_offsets = put(mem, layer_arrays_[k + 1], p.out_offsets);
      v.out_edges = put(mem, layer_arrays_[k + 2], p.out_edges);
      layers_.push_back(v);
    }
  }
  const GraphView& view() const { return v_; }
  // The view message-passing layer l computes on: its prefix when the batch has layer prefixes.
  const GraphView& layer_view(std::size_t l) const { return layers_.empty() ? v_ : layers_[l]; }
  std::size_t layer_prefixes() const { return layers_.size(); }
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
  std::vector<GraphView> layers_;
  std::vector<Array<std::int64_t>> layer_arrays_;  // offsets, out_offsets, out_edges per layer
  Array<std::int64_t> offsets_, out_offsets_, out_edges_, node_id_;
  Array<std::int32_t> src_, dst_, species_;
  Array<float> vec_, label_;
  Array<std::uint64_t> edge_key_;
  Array<std::uint16_t> edge_image_;
};

}  // namespace symgnn
