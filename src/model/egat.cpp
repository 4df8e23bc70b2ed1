#include "model/egat.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/kernels/attention.hpp"
#include "model/blas.hpp"
#include "model/ops.hpp"

namespace symgnn {

namespace {

// About this many edges per chunk: the chunk of u (8 MB at H d = 256) stays in cache between its
// GEMM and the per-edge work that follows.
constexpr std::int64_t kChunkEdges = 8192;

// Destination ranges [chunks[i], chunks[i + 1]) of about kChunkEdges incoming edges each.
std::vector<std::int64_t> destination_chunks(const GraphBatch& g) {
  std::vector<std::int64_t> chunks = {0};
  for (std::int64_t j = 1; j <= g.num_nodes; ++j)
    if (g.offsets[static_cast<std::size_t>(j)] -
                g.offsets[static_cast<std::size_t>(chunks.back())] >=
            kChunkEdges ||
        j == g.num_nodes)
      chunks.push_back(j);
  return chunks;
}

template <typename T>
struct NodeTerms {
  Tensor<T> pi, pj;  // h W_ni^T and h W_nj^T, N x H d
};

template <typename T>
NodeTerms<T> node_terms(std::int64_t n, int d, std::int64_t hd, const T* h,
                        const EgatParams<T>& p) {
  NodeTerms<T> t;
  t.pi.resize(n, hd);
  t.pj.resize(n, hd);
  linear_forward<T>(n, d, hd, h, p.W_ni, nullptr, t.pi.ptr());
  linear_forward<T>(n, d, hd, h, p.W_nj, nullptr, t.pj.ptr());
  return t;
}

// u rows of the chunk's edges: f W_fij^T + b (one GEMM), before the node terms are added.
template <typename T>
void chunk_edge_gemm(std::int64_t e0, std::int64_t e1, int d, std::int64_t hd, const T* f,
                     const EgatParams<T>& p, T* u_chunk) {
  linear_forward<T>(e1 - e0, d, hd, f + e0 * d, p.W_fij, p.bias, u_chunk);
}

}  // namespace

template <typename T>
void egat_forward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                  const EgatParams<T>& p, T* out, EgatCache<T>& cache, T* u, EdgeMoments* moments,
                  const EdgeChunkFn<T>& on_chunk) {
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = std::int64_t{heads} * d;
  const NodeTerms<T> nt = node_terms(n, d, hd, h, p);
  cache.m.resize(n, hd);
  linear_forward<T>(n, d, hd, h, p.W_node, nullptr, cache.m.ptr());
  cache.alpha.resize(m, heads);
  T* alpha = cache.alpha.ptr();
  const T* mm = cache.m.ptr();
  const T slope = static_cast<T>(kEgatSlope);
  const int threads = omp_get_max_threads();
  // Per-thread moments over a static split of each chunk: reproducible for a thread count.
  std::vector<double> part(moments ? static_cast<std::size_t>(2 * threads * hd) : 0, 0.0);
  Tensor<T> chunk_u;  // u of one chunk when u is not kept
  const std::vector<std::int64_t> chunks = destination_chunks(g);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t j0 = chunks[ci], j1 = chunks[ci + 1];
    const std::int64_t c0 = g.offsets[static_cast<std::size_t>(j0)];
    const std::int64_t c1 = g.offsets[static_cast<std::size_t>(j1)];
    if (!u) chunk_u.resize(c1 - c0, hd);
    T* uc = u ? u + c0 * hd : chunk_u.ptr();
    chunk_edge_gemm(c0, c1, d, hd, f, p, uc);
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> local(moments ? static_cast<std::size_t>(2 * hd) : 0);
      double* acc = moments ? part.data() + 2 * hd * omp_get_thread_num() : nullptr;
#pragma omp for schedule(static)
      for (std::int64_t j = j0; j < j1; ++j) {
        const std::int64_t e0 = g.offsets[static_cast<std::size_t>(j)];
        const std::int64_t e1 = g.offsets[static_cast<std::size_t>(j) + 1];
        std::fill(local.begin(), local.end(), T(0));
        for (std::int64_t e = e0; e < e1; ++e) {
          T* ue = uc + (e - c0) * hd;
          kernels::edge_activation(hd, nt.pi.row(g.src[static_cast<std::size_t>(e)]), nt.pj.row(j),
                                   slope, ue);
          if (moments) {
            T* ls = local.data();
#pragma omp simd
            for (std::int64_t c = 0; c < hd; ++c) {
              ls[c] += ue[c];
              ls[hd + c] += ue[c] * ue[c];
            }
          }
          kernels::attention_scores(heads, d, ue, p.attn, alpha + e * heads);
        }
        for (std::int64_t c = 0; moments && c < 2 * hd; ++c)
          acc[c] += static_cast<double>(local[static_cast<std::size_t>(c)]);
        for (int k = 0; k < heads; ++k)
          kernels::softmax_aggregate(heads, k, d, e0, e1, g.src.data(), mm, alpha, out + j * hd);
      }
    }
    if (on_chunk) on_chunk(c0, c1, uc);
  }
  if (moments) {
    moments->sum.assign(static_cast<std::size_t>(hd), 0.0);
    moments->sumsq.assign(static_cast<std::size_t>(hd), 0.0);
    for (int t = 0; t < threads; ++t)
      for (std::int64_t c = 0; c < hd; ++c) {
        moments->sum[static_cast<std::size_t>(c)] += part[static_cast<std::size_t>(2 * t * hd + c)];
        moments->sumsq[static_cast<std::size_t>(c)] +=
            part[static_cast<std::size_t>(2 * t * hd + hd + c)];
      }
  }
}

