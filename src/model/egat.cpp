#include "model/egat.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "backend/kernels/elementwise.hpp"
#include "model/blas.hpp"
#include "model/ops.hpp"

namespace symgnn {

template <typename T>
void egat_forward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                  const EgatParams<T>& p, T* out, EgatCache<T>& cache) {
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = std::int64_t{heads} * d;
  Tensor<T> pi(n, hd), pj(n, hd);
  linear_forward<T>(n, d, hd, h, p.W_ni, nullptr, pi.ptr());
  linear_forward<T>(n, d, hd, h, p.W_nj, nullptr, pj.ptr());
  cache.m.resize(n, hd);
  linear_forward<T>(n, d, hd, h, p.W_node, nullptr, cache.m.ptr());
  cache.u.resize(m, hd);
  T* u = cache.u.ptr();
  linear_forward<T>(m, d, hd, f, p.W_fij, p.bias, u);
  cache.alpha.resize(m, heads);
  T* alpha = cache.alpha.ptr();
  const T slope = static_cast<T>(kEgatSlope);
  const T* mm = cache.m.ptr();
#pragma omp parallel
  {
    std::vector<double> mx(static_cast<std::size_t>(heads)), sum(static_cast<std::size_t>(heads));
#pragma omp for schedule(dynamic, 256)
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t e0 = g.offsets[static_cast<std::size_t>(j)];
      const std::int64_t e1 = g.offsets[static_cast<std::size_t>(j) + 1];
      std::fill(mx.begin(), mx.end(), -INFINITY);
      for (std::int64_t e = e0; e < e1; ++e) {
        T* ue = u + e * hd;
        const T* a = pi.row(g.src[static_cast<std::size_t>(e)]);
        const T* b = pj.row(j);
#pragma omp simd
        for (std::int64_t c = 0; c < hd; ++c)
          ue[c] = kernels::leaky_relu(ue[c] + a[c] + b[c], slope);
        for (int k = 0; k < heads; ++k) {
          T s = 0;  // in T, so the loop vectorises; the softmax below is in double
#pragma omp simd reduction(+ : s)
          for (int c = 0; c < d; ++c) s += ue[k * d + c] * p.attn[k * d + c];
          alpha[e * heads + k] = static_cast<T>(s);
          mx[static_cast<std::size_t>(k)] =
              std::max(mx[static_cast<std::size_t>(k)], static_cast<double>(s));
        }
      }
      std::fill(sum.begin(), sum.end(), 0.0);
      for (std::int64_t e = e0; e < e1; ++e)
        for (int k = 0; k < heads; ++k) {
          const double x =
              std::exp(static_cast<double>(alpha[e * heads + k]) - mx[static_cast<std::size_t>(k)]);
          alpha[e * heads + k] = static_cast<T>(x);
          sum[static_cast<std::size_t>(k)] += x;
        }
      T* o = out + j * hd;
      std::fill(o, o + hd, T(0));
      for (std::int64_t e = e0; e < e1; ++e) {
        const T* ms = mm + std::int64_t{g.src[static_cast<std::size_t>(e)]} * hd;
        for (int k = 0; k < heads; ++k) {
          const T a = static_cast<T>(alpha[e * heads + k] / sum[static_cast<std::size_t>(k)]);
          alpha[e * heads + k] = a;
#pragma omp simd
          for (int c = 0; c < d; ++c) o[k * d + c] += a * ms[k * d + c];
        }
      }
    }
  }
}

