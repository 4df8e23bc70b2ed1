// EGAT on the GPU: cuBLAS for the node and edge projections, and kernels over the arithmetic of
// backend/kernels/attention.hpp: a thread per edge for the activation and scores, a thread per
// (destination, head) for the softmax and aggregation over the destination's incoming edges
// (contiguous in the CSR order), a thread per destination or source atom for the sums of the
// backward pass. Every sum has a fixed order; nothing is added atomically.
#include "backend/array.hpp"
#include "backend/cuda/cuda_backend.cuh"
#include "backend/cuda/cuda_reduce.cuh"
#include "backend/egat_common.hpp"
#include "backend/kernels/attention.hpp"

namespace symgnn::cuda {

namespace {

// Evaluation computes u in chunks of destinations of about this many incoming edges (a chunk of
// u at H d = 256 is 1 GiB): a million-atom glass needs no E x H d array.
constexpr std::int64_t kChunkEdges = 1 << 20;

__device__ inline std::int64_t thread_index() {
  return blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
}

// u rows of edges [c0, c1) (u_chunk holds f W_fij^T + b): the activation, and the scores.
template <typename T>
__global__ void activation_kernel(std::int64_t c0, std::int64_t c1, int heads, int d,
                                  const std::int32_t* src, const std::int32_t* dst, const T* pi,
                                  const T* pj, const T* attn, T* u_chunk, T* alpha) {
  const std::int64_t e = c0 + thread_index();
  if (e >= c1) return;
  const std::int64_t hd = std::int64_t{heads} * d;
  T* ue = u_chunk + (e - c0) * hd;
  kernels::edge_activation(hd, pi + std::int64_t{src[e]} * hd, pj + std::int64_t{dst[e]} * hd,
                           static_cast<T>(kEgatSlope), ue);
  if (alpha) kernels::attention_scores(heads, d, ue, attn, alpha + e * heads);
}

template <typename T>
__global__ void softmax_aggregate_kernel(std::int64_t j0, std::int64_t j1, int heads, int d,
                                         const std::int64_t* offsets, const std::int32_t* src,
                                         const T* m, const T* weight, T* alpha, T* out) {
  const std::int64_t t = thread_index();
  if (t >= (j1 - j0) * heads) return;
  const std::int64_t j = j0 + t / heads;
  const int k = static_cast<int>(t % heads);
  kernels::softmax_aggregate(heads, k, d, offsets[j], offsets[j + 1], src, m, weight, alpha,
                             out + j * std::int64_t{heads} * d);
}

template <typename T>
__global__ void weighted_aggregate_kernel(std::int64_t n, int heads, int d,
                                          const std::int64_t* offsets, const std::int32_t* src,
                                          const T* m, const T* weight, const T* alpha, T* out) {
  const std::int64_t t = thread_index();
  if (t >= n * heads) return;
  const std::int64_t j = t / heads;
  kernels::weighted_aggregate(heads, static_cast<int>(t % heads), d, offsets[j], offsets[j + 1],
                              src, m, weight, alpha, out + j * std::int64_t{heads} * d);
}

template <typename T>
__global__ void edge_weight_gradient_kernel(std::int64_t n, int heads, int d,
                                            const std::int64_t* offsets, const std::int32_t* src,
                                            const T* m, const T* alpha, const T* d_out,
                                            T* d_weight) {
  const std::int64_t j = thread_index();
  if (j >= n) return;
  kernels::edge_weight_gradient(heads, d, offsets[j], offsets[j + 1], src, m, alpha,
                                d_out + j * std::int64_t{heads} * d, d_weight);
}

// Heads in order within one thread, so that the edge weight's gradient sums them in order.
template <typename T>
__global__ void softmax_backward_kernel(std::int64_t n, int heads, int d,
                                        const std::int64_t* offsets, const std::int32_t* src,
                                        const T* m, const T* weight, const T* alpha, const T* d_out,
                                        T* ds, T* d_weight) {
  const std::int64_t j = thread_index();
  if (j >= n) return;
  for (int k = 0; k < heads; ++k)
    kernels::softmax_backward(heads, k, d, offsets[j], offsets[j + 1], src, m, weight, alpha,
                              d_out + j * std::int64_t{heads} * d, ds, d_weight);
}

template <typename T>
__global__ void edge_backward_kernel(std::int64_t m, int heads, int d, const T* ds, const T* attn,
                                     const T* dy, const T* scale, const T* shift, const T* slope_u,
                                     T* u) {
  const std::int64_t e = thread_index();
  if (e >= m) return;
  const std::int64_t hd = std::int64_t{heads} * d;
  kernels::edge_backward(heads, d, static_cast<T>(kEgatSlope), ds + e * heads, attn,
                         dy ? dy + e * hd : nullptr, scale, shift, slope_u, u + e * hd,
                         static_cast<T*>(nullptr));
}

// dq[j][c] = sum over the edges into j of dz[e][c].
template <typename T>
__global__ void destination_sums_kernel(std::int64_t n, std::int64_t hd,
                                        const std::int64_t* offsets, const T* dz, T* dq) {
  const std::int64_t t = thread_index();
  if (t >= n * hd) return;
  const std::int64_t j = t / hd, c = t % hd;
  T s = 0;
  for (std::int64_t e = offsets[j]; e < offsets[j + 1]; ++e) s += dz[e * hd + c];
  dq[t] = s;
}

template <typename T>
__global__ void source_gradients_kernel(std::int64_t n, int heads, int d,
                                        const std::int64_t* out_offsets,
                                        const std::int64_t* out_edges, const std::int32_t* dst,
                                        const T* dz, const T* weight, const T* alpha,
                                        const T* d_out, T* dp, T* dm) {
  const std::int64_t i = thread_index();
  if (i >= n) return;
  const std::int64_t hd = std::int64_t{heads} * d;
  kernels::source_gradients(heads, d, out_offsets[i], out_offsets[i + 1], out_edges, dst, dz,
                            weight, alpha, d_out, dp + i * hd, dm + i * hd);
}

// Columns c < hd: u; columns hd + c: u^2 (the edge BatchNorm's moments).
template <typename T>
struct MomentTerms {
  const T* u;
  std::int64_t hd;
  __device__ double operator()(std::int64_t e, int q) const {
    const double x = static_cast<double>(u[e * hd + (q < hd ? q : q - hd)]);
    return q < hd ? x : x * x;
  }
};

// Column k d + c: ds[e][k] u[e][k d + c] (the attention vector's gradient).
template <typename T>
struct AttentionTerms {
  const T* ds;
  const T* u;
  int heads, d;
  __device__ double operator()(std::int64_t e, int q) const {
    return static_cast<double>(ds[e * heads + q / d]) *
           static_cast<double>(u[e * std::int64_t{heads} * d + q]);
  }
};

template <typename T>
struct Columns {
  const T* a;
  std::int64_t cols;
  __device__ double operator()(std::int64_t i, int q) const {
    return static_cast<double>(a[i * cols + q]);
  }
};

// u of edges [c0, c1) into u_chunk: f W_fij^T + b, then the activation (and scores into alpha).
template <typename T>
void edge_features(Context& c, const GraphView& g, int heads, int d, const T* f,
                   const EgatParams<T>& p, const T* pi, const T* pj, std::int64_t c0,
                   std::int64_t c1, T* u_chunk, T* alpha) {
  const std::int64_t hd = std::int64_t{heads} * d, rows = c1 - c0;
  if (rows == 0) return;
  broadcast_rows(c, rows, hd, p.bias, u_chunk);
  gemm(c, false, true, rows, hd, d, T(1), f + c0 * d, d, p.W_fij, d, T(1), u_chunk, hd);
  activation_kernel<<<blocks_for(rows), kThreads>>>(c0, c1, heads, d, g.src, g.dst, pi, pj, p.attn,
                                                    u_chunk, alpha);
  check_launch("egat activation");
}

template <typename T>
void egat_pass(Context& c, Backend<T>& be, const GraphView& g, int heads, int d, const T* h,
               const T* f, const EgatParams<T>& p, const T* edge_weight, T* out,
               const EgatSaved<T>* saved, T* u, EdgeMoments* moments,
               const EdgeChunkFn<T>& on_chunk) {
  const std::int64_t n = g.num_nodes, hd = std::int64_t{heads} * d;
  Array<T> pi(be, n, hd), pj(be, n, hd), chunk_u(be);
  egat::project(be, n, d, hd, h, p.W_ni, pi.ptr());
  egat::project(be, n, d, hd, h, p.W_nj, pj.ptr());
  if (saved) egat::project(be, n, d, hd, h, p.W_node, saved->m);
  if (moments) {
    moments->sum.assign(static_cast<std::size_t>(hd), 0.0);
    moments->sumsq.assign(static_cast<std::size_t>(hd), 0.0);
  }
  std::vector<double> chunk_moments(static_cast<std::size_t>(2 * hd));
  const std::vector<std::int64_t> chunks =
      egat::destination_chunks(g, u ? std::max<std::int64_t>(g.num_edges, 1) : kChunkEdges);
  for (std::size_t ci = 0; ci + 1 < chunks.size(); ++ci) {
    const std::int64_t j0 = chunks[ci], j1 = chunks[ci + 1];
    const std::int64_t c0 = g.host_offsets[j0], c1 = g.host_offsets[j1];
    if (!u) chunk_u.resize(c1 - c0, hd);
    T* uc = u ? u + c0 * hd : chunk_u.ptr();
    edge_features(c, g, heads, d, f, p, pi.ptr(), pj.ptr(), c0, c1, uc,
                  saved ? saved->alpha : nullptr);
    if (saved && j1 > j0) {
      softmax_aggregate_kernel<<<blocks_for((j1 - j0) * heads), kThreads>>>(
          j0, j1, heads, d, g.offsets, g.src, saved->m, edge_weight, saved->alpha, out);
      check_launch("egat softmax_aggregate");
    }
    if (moments) {
      double* sums = c.sums(2 * hd);
      sum_rows(c, c1 - c0, static_cast<int>(2 * hd), MomentTerms<T>{uc, hd}, sums);
      c.download_sums(chunk_moments.data(), sums, 2 * hd);
      for (std::int64_t q = 0; q < hd; ++q) {
        moments->sum[static_cast<std::size_t>(q)] += chunk_moments[static_cast<std::size_t>(q)];
        moments->sumsq[static_cast<std::size_t>(q)] +=
            chunk_moments[static_cast<std::size_t>(hd + q)];
      }
    }
    if (on_chunk) on_chunk(c0, c1, uc);
  }
}

}  // namespace

template <typename T>
void egat_forward(Context& c, Backend<T>& be, const GraphView& g, int heads, int d, const T* h,
                  const T* f, const EgatParams<T>& p, const T* edge_weight, T* out,
                  const EgatSaved<T>& saved, T* u, EdgeMoments* moments,
                  const EdgeChunkFn<T>& on_chunk) {
  egat_pass(c, be, g, heads, d, h, f, p, edge_weight, out, &saved, u, moments, on_chunk);
}

template <typename T>
void egat_edge_features(Context& c, Backend<T>& be, const GraphView& g, int heads, int d,
                        const T* h, const T* f, const EgatParams<T>& p, T* u,
                        const EdgeChunkFn<T>& on_chunk) {
  egat_pass<T>(c, be, g, heads, d, h, f, p, nullptr, nullptr, nullptr, u, nullptr, on_chunk);
}

template <typename T>
void egat_backward(Context& c, Backend<T>& be, const GraphView& g, int heads, int d, const T* h,
                   const T* f, const EgatParams<T>& p, const T* edge_weight,
                   const EgatSaved<T>& saved, const T* d_out, const EdgePathGrad<T>& edge, T* u,
                   T* dh, T* df, const EgatParams<T>& grad, T* d_edge_weight) {
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = std::int64_t{heads} * d;
  // Softmax backward per destination.
  Array<T> ds(be, m, heads);
  if (n > 0) {
    softmax_backward_kernel<<<blocks_for(n), kThreads>>>(n, heads, d, g.offsets, g.src, saved.m,
                                                         edge_weight, saved.alpha, d_out, ds.ptr(),
                                                         d_edge_weight);
    check_launch("egat softmax_backward");
  }
  // The attention vector's gradient, from u before it becomes dz.
  if (grad.attn) {
    double* sums = c.sums(hd);
    sum_rows(c, m, static_cast<int>(hd), AttentionTerms<T>{ds.ptr(), u, heads, d}, sums);
    add_sums(hd, sums, grad.attn);
  }
  // The edge path's gradient dy = df W (all edges at once), then dz in place of u.
  Array<T> dy(be);
  if (edge.df) {
    dy.resize(m, hd);
    gemm(c, false, false, m, hd, edge.d_out, T(1), edge.df, edge.d_out, edge.W, hd, T(0), dy.ptr(),
         hd);
  }
  if (m > 0) {
    edge_backward_kernel<<<blocks_for(m), kThreads>>>(m, heads, d, ds.ptr(), p.attn,
                                                      edge.df ? dy.ptr() : nullptr, edge.scale,
                                                      edge.shift, edge.slope, u);
    check_launch("egat edge_backward");
  }
  dy.release();
  // dz feeds W_fij and f directly, dq (per destination) W_nj and the bias.
  if (grad.W_fij) gemm(c, true, false, hd, d, m, T(1), u, hd, f, d, T(1), grad.W_fij, d);
  if (df) gemm(c, false, false, m, d, hd, T(1), u, hd, p.W_fij, d, T(0), df, d);
  Array<T> dq(be, n, hd), dp(be, n, hd), dm(be, n, hd);
  if (n > 0) {
    destination_sums_kernel<<<blocks_for(n * hd), kThreads>>>(n, hd, g.offsets, u, dq.ptr());
    check_launch("egat destination sums");
    source_gradients_kernel<<<blocks_for(n), kThreads>>>(n, heads, d, g.out_offsets, g.out_edges,
                                                         g.dst, u, edge_weight, saved.alpha, d_out,
                                                         dp.ptr(), dm.ptr());
    check_launch("egat source gradients");
  }
  if (grad.bias) {
    double* sums = c.sums(hd);
    sum_rows(c, n, static_cast<int>(hd), Columns<T>{dq.ptr(), hd}, sums);
    add_sums(hd, sums, grad.bias);
  }
  egat::node_gradients(be, n, d, hd, h, dp.ptr(), dq.ptr(), dm.ptr(), p, grad, dh);
}

template <typename T>
void egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                    const T* edge_weight, T* out) {
  const std::int64_t n = g.num_nodes;
  if (n == 0) return;
  weighted_aggregate_kernel<<<blocks_for(n * heads), kThreads>>>(
      n, heads, d, g.offsets, g.src, saved.m, edge_weight, saved.alpha, out);
  check_launch("egat weighted_aggregate");
}

