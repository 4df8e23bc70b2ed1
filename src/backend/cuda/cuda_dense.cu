// Dense operations on the GPU: cuBLAS products through the row-major mapping, and the row and
// column maps and sums of BatchNorm and the linear layers.
#include "backend/cuda/cuda_backend.cuh"
#include "backend/cuda/cuda_reduce.cuh"
#include "backend/gemm_mapping.hpp"

namespace symgnn::cuda {

namespace {

cublasOperation_t op(bool t) {
  return t ? CUBLAS_OP_T : CUBLAS_OP_N;
}

cublasStatus_t gemm_call(cublasHandle_t h, const ColumnMajorGemm& g, const float* alpha,
                         const float* first, const float* second, const float* beta, float* c) {
  return cublasSgemm_64(h, op(g.trans_first), op(g.trans_second), g.m, g.n, g.k, alpha, first,
                        g.ld_first, second, g.ld_second, beta, c, g.ldc);
}
cublasStatus_t gemm_call(cublasHandle_t h, const ColumnMajorGemm& g, const double* alpha,
                         const double* first, const double* second, const double* beta, double* c) {
  return cublasDgemm_64(h, op(g.trans_first), op(g.trans_second), g.m, g.n, g.k, alpha, first,
                        g.ld_first, second, g.ld_second, beta, c, g.ldc);
}

template <typename T>
__global__ void broadcast_rows_kernel(std::int64_t count, std::int64_t cols, const T* row, T* Y) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < count) Y[i] = row[i % cols];
}

template <typename T>
__global__ void axpy_kernel(std::int64_t count, T alpha, const T* x, T* y) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < count) y[i] += alpha * x[i];
}

template <typename T>
__global__ void add_sums_kernel(std::int64_t count, const double* src, T* y) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < count) y[i] += static_cast<T>(src[i]);
}

template <typename T>
__global__ void affine_kernel(std::int64_t count, std::int64_t cols, const T* X, const T* scale,
                              const T* shift, T* Y) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < count) Y[i] = X[i] * scale[i % cols] + shift[i % cols];
}

template <typename T>
__global__ void affine_gradient_kernel(std::int64_t count, std::int64_t cols, const T* X,
                                       const T* dY, const T* k, const T* a, const T* b, T* dX) {
  const std::int64_t i = blockIdx.x * std::int64_t{blockDim.x} + threadIdx.x;
  if (i < count) {
    const std::int64_t j = i % cols;
    dX[i] = k[j] * dY[i] - a[j] * X[i] + b[j];
  }
}

// f(i, j) for column sums: A[i, j], or A[i, j] B[i, j] for the columns after the first `cols`.
template <typename T>
struct ColumnTerms {
  const T* A;
  const T* B;
  int cols;
  __device__ double operator()(std::int64_t i, int j) const {
    if (j < cols) return static_cast<double>(A[i * cols + j]);
    const std::int64_t q = i * cols + (j - cols);
    return static_cast<double>(A[q]) * static_cast<double>(B[q]);
  }
};

}  // namespace

template <typename T>
void gemm(Context& c, bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, T alpha,
          const T* a, std::int64_t lda, const T* b, std::int64_t ldb, T beta, T* out,
          std::int64_t ldc) {
  if (m == 0 || n == 0) return;
  const ColumnMajorGemm g = column_major_gemm(ta, tb, m, n, k, lda, ldb, ldc);
  check(gemm_call(c.blas(), g, &alpha, b, a, &beta, out), "gemm");
}

template <typename T>
void broadcast_rows(Context&, std::int64_t n, std::int64_t cols, const T* row, T* Y) {
  if (n * cols == 0) return;
  broadcast_rows_kernel<<<blocks_for(n * cols), kThreads>>>(n * cols, cols, row, Y);
  check_launch("broadcast_rows");
}

template <typename T>
void axpy(Context&, std::int64_t count, T alpha, const T* x, T* y) {
  if (count == 0) return;
  axpy_kernel<<<blocks_for(count), kThreads>>>(count, alpha, x, y);
  check_launch("axpy");
}

template <typename T>
void add_from_host(Context& c, std::int64_t count, const T* host_x, T* y) {
  if (count == 0) return;
  axpy(c, count, T(1), c.upload_small(host_x, count, 0), y);
}

template <typename T>
void add_sums(std::int64_t count, const double* src, T* y) {
  if (count == 0) return;
  add_sums_kernel<<<blocks_for(count), kThreads>>>(count, src, y);
  check_launch("add_sums");
}

template <typename T>
void column_sums(Context& c, std::int64_t n, std::int64_t cols, const T* A, const T* B,
                 double* host_out, double* host_out2) {
  const int cc = static_cast<int>(cols), total = B ? 2 * cc : cc;
  double* sums = c.sums(total);
  sum_rows(c, n, total, ColumnTerms<T>{A, B, cc}, sums);
  c.download_sums(host_out, sums, cols);
  if (B) c.download_sums(host_out2, sums + cols, cols);
}

template <typename T>
void affine_columns(Context& c, std::int64_t n, std::int64_t cols, const T* X, const T* scale,
                    const T* shift, T* Y) {
  if (n * cols == 0) return;
  const T* s = c.upload_small(scale, cols, 0);
  const T* t = c.upload_small(shift, cols, sizeof(T) * static_cast<std::size_t>(cols));
  affine_kernel<<<blocks_for(n * cols), kThreads>>>(n * cols, cols, X, s, t, Y);
  check_launch("affine_columns");
}

template <typename T>
void affine_gradient(Context& c, std::int64_t n, std::int64_t cols, const T* X, const T* dY,
                     const T* k, const T* a, const T* b, T* dX) {
  if (n * cols == 0) return;
  const std::size_t w = sizeof(T) * static_cast<std::size_t>(cols);
  const T* dk = c.upload_small(k, cols, 0);
  const T* da = c.upload_small(a, cols, w);
  const T* db = c.upload_small(b, cols, 2 * w);
  affine_gradient_kernel<<<blocks_for(n * cols), kThreads>>>(n * cols, cols, X, dY, dk, da, db, dX);
  check_launch("affine_gradient");
}

#define SYMGNN_CUDA_DENSE(T)                                                                      \
  template void gemm<T>(Context&, bool, bool, std::int64_t, std::int64_t, std::int64_t, T,        \
                        const T*, std::int64_t, const T*, std::int64_t, T, T*, std::int64_t);     \
  template void broadcast_rows<T>(Context&, std::int64_t, std::int64_t, const T*, T*);            \
  template void axpy<T>(Context&, std::int64_t, T, const T*, T*);                                 \
  template void add_from_host<T>(Context&, std::int64_t, const T*, T*);                           \
  template void add_sums<T>(std::int64_t, const double*, T*);                                     \
  template void column_sums<T>(Context&, std::int64_t, std::int64_t, const T*, const T*, double*, \
                               double*);                                                          \
  template void affine_columns<T>(Context&, std::int64_t, std::int64_t, const T*, const T*,       \
                                  const T*, T*);                                                  \
  template void affine_gradient<T>(Context&, std::int64_t, std::int64_t, const T*, const T*,      \
                                   const T*, const T*, const T*, T*);
SYMGNN_CUDA_DENSE(float)
SYMGNN_CUDA_DENSE(double)
#undef SYMGNN_CUDA_DENSE

}  // namespace symgnn::cuda
