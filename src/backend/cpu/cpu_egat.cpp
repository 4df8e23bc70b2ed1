// EGAT on the CPU: edges in chunks of destinations, each chunk's GEMM followed by its per-edge and
// per-destination work (backend/kernels/attention.hpp) while the chunk is in cache.
//
// u is the largest array of the model (E x H d: 1.6 GB for the six training glasses at H = 8). It
// lives in one caller-owned buffer for a single layer at a time and is recomputed in backward
// rather than stored per layer; its gradient overwrites it in place.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/cpu/cpu_backend.hpp"
#include "backend/cpu/threads.hpp"
#include "backend/egat_common.hpp"
#include "backend/kernels/attention.hpp"
#include "core/buffer.hpp"

namespace symgnn {

namespace {

// About this many edges per chunk: the chunk of u (8 MB at H d = 256) stays in cache between its
// GEMM and the per-edge work that follows.
constexpr std::int64_t kChunkEdges = 8192;

template <typename T>
struct NodeTerms {
  Buffer<T> pi, pj;  // h W_ni^T and h W_nj^T, N x H d
};

template <typename T>
NodeTerms<T> node_terms(Backend<T>& b, std::int64_t n, int d, std::int64_t hd, const T* h,
                        const EgatParams<T>& p) {
  NodeTerms<T> t;
  t.pi.resize(static_cast<std::size_t>(n * hd));
  t.pj.resize(static_cast<std::size_t>(n * hd));
  egat::project(b, n, d, hd, h, p.W_ni, t.pi.data());
  egat::project(b, n, d, hd, h, p.W_nj, t.pj.data());
  return t;
}

// u rows of the chunk's edges: f W_fij^T + b (one GEMM), before the node terms are added.
template <typename T>
void chunk_edge_gemm(Backend<T>& b, std::int64_t e0, std::int64_t e1, int d, std::int64_t hd,
                     const T* f, const EgatParams<T>& p, T* u_chunk) {
  b.broadcast_rows(e1 - e0, hd, p.bias, u_chunk);
  b.gemm(false, true, e1 - e0, hd, d, T(1), f + e0 * d, d, p.W_fij, d, T(1), u_chunk, hd);
}

}  // namespace

template <typename T>
void cpu_egat_forward(Backend<T>& b, const GraphView& g, int heads, int d, const T* h, const T* f,
                      const EgatParams<T>& p, const T* edge_weight, T* out,
                      const EgatSaved<T>& saved, T* u, EdgeMoments* moments,
                      const EdgeChunkFn<T>& on_chunk) {
  const std::int64_t n = g.num_nodes, hd = std::int64_t{heads} * d;
  const NodeTerms<T> nt = node_terms(b, n, d, hd, h, p);
  egat::project(b, n, d, hd, h, p.W_node, saved.m);
  T* alpha = saved.alpha;
  const T* mm = saved.m;
  const T slope = static_cast<T>(kEgatSlope);
  const int threads = threads_for(g.num_edges * hd);
  // Per-thread moments over a static split of each chunk: reproducible for a thread count.
  std::vector<double> part(moments ? static_cast<std::size_t>(2 * threads * hd) : 0, 0.0);
  Buffer<T> chunk_u;  // u of one chunk when u is not kept
  const std::vector<std::int64_t> chunks = egat::destination_chunks(g, kChunkEdges);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t j0 = chunks[ci], j1 = chunks[ci + 1];
    const std::int64_t c0 = g.host_offsets[j0];
    const std::int64_t c1 = g.host_offsets[j1];
    if (!u) chunk_u.resize(static_cast<std::size_t>((c1 - c0) * hd));
    T* uc = u ? u + c0 * hd : chunk_u.data();
    chunk_edge_gemm(b, c0, c1, d, hd, f, p, uc);
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> local(moments ? static_cast<std::size_t>(2 * hd) : 0);
      double* acc = moments ? part.data() + 2 * hd * omp_get_thread_num() : nullptr;
#pragma omp for schedule(static)
      for (std::int64_t j = j0; j < j1; ++j) {
        const std::int64_t e0 = g.offsets[j];
        const std::int64_t e1 = g.offsets[j + 1];
        std::fill(local.begin(), local.end(), T(0));
        for (std::int64_t e = e0; e < e1; ++e) {
          T* ue = uc + (e - c0) * hd;
          kernels::edge_activation(hd, nt.pi.data() + std::int64_t{g.src[e]} * hd,
                                   nt.pj.data() + j * hd, slope, ue);
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
          kernels::softmax_aggregate(heads, k, d, e0, e1, g.src, mm, edge_weight, alpha,
                                     out + j * hd);
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
void cpu_egat_edge_features(Backend<T>& b, const GraphView& g, int heads, int d, const T* h,
                            const T* f, const EgatParams<T>& p, T* u,
                            const EdgeChunkFn<T>& on_chunk) {
  const std::int64_t n = g.num_nodes, hd = std::int64_t{heads} * d;
  const NodeTerms<T> nt = node_terms(b, n, d, hd, h, p);
  const std::vector<std::int64_t> chunks = egat::destination_chunks(g, kChunkEdges);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t e0 = g.host_offsets[chunks[ci]];
    const std::int64_t e1 = g.host_offsets[chunks[ci + 1]];
    chunk_edge_gemm(b, e0, e1, d, hd, f, p, u + e0 * hd);
    const T slope = static_cast<T>(kEgatSlope);
#pragma omp parallel for schedule(static) if (parallel_worth((e1 - e0) * hd))
    for (std::int64_t e = e0; e < e1; ++e)
      kernels::edge_activation(hd, nt.pi.data() + std::int64_t{g.src[e]} * hd,
                               nt.pj.data() + std::int64_t{g.dst[e]} * hd, slope, u + e * hd);
    if (on_chunk) on_chunk(e0, e1, u + e0 * hd);
  }
}

template <typename T>
void cpu_egat_backward(Backend<T>& b, const GraphView& g, int heads, int d, const T* h, const T* f,
                       const EgatParams<T>& p, const T* edge_weight, const EgatSaved<T>& saved,
                       const T* d_out, const EdgePathGrad<T>& edge, T* u, T* dh, T* df,
                       const EgatParams<T>& grad, T* d_edge_weight) {
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = std::int64_t{heads} * d;
  const T* alpha = saved.alpha;
  const T* mm = saved.m;
  const T slope = static_cast<T>(kEgatSlope);

  // Softmax backward per destination: ds = alpha (d alpha - sum over the destination's edges of
  // alpha d alpha), with d alpha_e = <d_out[dst], m[src]> per head.
  Buffer<T> ds(static_cast<std::size_t>(m * heads));
#pragma omp parallel for schedule(static) if (parallel_worth(m * hd))
  for (std::int64_t j = 0; j < n; ++j)
    for (int k = 0; k < heads; ++k)
      kernels::softmax_backward(heads, k, d, g.offsets[j], g.offsets[j + 1], g.src, mm, edge_weight,
                                alpha, d_out + j * hd, ds.data(), d_edge_weight);

  // Per chunk of edges: the edge path's gradient (one GEMM), the attention and LeakyReLU
  // backward into u in place, then the chunk's share of the W_fij and f gradients and of dq (the
  // sum over incoming edges) while the chunk is in cache.
  const int threads = threads_for(g.num_edges * hd);
  std::vector<double> attn_part(static_cast<std::size_t>(threads * hd), 0.0);
  Buffer<T> dq(static_cast<std::size_t>(n * hd));
  Buffer<T> dy;
  const std::vector<std::int64_t> chunks = egat::destination_chunks(g, kChunkEdges);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t j0 = chunks[ci], j1 = chunks[ci + 1];
    const std::int64_t c0 = g.host_offsets[j0];
    const std::int64_t c1 = g.host_offsets[j1];
    if (edge.df) {
      dy.resize(static_cast<std::size_t>((c1 - c0) * hd));
      b.gemm(false, false, c1 - c0, hd, edge.d_out, T(1), edge.df + c0 * edge.d_out, edge.d_out,
             edge.W, hd, T(0), dy.data(), hd);
    }
#pragma omp parallel num_threads(threads)
    {
      std::vector<T> local(grad.attn ? static_cast<std::size_t>(hd) : 0);
      double* acc = attn_part.data() + hd * omp_get_thread_num();
#pragma omp for schedule(static)
      for (std::int64_t j = j0; j < j1; ++j) {
        std::fill(local.begin(), local.end(), T(0));
        T* q = dq.data() + j * hd;
        std::fill(q, q + hd, T(0));
        for (std::int64_t e = g.offsets[j]; e < g.offsets[j + 1]; ++e) {
          T* ue = u + e * hd;
          kernels::edge_backward(heads, d, slope, ds.data() + e * heads, p.attn,
                                 edge.df ? dy.data() + (e - c0) * hd : nullptr, edge.scale,
                                 edge.shift, edge.slope, ue, grad.attn ? local.data() : nullptr);
#pragma omp simd
          for (std::int64_t c = 0; c < hd; ++c) q[c] += ue[c];
        }
        for (std::int64_t c = 0; c < static_cast<std::int64_t>(local.size()); ++c)
          acc[c] += static_cast<double>(local[static_cast<std::size_t>(c)]);
      }
    }
    // dz feeds W_fij and f directly.
    if (grad.W_fij)
      b.gemm(true, false, hd, d, c1 - c0, T(1), u + c0 * hd, hd, f + c0 * d, d, T(1), grad.W_fij,
             d);
    if (df)
      b.gemm(false, false, c1 - c0, d, hd, T(1), u + c0 * hd, hd, p.W_fij, d, T(0), df + c0 * d, d);
  }
  for (int t = 0; grad.attn && t < threads; ++t)
    for (std::int64_t c = 0; c < hd; ++c)
      grad.attn[c] += static_cast<T>(attn_part[static_cast<std::size_t>(t * hd + c)]);

  // The bias sees every edge's dz: the column sums of dq.
  if (grad.bias) {
    std::vector<double> s(static_cast<std::size_t>(hd));
    b.column_sums(n, hd, dq.data(), nullptr, s.data(), nullptr);
    for (std::int64_t c = 0; c < hd; ++c)
      grad.bias[c] += static_cast<T>(s[static_cast<std::size_t>(c)]);
  }

  // Source-side gradients: dP_i sums dz over the edges leaving i, dM_i sums alpha d_out[dst].
  Buffer<T> dp(static_cast<std::size_t>(n * hd)), dm(static_cast<std::size_t>(n * hd));
#pragma omp parallel for schedule(static) if (parallel_worth(m * hd))
  for (std::int64_t i = 0; i < n; ++i)
    kernels::source_gradients(heads, d, g.out_offsets[i], g.out_offsets[i + 1], g.out_edges, g.dst,
                              u, edge_weight, alpha, d_out, dp.data() + i * hd, dm.data() + i * hd);
  egat::node_gradients(b, n, d, hd, h, dp.data(), dq.data(), dm.data(), p, grad, dh);
}

template <typename T>
void cpu_egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                        const T* edge_weight, T* out) {
  const std::int64_t hd = std::int64_t{heads} * d;
#pragma omp parallel for schedule(static) if (parallel_worth(g.num_edges * hd))
  for (std::int64_t j = 0; j < g.num_nodes; ++j)
    for (int k = 0; k < heads; ++k)
      kernels::weighted_aggregate(heads, k, d, g.offsets[j], g.offsets[j + 1], g.src, saved.m,
                                  edge_weight, saved.alpha, out + j * hd);
}

template <typename T>
void cpu_egat_edge_weight_gradient(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                                   const T* d_out, T* d_edge_weight) {
  const std::int64_t hd = std::int64_t{heads} * d;
#pragma omp parallel for schedule(static) if (parallel_worth(g.num_edges * hd))
  for (std::int64_t j = 0; j < g.num_nodes; ++j)
    kernels::edge_weight_gradient(heads, d, g.offsets[j], g.offsets[j + 1], g.src, saved.m,
                                  saved.alpha, d_out + j * hd, d_edge_weight);
}

#define SYMGNN_INSTANTIATE_EGAT(T)                                                                \
  template void cpu_egat_forward<T>(Backend<T>&, const GraphView&, int, int, const T*, const T*,  \
                                    const EgatParams<T>&, const T*, T*, const EgatSaved<T>&, T*,  \
                                    EdgeMoments*, const EdgeChunkFn<T>&);                         \
  template void cpu_egat_edge_features<T>(Backend<T>&, const GraphView&, int, int, const T*,      \
                                          const T*, const EgatParams<T>&, T*,                     \
                                          const EdgeChunkFn<T>&);                                 \
  template void cpu_egat_backward<T>(Backend<T>&, const GraphView&, int, int, const T*, const T*, \
                                     const EgatParams<T>&, const T*, const EgatSaved<T>&,         \
                                     const T*, const EdgePathGrad<T>&, T*, T*, T*,                \
                                     const EgatParams<T>&, T*);                                   \
  template void cpu_egat_aggregate<T>(const GraphView&, int, int, const EgatSaved<T>&, const T*,  \
                                      T*);                                                        \
  template void cpu_egat_edge_weight_gradient<T>(const GraphView&, int, int, const EgatSaved<T>&, \
                                                 const T*, T*);
SYMGNN_INSTANTIATE_EGAT(float)
SYMGNN_INSTANTIATE_EGAT(double)
#undef SYMGNN_INSTANTIATE_EGAT

}  // namespace symgnn