template <typename T>
void egat_edge_weight_gradient(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                               const T* d_out, T* d_edge_weight) {
  const std::int64_t n = g.num_nodes;
  if (n == 0) return;
  edge_weight_gradient_kernel<<<blocks_for(n), kThreads>>>(n, heads, d, g.offsets, g.src, saved.m,
                                                           saved.alpha, d_out, d_edge_weight);
  check_launch("egat edge_weight_gradient");
}

#define SYMGNN_CUDA_EGAT(T)                                                                        \
  template void egat_forward<T>(Context&, Backend<T>&, const GraphView&, int, int, const T*,       \
                                const T*, const EgatParams<T>&, const T*, T*, const EgatSaved<T>&, \
                                T*, EdgeMoments*, const EdgeChunkFn<T>&);                          \
  template void egat_edge_features<T>(Context&, Backend<T>&, const GraphView&, int, int, const T*, \
                                      const T*, const EgatParams<T>&, T*, const EdgeChunkFn<T>&);  \
  template void egat_backward<T>(Context&, Backend<T>&, const GraphView&, int, int, const T*,      \
                                 const T*, const EgatParams<T>&, const T*, const EgatSaved<T>&,    \
                                 const T*, const EdgePathGrad<T>&, T*, T*, T*,                     \
                                 const EgatParams<T>&, T*);                                        \
  template void egat_aggregate<T>(const GraphView&, int, int, const EgatSaved<T>&, const T*, T*);  \
  template void egat_edge_weight_gradient<T>(const GraphView&, int, int, const EgatSaved<T>&,      \
                                             const T*, T*);
SYMGNN_CUDA_EGAT(float)
SYMGNN_CUDA_EGAT(double)
#undef SYMGNN_CUDA_EGAT

}  // namespace symgnn::cuda