template <typename T>
void egat_edge_features(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                        const EgatParams<T>& p, T* u, const EdgeChunkFn<T>& on_chunk) {
  const std::int64_t n = g.num_nodes, hd = std::int64_t{heads} * d;
  const NodeTerms<T> nt = node_terms(n, d, hd, h, p);
  const std::vector<std::int64_t> chunks = destination_chunks(g);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t e0 = g.offsets[static_cast<std::size_t>(chunks[ci])];
    const std::int64_t e1 = g.offsets[static_cast<std::size_t>(chunks[ci + 1])];
    chunk_edge_gemm(e0, e1, d, hd, f, p, u + e0 * hd);
    const T slope = static_cast<T>(kEgatSlope);
#pragma omp parallel for schedule(static)
    for (std::int64_t e = e0; e < e1; ++e)
      kernels::edge_activation(hd, nt.pi.row(g.src[static_cast<std::size_t>(e)]),
                               nt.pj.row(g.dst[static_cast<std::size_t>(e)]), slope, u + e * hd);
    if (on_chunk) on_chunk(e0, e1, u + e0 * hd);
  }
}

template <typename T>
void egat_backward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                   const EgatParams<T>& p, const EgatCache<T>& cache, const T* d_out,
                   const EdgePathGrad<T>& edge, T* u, T* dh, T* df, const EgatParams<T>& grad) {
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = std::int64_t{heads} * d;
  const T* alpha = cache.alpha.ptr();
  const T* mm = cache.m.ptr();
  const T slope = static_cast<T>(kEgatSlope);

  // Softmax backward per destination: ds = alpha (d alpha - sum over the destination's edges of
  // alpha d alpha), with d alpha_e = <d_out[dst], m[src]> per head.
  Tensor<T> ds(m, heads);
#pragma omp parallel for schedule(static)
  for (std::int64_t j = 0; j < n; ++j)
    for (int k = 0; k < heads; ++k)
      kernels::softmax_backward(heads, k, d, g.offsets[static_cast<std::size_t>(j)],
                                g.offsets[static_cast<std::size_t>(j) + 1], g.src.data(), mm, alpha,
                                d_out + j * hd, ds.ptr());

  // Per chunk of edges: the edge path's gradient (one GEMM), the attention and LeakyReLU
  // backward into u in place, then the chunk's share of the W_fij and f gradients and of dq (the
  // sum over incoming edges) while the chunk is in cache.
  const int threads = omp_get_max_threads();
  std::vector<double> attn_part(static_cast<std::size_t>(threads * hd), 0.0);
  Tensor<T> dq(n, hd);
  Tensor<T> dy;
  const std::vector<std::int64_t> chunks = destination_chunks(g);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t j0 = chunks[ci], j1 = chunks[ci + 1];
    const std::int64_t c0 = g.offsets[static_cast<std::size_t>(j0)];
    const std::int64_t c1 = g.offsets[static_cast<std::size_t>(j1)];
    if (edge.df) {
      dy.resize(c1 - c0, hd);
      gemm<T>(false, false, c1 - c0, hd, edge.d_out, T(1), edge.df + c0 * edge.d_out, edge.d_out,
              edge.W, hd, T(0), dy.ptr(), hd);
    }
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> local(static_cast<std::size_t>(hd));
      double* acc = attn_part.data() + hd * omp_get_thread_num();
#pragma omp for schedule(static)
      for (std::int64_t j = j0; j < j1; ++j) {
        std::fill(local.begin(), local.end(), T(0));
        T* q = dq.row(j);
        std::fill(q, q + hd, T(0));
        for (std::int64_t e = g.offsets[static_cast<std::size_t>(j)];
             e < g.offsets[static_cast<std::size_t>(j) + 1]; ++e) {
          T* ue = u + e * hd;
          kernels::edge_backward(heads, d, slope, ds.row(e), p.attn,
                                 edge.df ? dy.row(e - c0) : nullptr, edge.scale, edge.shift,
                                 edge.slope, ue, local.data());
#pragma omp simd
          for (std::int64_t c = 0; c < hd; ++c) q[c] += ue[c];
        }
        for (std::int64_t c = 0; c < hd; ++c)
          acc[c] += static_cast<double>(local[static_cast<std::size_t>(c)]);
      }
    }
    // dz feeds W_fij and f directly.
    gemm<T>(true, false, hd, d, c1 - c0, T(1), u + c0 * hd, hd, f + c0 * d, d, T(1), grad.W_fij, d);
    gemm<T>(false, false, c1 - c0, d, hd, T(1), u + c0 * hd, hd, p.W_fij, d, T(0), df + c0 * d, d);
  }
  for (int t = 0; t < threads; ++t)
    for (std::int64_t c = 0; c < hd; ++c)
      grad.attn[c] += static_cast<T>(attn_part[static_cast<std::size_t>(t * hd + c)]);

  // The bias sees every edge's dz: the column sums of dq.
  {
    std::vector<double> s(static_cast<std::size_t>(hd));
    column_sums<T>(n, hd, dq.ptr(), nullptr, s.data(), nullptr);
    for (std::int64_t c = 0; c < hd; ++c)
      grad.bias[c] += static_cast<T>(s[static_cast<std::size_t>(c)]);
  }

  // Source-side gradients: dP_i sums dz over the edges leaving i, dM_i sums alpha d_out[dst].
  Tensor<T> dp(n, hd), dm(n, hd);
