// Edge graph attention (EGAT, as DGL's EGATConv and the published SymGNN use it), for H heads
// of width d over a batch graph; messages flow from source to destination:
//   u_e   = LeakyReLU_0.01(h_src W_ni^T + h_dst W_nj^T + f_e W_fij^T + b)   (E x H d)
//   s_e,k = <u_e[k], a[k]>,  alpha = softmax of s over the edges into each destination
//   out_j = sum over edges e into j of alpha_e,k (h_src W_node^T)[k]       (N x H d)
//
// u is the largest tensor of the model (E x H d: 1.6 GB for the six training glasses at H = 8).
// It is computed in chunks of edges (GEMM, then the per-edge work while the chunk is in cache),
// lives in one caller-owned buffer for a single layer at a time, and is recomputed in backward
// rather than stored per layer; its gradient overwrites it in place.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "model/batch.hpp"
#include "model/tensor.hpp"

namespace symgnn {

template <typename T>
struct EgatParams {
  T* W_ni;    // [H d x d]
  T* W_nj;    // [H d x d]
  T* W_fij;   // [H d x d]
  T* W_node;  // [H d x d]
  T* attn;    // [H x d]
  T* bias;    // [H d]
};

// What the forward pass keeps for the backward pass (u is recomputed there).
template <typename T>
struct EgatCache {
  Tensor<T> alpha;  // E x H
  Tensor<T> m;      // N x H d, h W_node^T
};

// Column sums and sums of squares of u, in double (the edge BatchNorm's batch statistics).
struct EdgeMoments {
  std::vector<double> sum, sumsq;
};

// The gradient reaching u from the edge path (f' = Proj(BN(u)) + f), in a factored form so that
// no E x H d gradient is stored: du[e][c] = (df[e] . W[:, c]) scale[c] + shift[c] + u[e][c]
// slope[c].
template <typename T>
struct EdgePathGrad {
  const T* df = nullptr;  // E x d_out; null: nothing reaches u from the edge path
  const T* W = nullptr;   // d_out x H d
  std::int64_t d_out = 0;
  const T* scale = nullptr;  // H d each
  const T* shift = nullptr;
  const T* slope = nullptr;
};

inline constexpr double kEgatSlope = 0.01;

// Called with each chunk of edges [e0, e1) and its rows of u while they are in cache.
template <typename T>
using EdgeChunkFn = std::function<void(std::int64_t e0, std::int64_t e1, const T* u_chunk)>;

// Writes out (N x H d). With `u`, all of u (E x H d) is written there (training keeps it for the
// edge BatchNorm's batch statistics); without, u exists one chunk at a time (evaluation).
// `moments` is filled when given.
template <typename T>
void egat_forward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                  const EgatParams<T>& p, T* out, EgatCache<T>& cache, T* u, EdgeMoments* moments,
                  const EdgeChunkFn<T>& on_chunk = {});

// Recomputes u alone into `u` (E x H d), chunk by chunk.
template <typename T>
void egat_edge_features(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                        const EgatParams<T>& p, T* u, const EdgeChunkFn<T>& on_chunk = {});

// d_out: N x H d, the gradient of out. u holds u on entry (from egat_edge_features) and is
// overwritten with the gradient of the pre-activation. dh (N x d) and df (E x d) are overwritten;
// parameter gradients accumulate.
template <typename T>
void egat_backward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                   const EgatParams<T>& p, const EgatCache<T>& cache, const T* d_out,
                   const EdgePathGrad<T>& edge, T* u, T* dh, T* df, const EgatParams<T>& grad);

}  // namespace symgnn
