// Edge graph attention (EGAT, as DGL's EGATConv and the published SymGNN use it), for H heads
// of width d over a batch graph; messages flow from source to destination:
//   u_e   = LeakyReLU_0.01(h_src W_ni^T + h_dst W_nj^T + f_e W_fij^T + b)   (E x H d)
//   s_e,k = <u_e[k], a[k]>,  alpha = softmax of s over the edges into each destination
//   out_j = sum over edges e into j of alpha_e,k (h_src W_node^T)[k]       (N x H d)
#pragma once

#include <cstdint>

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

// What the forward pass keeps for the backward pass.
template <typename T>
struct EgatCache {
  Tensor<T> u;      // E x H d, after LeakyReLU (its sign is the pre-activation's)
  Tensor<T> alpha;  // E x H
  Tensor<T> m;      // N x H d, h W_node^T
};

inline constexpr double kEgatSlope = 0.01;

template <typename T>
void egat_forward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                  const EgatParams<T>& p, T* out, EgatCache<T>& cache);

// d_out: N x H d. du: E x H d on entry the gradient reaching u from outside (the edge path),
// used as scratch. dh (N x d) and df (E x d) are overwritten; parameter gradients accumulate.
template <typename T>
void egat_backward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                   const EgatParams<T>& p, const EgatCache<T>& cache, const T* d_out, T* du, T* dh,
                   T* df, const EgatParams<T>& grad);

}  // namespace symgnn
