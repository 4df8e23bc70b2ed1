// The per-edge and per-destination arithmetic of EGAT's attention, written once for the CPU loops
// (backend/cpu/cpu_egat.cpp) and CUDA kernels (backend/cuda/cuda_egat.cu): a CPU thread or a GPU
// thread block takes a destination atom and its incoming edges [e0, e1) (contiguous, grouped by
// destination), or one edge. Layouts: u, m and out rows are H d wide (head k at k d); alpha is E x
// H.
#pragma once

#include <cmath>
#include <cstdint>

#include "backend/kernels/elementwise.hpp"
#include "backend/kernels/hd.hpp"

namespace symgnn::kernels {

// u_e = LeakyReLU(u_e + pi[src] + pj[dst]) in place, u_e holding f_e W_fij^T + b.
template <typename T>
SYMGNN_HD inline void edge_activation(std::int64_t hd, const T* pi_src, const T* pj_dst, T slope,
                                      T* u_e) {
  SYMGNN_SIMD
  for (std::int64_t c = 0; c < hd; ++c) u_e[c] = leaky_relu(u_e[c] + pi_src[c] + pj_dst[c], slope);
}

// Attention scores of one edge: s[k] = <u_e[k], a[k]> for each head.
template <typename T>
SYMGNN_HD inline void attention_scores(int heads, int d, const T* u_e, const T* attn, T* s) {
  for (int k = 0; k < heads; ++k) {
    T sum = 0;  // in T, so the loop vectorises; the softmax is in double
    SYMGNN_SIMD_SUM(sum)
    for (int c = 0; c < d; ++c) sum += u_e[k * d + c] * attn[k * d + c];
    s[k] = sum;
  }
}

// Head k of one destination: out_j[k d ...] = sum over its edges of alpha_e w_e m[src_e][k d ...]
// with alpha the softmax weights and w_e = weight[e] (1 when weight is null).
template <typename T>
SYMGNN_HD inline void weighted_aggregate(int heads, int k, int d, std::int64_t e0, std::int64_t e1,
                                         const std::int32_t* src, const T* m, const T* weight,
                                         const T* alpha, T* out_j) {
  const std::int64_t hd = std::int64_t{heads} * d;
  T* o = out_j + k * d;
  for (int c = 0; c < d; ++c) o[c] = T(0);
  for (std::int64_t e = e0; e < e1; ++e) {
    const T a = alpha[e * heads + k];
    const T aw = weight ? a * weight[e] : a;
    const T* ms = m + std::int64_t{src[e]} * hd + k * d;
    SYMGNN_SIMD
    for (int c = 0; c < d; ++c) o[c] += aw * ms[c];
  }
}

// Head k of one destination: the scores alpha[e heads + k] of its edges become softmax weights
// (max-shifted, in double), then their weighted sum of messages as weighted_aggregate.
template <typename T>
SYMGNN_HD inline void softmax_aggregate(int heads, int k, int d, std::int64_t e0, std::int64_t e1,
                                        const std::int32_t* src, const T* m, const T* weight,
                                        T* alpha, T* out_j) {
  double mx = -INFINITY, sum = 0;
  for (std::int64_t e = e0; e < e1; ++e) mx = fmax(mx, static_cast<double>(alpha[e * heads + k]));
  for (std::int64_t e = e0; e < e1; ++e) {
    const double x = exp(static_cast<double>(alpha[e * heads + k]) - mx);
    alpha[e * heads + k] = static_cast<T>(x);
    sum += x;
  }
  for (std::int64_t e = e0; e < e1; ++e)
    alpha[e * heads + k] = static_cast<T>(static_cast<double>(alpha[e * heads + k]) / sum);
  weighted_aggregate(heads, k, d, e0, e1, src, m, weight, alpha, out_j);
}

// <dout_j[k], m[src][k]>: how the loss changes with one edge's message of head k.
template <typename T>
SYMGNN_HD inline T message_dot(int d, const T* dout_jk, const T* m_src_k) {
  T s = 0;
  SYMGNN_SIMD_SUM(s)
  for (int c = 0; c < d; ++c) s += dout_jk[c] * m_src_k[c];
  return s;
}

// The edge weights' gradient from one destination's edges [e0, e1): dweight[e] += sum over heads
// (in order) of alpha_e <dout_j[k], m[src_e][k]>, as softmax_backward adds it.
template <typename T>
SYMGNN_HD inline void edge_weight_gradient(int heads, int d, std::int64_t e0, std::int64_t e1,
                                           const std::int32_t* src, const T* m, const T* alpha,
                                           const T* dout_j, T* dweight) {
  const std::int64_t hd = std::int64_t{heads} * d;
  for (std::int64_t e = e0; e < e1; ++e) {  // each edge's message row once, heads in order
    const T* ms = m + std::int64_t{src[e]} * hd;
    for (int k = 0; k < heads; ++k)
      dweight[e] += alpha[e * heads + k] * message_dot(d, dout_j + k * d, ms + k * d);
  }
}

// Softmax backward of head k of one destination: ds_e = alpha_e (g_e - sum alpha g), with
// g_e = w_e <dout_j[k], m[src_e][k]> (w_e = 1 when weight is null). With dweight, adds
// alpha_e <dout_j[k], m[src_e][k]> to dweight[e] (the edge weight's gradient, over heads).
template <typename T>
SYMGNN_HD inline void softmax_backward(int heads, int k, int d, std::int64_t e0, std::int64_t e1,
                                       const std::int32_t* src, const T* m, const T* weight,
                                       const T* alpha, const T* dout_j, T* ds, T* dweight) {
  const std::int64_t hd = std::int64_t{heads} * d;
  const T* dk = dout_j + k * d;
  double dot = 0;
  for (std::int64_t e = e0; e < e1; ++e) {
    T s = message_dot(d, dk, m + std::int64_t{src[e]} * hd + k * d);
    if (dweight) dweight[e] += alpha[e * heads + k] * s;
    if (weight) s *= weight[e];
    ds[e * heads + k] = s;
    dot += static_cast<double>(s) * alpha[e * heads + k];
  }
  for (std::int64_t e = e0; e < e1; ++e)
    ds[e * heads + k] =
        static_cast<T>(alpha[e * heads + k] * (static_cast<double>(ds[e * heads + k]) - dot));
}

// The gradient reaching one edge's u, in place (u_e becomes dz_e, the gradient of the
// pre-activation), from the attention (ds_e per head) and, when dy_e is not null, from the edge
// path in factored form: du = dy scale + shift + u slope_u (backend/backend.hpp, EdgePathGrad).
// Adds the edge's share of the attention vector's gradient (ds u) to d_attn unless it is null
// (the CUDA backend sums that share over edges in a reduction of its own).
template <typename T>
SYMGNN_HD inline void edge_backward(int heads, int d, T slope, const T* ds_e, const T* attn,
                                    const T* dy_e, const T* scale, const T* shift, const T* slope_u,
                                    T* u_e, T* d_attn) {
  for (int k = 0; k < heads; ++k) {
    const T dsk = ds_e[k];
    T* lk = d_attn ? d_attn + k * d : nullptr;
    const T* ak = attn + k * d;
    T* uk = u_e + k * d;
    if (dy_e) {
      const T* yk = dy_e + k * d;
      const T* sc = scale + k * d;
      const T* sh = shift + k * d;
      const T* sl = slope_u + k * d;
      SYMGNN_SIMD
      for (int c = 0; c < d; ++c) {
        if (d_attn) lk[c] += dsk * uk[c];
        const T g_u = dsk * ak[c] + yk[c] * sc[c] + sh[c] + uk[c] * sl[c];
        uk[c] = leaky_relu_grad(uk[c], slope, g_u);  // u > 0 iff z > 0
      }
    } else {
      SYMGNN_SIMD
      for (int c = 0; c < d; ++c) {
        if (d_attn) lk[c] += dsk * uk[c];
        uk[c] = leaky_relu_grad(uk[c], slope, dsk * ak[c]);
      }
    }
  }
}

// Source-side gradients of atom i from its outgoing edges (ids edges[k0..k1)): dp_i = sum of dz_e
// and dm_i = sum of w_e alpha_e dout[dst_e] per head (w_e = 1 when weight is null).
template <typename T>
SYMGNN_HD inline void source_gradients(int heads, int d, std::int64_t k0, std::int64_t k1,
                                       const std::int64_t* edges, const std::int32_t* dst,
                                       const T* dz, const T* weight, const T* alpha, const T* d_out,
                                       T* dp_i, T* dm_i) {
  const std::int64_t hd = std::int64_t{heads} * d;
  for (std::int64_t c = 0; c < hd; ++c) dp_i[c] = dm_i[c] = T(0);
  for (std::int64_t k = k0; k < k1; ++k) {
    const std::int64_t e = edges[k];
    const T* dze = dz + e * hd;
    const T* dout = d_out + std::int64_t{dst[e]} * hd;
    SYMGNN_SIMD
    for (std::int64_t c = 0; c < hd; ++c) dp_i[c] += dze[c];
    for (int h = 0; h < heads; ++h) {
      const T a = weight ? alpha[e * heads + h] * weight[e] : alpha[e * heads + h];
      SYMGNN_SIMD
      for (int c = 0; c < d; ++c) dm_i[h * d + c] += a * dout[h * d + c];
    }
  }
}

}  // namespace symgnn::kernels