#pragma omp parallel for schedule(static)
  for (std::int64_t i = 0; i < n; ++i)
    kernels::source_gradients(heads, d, g.out_offsets[static_cast<std::size_t>(i)],
                              g.out_offsets[static_cast<std::size_t>(i) + 1], g.out_edges.data(),
                              g.dst.data(), u, alpha, d_out, dp.row(i), dm.row(i));
  linear_backward<T>(n, d, hd, h, p.W_ni, dp.ptr(), dh, grad.W_ni, nullptr);
  Tensor<T> tmp(n, d);
  linear_backward<T>(n, d, hd, h, p.W_nj, dq.ptr(), tmp.ptr(), grad.W_nj, nullptr);
  for (std::int64_t k = 0; k < n * d; ++k) dh[k] += tmp.data[static_cast<std::size_t>(k)];
  linear_backward<T>(n, d, hd, h, p.W_node, dm.ptr(), tmp.ptr(), grad.W_node, nullptr);
  for (std::int64_t k = 0; k < n * d; ++k) dh[k] += tmp.data[static_cast<std::size_t>(k)];
}

#define SYMGNN_INSTANTIATE_EGAT(T)                                                         \
  template void egat_forward<T>(const GraphBatch&, int, int, const T*, const T*,           \
                                const EgatParams<T>&, T*, EgatCache<T>&, T*, EdgeMoments*, \
                                const EdgeChunkFn<T>&);                                    \
  template void egat_edge_features<T>(const GraphBatch&, int, int, const T*, const T*,     \
                                      const EgatParams<T>&, T*, const EdgeChunkFn<T>&);    \
  template void egat_backward<T>(const GraphBatch&, int, int, const T*, const T*,          \
                                 const EgatParams<T>&, const EgatCache<T>&, const T*,      \
                                 const EdgePathGrad<T>&, T*, T*, T*, const EgatParams<T>&);
SYMGNN_INSTANTIATE_EGAT(float)
SYMGNN_INSTANTIATE_EGAT(double)
#undef SYMGNN_INSTANTIATE_EGAT

}  // namespace symgnn
