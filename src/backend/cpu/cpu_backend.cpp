// The CPU backend's memory, dense, elementwise and graph-shaped operations (EGAT: cpu_egat.cpp).
#include "backend/cpu/cpu_backend.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <new>
#include <vector>

#include "backend/cpu/blas.hpp"
#include "backend/cpu/threads.hpp"
#include "backend/kernels/dropout.hpp"
#include "backend/kernels/elementwise.hpp"
#include "backend/kernels/optimizer.hpp"
#include "backend/kernels/rows.hpp"
#include "backend/kernels/transform.hpp"
#include "core/buffer.hpp"

namespace symgnn {

template <typename T>
void* CpuBackend<T>::allocate(std::size_t bytes) {
  return allocate_aligned(bytes);
}
template <typename T>
void CpuBackend<T>::deallocate(void* p) {
  std::free(p);
}
template <typename T>
void CpuBackend<T>::copy_in(void* device, const void* host, std::size_t bytes) {
  std::memcpy(device, host, bytes);
}
template <typename T>
void CpuBackend<T>::copy_out(void* host, const void* device, std::size_t bytes) {
  std::memcpy(host, device, bytes);
}
template <typename T>
void CpuBackend<T>::copy(void* to, const void* from, std::size_t bytes) {
  std::memcpy(to, from, bytes);
}
template <typename T>
void CpuBackend<T>::zero(void* p, std::size_t bytes) {
  std::memset(p, 0, bytes);
}

template <typename T>
void CpuBackend<T>::gemm(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                         T alpha, const T* a, std::int64_t lda, const T* b, std::int64_t ldb,
                         T beta, T* c, std::int64_t ldc) {
  blas_gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template <typename T>
void CpuBackend<T>::broadcast_rows(std::int64_t n, std::int64_t c, const T* row, T* Y) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * c))
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) Y[i * c + j] = row[j];
}

template <typename T>
void CpuBackend<T>::axpy(std::int64_t count, T alpha, const T* x, T* y) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) y[i] += alpha * x[i];
}

template <typename T>
void CpuBackend<T>::add_from_host(std::int64_t count, const T* host_x, T* y) {
  for (std::int64_t i = 0; i < count; ++i) y[i] += host_x[i];
}

template <typename T>
void CpuBackend<T>::column_sums(std::int64_t n, std::int64_t c, const T* A, const T* B, double* out,
                                double* out2) {
  // Static chunks by thread, then a sum over threads in thread order: deterministic.
  const int threads = threads_for(n * c);
  std::vector<double> part(static_cast<std::size_t>(threads * c * 2), 0.0);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    double* s = part.data() + static_cast<std::ptrdiff_t>(t) * c * 2;
    double* s2 = s + c;
    const std::int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
    for (std::int64_t i = lo; i < hi; ++i) {
      const T* a = A + i * c;
      for (std::int64_t j = 0; j < c; ++j) s[j] += static_cast<double>(a[j]);
      if (B) {
        const T* b = B + i * c;
        for (std::int64_t j = 0; j < c; ++j)
          s2[j] += static_cast<double>(a[j]) * static_cast<double>(b[j]);
      }
    }
  }
  for (std::int64_t j = 0; j < c; ++j) {
    out[j] = 0;
    if (out2) out2[j] = 0;
  }
  for (int t = 0; t < threads; ++t) {
    const double* s = part.data() + static_cast<std::ptrdiff_t>(t) * c * 2;
    for (std::int64_t j = 0; j < c; ++j) {
      out[j] += s[j];
      if (out2) out2[j] += s[c + j];
    }
  }
}

template <typename T>
void CpuBackend<T>::affine_columns(std::int64_t n, std::int64_t c, const T* X, const T* scale,
                                   const T* shift, T* Y) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * c))
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) Y[i * c + j] = X[i * c + j] * scale[j] + shift[j];
}

template <typename T>
void CpuBackend<T>::affine_gradient(std::int64_t n, std::int64_t c, const T* X, const T* dY,
                                    const T* k, const T* a, const T* b, T* dX) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * c))
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j)
      dX[i * c + j] = k[j] * dY[i * c + j] - a[j] * X[i * c + j] + b[j];
}

template <typename T>
void CpuBackend<T>::relu_forward(std::int64_t count, const T* X, T* Y) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) Y[i] = kernels::relu(X[i]);
}

