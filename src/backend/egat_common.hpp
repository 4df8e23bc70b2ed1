// What the EGAT implementations of every backend share: the host-side plan of edge chunks and the
// dense products around the per-edge kernels, written over the Backend interface.
#pragma once

#include <cstdint>
#include <vector>

#include "backend/backend.hpp"

namespace symgnn::egat {

// Destination ranges [chunks[i], chunks[i + 1]) of about `edges` incoming edges each (from the
// host copy of the offsets).
inline std::vector<std::int64_t> destination_chunks(const GraphView& g, std::int64_t edges) {
  std::vector<std::int64_t> chunks = {0};
  for (std::int64_t j = 1; j <= g.num_nodes; ++j)
    if (g.host_offsets[j] - g.host_offsets[chunks.back()] >= edges || j == g.num_nodes)
      chunks.push_back(j);
  return chunks;
}

// Y = X W^T (n x out) for W out x in.
template <typename T>
void project(Backend<T>& b, std::int64_t n, std::int64_t in, std::int64_t out, const T* X,
             const T* W, T* Y) {
  b.gemm(false, true, n, out, in, T(1), X, in, W, in, T(0), Y, out);
}

// The node inputs' gradient from the gradients of the three node projections (n x H d each):
// dh = dp W_ni + dq W_nj + dm W_node, and each W's gradient (unless null) accumulates its product
// with h.
template <typename T>
void node_gradients(Backend<T>& b, std::int64_t n, int d, std::int64_t hd, const T* h, const T* dp,
                    const T* dq, const T* dm, const EgatParams<T>& p, const EgatParams<T>& grad,
                    T* dh) {
  const T* dz[3] = {dp, dq, dm};
  const T* w[3] = {p.W_ni, p.W_nj, p.W_node};
  T* gw[3] = {grad.W_ni, grad.W_nj, grad.W_node};
  for (int k = 0; k < 3; ++k) {
    b.gemm(false, false, n, d, hd, T(1), dz[k], hd, w[k], d, k ? T(1) : T(0), dh, d);
    if (gw[k]) b.gemm(true, false, hd, d, n, T(1), dz[k], hd, h, d, T(1), gw[k], d);
  }
}

}  // namespace symgnn::egat