template <typename T>
void egat_backward(const GraphBatch& g, int heads, int d, const T* h, const T* f,
                   const EgatParams<T>& p, const EgatCache<T>& cache, const T* d_out, T* du, T* dh,
                   T* df, const EgatParams<T>& grad) {
  const std::int64_t n = g.num_nodes, m = g.num_edges, hd = std::int64_t{heads} * d;
  const T* u = cache.u.ptr();
  const T* alpha = cache.alpha.ptr();
  const T* mm = cache.m.ptr();
  const T slope = static_cast<T>(kEgatSlope);
  Tensor<T> ds_all(m, heads);  // softmax-backward values, for a deterministic d attn below

  // Per destination: d alpha, the softmax backward, the attention-vector gradient, and the
  // LeakyReLU backward; du becomes dz, the gradient of the pre-activation.
#pragma omp parallel
  {
    std::vector<double> dalpha, dot(static_cast<std::size_t>(heads));
#pragma omp for schedule(dynamic, 256)
    for (std::int64_t j = 0; j < n; ++j) {
      const std::int64_t e0 = g.offsets[static_cast<std::size_t>(j)];
      const std::int64_t e1 = g.offsets[static_cast<std::size_t>(j) + 1];
      const T* dout = d_out + j * hd;
      dalpha.assign(static_cast<std::size_t>((e1 - e0) * heads), 0.0);
      std::fill(dot.begin(), dot.end(), 0.0);
      for (std::int64_t e = e0; e < e1; ++e) {
        const T* ms = mm + std::int64_t{g.src[static_cast<std::size_t>(e)]} * hd;
        for (int k = 0; k < heads; ++k) {
          T s = 0;
#pragma omp simd reduction(+ : s)
          for (int c = 0; c < d; ++c) s += dout[k * d + c] * ms[k * d + c];
          dalpha[static_cast<std::size_t>((e - e0) * heads + k)] = s;
          dot[static_cast<std::size_t>(k)] += s * alpha[e * heads + k];
        }
      }
      for (std::int64_t e = e0; e < e1; ++e) {
        const T* ue = u + e * hd;
        T* due = du + e * hd;
        for (int k = 0; k < heads; ++k) {
          const double ds =
              alpha[e * heads + k] * (dalpha[static_cast<std::size_t>((e - e0) * heads + k)] -
                                      dot[static_cast<std::size_t>(k)]);
          ds_all(e, k) = static_cast<T>(ds);
#pragma omp simd
          for (int c = 0; c < d; ++c) {
            const T g_u = due[k * d + c] + static_cast<T>(ds) * p.attn[k * d + c];
            // u > 0 exactly where the pre-activation is > 0 (slope > 0).
            due[k * d + c] = kernels::leaky_relu_grad(ue[k * d + c], slope, g_u);
          }
        }
      }
    }
  }
  // d attn[k][c] = sum_e ds[e][k] u[e][k d + c]: static edge ranges per thread, partial sums
  // added in thread order, so the result is bitwise reproducible for a given thread count.
  {
    const int threads = omp_get_max_threads();
    std::vector<double> part(static_cast<std::size_t>(threads * hd), 0.0);
#pragma omp parallel num_threads(threads)
    {
      const int t = omp_get_thread_num();
      double* acc = part.data() + static_cast<std::ptrdiff_t>(t) * hd;
      const std::int64_t lo = m * t / threads, hi = m * (t + 1) / threads;
      for (std::int64_t e = lo; e < hi; ++e)
        for (int k = 0; k < heads; ++k) {
          const double ds = ds_all(e, k);
          const T* ue = u + e * hd + k * d;
          for (int c = 0; c < d; ++c) acc[k * d + c] += ds * ue[c];
        }
    }
    for (int t = 0; t < threads; ++t)
      for (std::int64_t c = 0; c < hd; ++c)
        grad.attn[c] += static_cast<T>(part[static_cast<std::size_t>(t * hd + c)]);
  }

  // dz (in du) feeds the bias, W_fij and f directly.
  linear_backward<T>(m, d, hd, f, p.W_fij, du, df, grad.W_fij, grad.bias);

  // Node-side gradients: dQ_j sums dz over incoming edges, dP_i and dM_i over outgoing edges.
  Tensor<T> dp(n, hd), dq(n, hd), dm(n, hd);
#pragma omp parallel for schedule(dynamic, 256)
  for (std::int64_t i = 0; i < n; ++i) {
    T* q = dq.row(i);
    std::fill(q, q + hd, T(0));
    for (std::int64_t e = g.offsets[static_cast<std::size_t>(i)];
         e < g.offsets[static_cast<std::size_t>(i) + 1]; ++e)
#pragma omp simd
      for (std::int64_t c = 0; c < hd; ++c) q[c] += du[e * hd + c];
    T* pr = dp.row(i);
    T* mr = dm.row(i);
    std::fill(pr, pr + hd, T(0));
    std::fill(mr, mr + hd, T(0));
    for (std::int64_t k = g.out_offsets[static_cast<std::size_t>(i)];
         k < g.out_offsets[static_cast<std::size_t>(i) + 1]; ++k) {
      const std::int64_t e = g.out_edges[static_cast<std::size_t>(k)];
      const T* dout = d_out + std::int64_t{g.dst[static_cast<std::size_t>(e)]} * hd;
#pragma omp simd
      for (std::int64_t c = 0; c < hd; ++c) pr[c] += du[e * hd + c];
      for (int hh = 0; hh < heads; ++hh) {
        const T a = alpha[e * heads + hh];
#pragma omp simd
        for (int c = 0; c < d; ++c) mr[hh * d + c] += a * dout[hh * d + c];
      }
    }
  }
  linear_backward<T>(n, d, hd, h, p.W_ni, dp.ptr(), dh, grad.W_ni, nullptr);
  Tensor<T> tmp(n, d);
  linear_backward<T>(n, d, hd, h, p.W_nj, dq.ptr(), tmp.ptr(), grad.W_nj, nullptr);
  for (std::int64_t k = 0; k < n * d; ++k) dh[k] += tmp.data[static_cast<std::size_t>(k)];
  linear_backward<T>(n, d, hd, h, p.W_node, dm.ptr(), tmp.ptr(), grad.W_node, nullptr);
  for (std::int64_t k = 0; k < n * d; ++k) dh[k] += tmp.data[static_cast<std::size_t>(k)];
}

template void egat_forward<float>(const GraphBatch&, int, int, const float*, const float*,
                                  const EgatParams<float>&, float*, EgatCache<float>&);
template void egat_forward<double>(const GraphBatch&, int, int, const double*, const double*,
                                   const EgatParams<double>&, double*, EgatCache<double>&);
template void egat_backward<float>(const GraphBatch&, int, int, const float*, const float*,
                                   const EgatParams<float>&, const EgatCache<float>&, const float*,
                                   float*, float*, float*, const EgatParams<float>&);
template void egat_backward<double>(const GraphBatch&, int, int, const double*, const double*,
                                    const EgatParams<double>&, const EgatCache<double>&,
                                    const double*, double*, double*, double*,
                                    const EgatParams<double>&);

}  // namespace symgnn