template <typename T>
void CpuBackend<T>::relu_backward(std::int64_t count, const T* Y, const T* dY, T* dX) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) dX[i] = kernels::relu_grad(Y[i], dY[i]);
}

template <typename T>
void CpuBackend<T>::leaky_relu_forward(std::int64_t count, T slope, const T* X, T* Y) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) Y[i] = kernels::leaky_relu(X[i], slope);
}

template <typename T>
double CpuBackend<T>::leaky_relu_backward(std::int64_t count, T slope, const T* X, const T* dY,
                                          T* dX) {
  // The slope's gradient, sum over x <= 0 of dy x, in a fixed order through column_sums.
  Buffer<T> neg(static_cast<std::size_t>(count));
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) {
    neg[static_cast<std::size_t>(i)] = X[i] > T(0) ? T(0) : X[i];
    dX[i] = kernels::leaky_relu_grad(X[i], slope, dY[i]);
  }
  double s, s2;
  column_sums(count, 1, dY, neg.data(), &s, &s2);
  return s2;
}

template <typename T>
void CpuBackend<T>::dropout_apply(std::int64_t count, const std::uint8_t* mask, T scale, T* x) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) x[i] = kernels::dropout(mask[i], scale, x[i]);
}

// The loss and the norm are serial: a fixed summation order keeps restarts bitwise, and they run
// once per step over arrays of atoms or parameters.
template <typename T>
double CpuBackend<T>::squared_error(std::int64_t n, const T* pred, const float* label, double mean,
                                    double std, T* d_pred) {
  double sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const double r = kernels::standardized_residual(pred[i], label[i], mean, std);
    sum += r * r;
    d_pred[i] = static_cast<T>(2 * r);
  }
  return sum;
}

template <typename T>
double CpuBackend<T>::sum_squares(std::int64_t count, const T* x) {
  double sum = 0;
  for (std::int64_t i = 0; i < count; ++i) sum += static_cast<double>(x[i]) * x[i];
  return sum;
}

template <typename T>
void CpuBackend<T>::scale(std::int64_t count, T alpha, T* x) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i) x[i] *= alpha;
}

template <typename T>
void CpuBackend<T>::adam_step(std::int64_t count, const kernels::AdamStep<T>& step, T* params,
                              const T* grads, T* m, T* v, T* v_max) {
#pragma omp parallel for simd schedule(static) if (parallel_worth(count))
  for (std::int64_t i = 0; i < count; ++i)
    kernels::adam_update(step, grads[i], params[i], m[i], v[i], v_max[i]);
}

template <typename T>
void CpuBackend<T>::embedding_forward(std::int64_t n, std::int64_t c, const std::int32_t* index,
                                      const T* table, T* Y) {
#pragma omp parallel for schedule(static) if (parallel_worth(n * c))
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j) Y[i * c + j] = table[index[i] * c + j];
}

template <typename T>
void CpuBackend<T>::embedding_backward(std::int64_t n, std::int64_t c, std::int64_t rows,
                                       const std::int32_t* index, const T* dY, T* dtable) {
  // Few species: a serial pass is cheap and deterministic. The sums are in double: behind a
  // BatchNorm over two species they nearly cancel, and in float their value would depend on the
  // order of the atoms.
  std::vector<double> acc(static_cast<std::size_t>(rows * c), 0.0);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t j = 0; j < c; ++j)
      acc[static_cast<std::size_t>(index[i] * c + j)] += static_cast<double>(dY[i * c + j]);
  for (std::size_t k = 0; k < acc.size(); ++k) dtable[k] += static_cast<T>(acc[k]);
}

template <typename T>
void CpuBackend<T>::edge_inputs(std::int64_t m, const float* vec, const T* t, T* x) {
  if (t) {
#pragma omp parallel for schedule(static) if (parallel_worth(9 * m))
    for (std::int64_t e = 0; e < m; ++e) kernels::edge_input(vec + 3 * e, t, x + 3 * e);
  } else {
#pragma omp parallel for schedule(static) if (parallel_worth(9 * m))
    for (std::int64_t e = 0; e < m; ++e) x[e] = kernels::edge_length<T>(vec + 3 * e);
  }
}

template <typename T>
void CpuBackend<T>::transform_gradient(std::int64_t m, const float* vec, const T* dx, double* out) {
  for (int k = 0; k < 9; ++k) out[k] = 0;
  for (std::int64_t e = 0; e < m; ++e)
    for (int a = 0; a < 3; ++a)
      for (int b = 0; b < 3; ++b)
        out[3 * a + b] += static_cast<double>(vec[3 * e + a]) * static_cast<double>(dx[3 * e + b]);
}

template <typename T>
void CpuBackend<T>::dropout_mask(std::int64_t rows, std::int64_t d, const std::uint64_t* ids,
                                 const std::uint16_t* images, std::uint32_t lane0,
                                 const kernels::PhiloxKey& key, float p, std::uint8_t* mask) {
  cpu_dropout_mask(rows, d, ids, images, lane0, key, p, mask);
}

template <typename T>
void CpuBackend<T>::egat_forward(const GraphView& g, int heads, int d, const T* h, const T* f,
                                 const EgatParams<T>& p, const T* edge_weight, T* out,
                                 const EgatSaved<T>& saved, T* u, EdgeMoments* moments,
                                 const EdgeChunkFn<T>& on_chunk) {
  cpu_egat_forward<T>(*this, g, heads, d, h, f, p, edge_weight, out, saved, u, moments, on_chunk);
}

template <typename T>
void CpuBackend<T>::egat_edge_features(const GraphView& g, int heads, int d, const T* h, const T* f,
                                       const EgatParams<T>& p, T* u,
                                       const EdgeChunkFn<T>& on_chunk) {
  cpu_egat_edge_features<T>(*this, g, heads, d, h, f, p, u, on_chunk);
}

template <typename T>
void CpuBackend<T>::egat_backward(const GraphView& g, int heads, int d, const T* h, const T* f,
                                  const EgatParams<T>& p, const T* edge_weight,
                                  const EgatSaved<T>& saved, const T* d_out,
                                  const EdgePathGrad<T>& edge, T* u, T* dh, T* df,
                                  const EgatParams<T>& grad, T* d_edge_weight) {
  cpu_egat_backward<T>(*this, g, heads, d, h, f, p, edge_weight, saved, d_out, edge, u, dh, df,
                       grad, d_edge_weight);
}

template <typename T>
void CpuBackend<T>::gather_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows,
                                const T* x, T* out) {
#pragma omp parallel for schedule(static) if (parallel_worth(count * cols))
  for (std::int64_t k = 0; k < count; ++k)
    std::copy(x + rows[k] * cols, x + (rows[k] + 1) * cols, out + k * cols);
}

template <typename T>
void CpuBackend<T>::scatter_rows(std::int64_t count, std::int64_t cols, const std::int64_t* rows,
                                 const T* in, T* x) {
#pragma omp parallel for schedule(static) if (parallel_worth(count * cols))
  for (std::int64_t k = 0; k < count; ++k)
    std::copy(in + k * cols, in + (k + 1) * cols, x + rows[k] * cols);
}

template <typename T>
void CpuBackend<T>::add_row_groups(std::int64_t groups, std::int64_t cols, const std::int64_t* rows,
                                   const std::int64_t* first, const std::int64_t* items,
                                   const T* in, T* x) {
#pragma omp parallel for schedule(static) if (parallel_worth(groups * cols))
  for (std::int64_t j = 0; j < groups; ++j)
    for (std::int64_t c = 0; c < cols; ++c)
      kernels::add_row_group(j, c, cols, rows, first, items, in, x);
}

template <typename T>
void CpuBackend<T>::egat_aggregate(const GraphView& g, int heads, int d, const EgatSaved<T>& saved,
                                   const T* edge_weight, T* out) {
  cpu_egat_aggregate<T>(g, heads, d, saved, edge_weight, out);
}

template <typename T>
void CpuBackend<T>::egat_edge_weight_gradient(const GraphView& g, int heads, int d,
                                              const EgatSaved<T>& saved, const T* d_out,
                                              T* d_edge_weight) {
  cpu_egat_edge_weight_gradient<T>(g, heads, d, saved, d_out, d_edge_weight);
}

template class CpuBackend<float>;
template class CpuBackend<double>;

template <typename T>
std::unique_ptr<Backend<T>> make_cpu_backend() {
  return std::make_unique<CpuBackend<T>>();
}
template std::unique_ptr<Backend<float>> make_cpu_backend<float>();
template std::unique_ptr<Backend<double>> make_cpu_backend<double>();

}  // namespace symgnn
